"""tfmm's messages go through the `tfmm` logger (`logging.getLogger("tfmm")`): a script
or notebook shows them by configuring logging (`logging.basicConfig(level="INFO")`);
warnings (rows skipped as bad input, a NaN loss) reach stderr even unconfigured, through
Python's last-resort handler. The `tfmm` command prints them on stdout
(`to_stdout`), as plain lines.

Functions that report progress take `log=None`: a callable of one string, or None for
this logger.
"""

import contextlib
import logging
import sys

logger = logging.getLogger("tfmm")


def info(message):
    logger.info(message)


def warning(message):
    logger.warning(message)


@contextlib.contextmanager
def to_stdout():
    """For the duration of a command: tfmm's messages as plain lines on the current
    `sys.stdout` (the logger's level and handlers come back afterwards)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        handler.flush()
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
