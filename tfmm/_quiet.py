"""TensorFlow's start-up notices, filtered for the `tfmm` command.

Importing TensorFlow and listing its devices writes a few C++ log lines to stderr before
any logging setting applies (`TF_CPP_MIN_LOG_LEVEL` does not reach them): the oneDNN
notice, "Could not find cuda drivers" and, on a machine with no NVIDIA driver at all,
"failed call to cuInit". They say nothing a CPU user can act on. The command captures
file descriptor 2 while TensorFlow starts and writes back every line except those; on a
machine that has an NVIDIA device the CUDA lines are kept (there they mean a broken
driver). Library users (`import tfmm`) are left alone.
"""

import contextlib
import glob
import os
import re
import sys
import tempfile

_HARMLESS = [
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"port\.cc:\d+\] oneDNN custom operations are on",
]
_NO_GPU = [
    r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine",
    r"cuda_platform\.cc:\d+\] failed call to cuInit",
    r"cuda_executor\.cc:\d+\] .*(no NVIDIA GPU device|kernel driver does not appear)",
]


def _patterns():
    pats = list(_HARMLESS)
    if not glob.glob("/dev/nvidia[0-9]*"):
        pats += _NO_GPU
    return re.compile("|".join(pats))


def start_tensorflow():
    """Imports TensorFlow and lists its devices with the start-up notices filtered out.
    Returns the `tensorflow` module."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
    drop = _patterns()
    kept = [line for line in text.splitlines() if line.strip() and not drop.search(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
    return tf


class _CrossModelRetracing:
    """A `logging` filter for TensorFlow's "N out of the last M calls to
    <function TensorFlowTrainer.make_predict_function...one_step_on_data_distributed>
    triggered tf.function retracing" when several Keras models run in one process.

    TensorFlow counts traces per *code object* (`_get_key_for_call_stats` keys them by
    `__code__`), and every Keras model's step function shares one code object, so the
    first trace of each new model (and of its partial last batch) counts as a retrace of
    the previous model's. The demo trains four models, and the count passes TF's
    threshold on the third, though each model traces only its own two batch shapes
    (checked: three `evaluate` calls on one model print nothing). Other retracing
    warnings are kept.
    """

    def filter(self, record):
        message = record.getMessage()
        return not (
            "triggered tf.function retracing" in message
            and "<function TensorFlowTrainer." in message
        )


def drop_cross_model_retracing_warnings():
    """Installs `_CrossModelRetracing` on TensorFlow's logger (idempotent)."""
    import logging

    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _CrossModelRetracing) for f in logger.filters):
        logger.addFilter(_CrossModelRetracing())


# What image decoders write straight to stderr while `tfmm data check` decodes bad
# files on purpose: TensorFlow's own log lines from its JPEG/PNG/GIF readers, and
# libjpeg's and libpng's raw messages. The check reports each of those files by
# manifest, row, column and reason, so the raw lines only repeat it without the row.
_DECODER_NOISE = re.compile(
    r"(jpeg_mem|png_io|gif_io|decode_image_op)\.cc:\d+\]|^Input file read error|"
    r"Improper call to JPEG library|Corrupt JPEG data|Premature end of JPEG|"
    r"Not a JPEG file|^libpng (warning|error)"
)


@contextlib.contextmanager
def decoder_messages_dropped():
    """Captures file descriptor 2 in the block and writes back every line except the
    image decoders' own messages (`_DECODER_NOISE`). Yields a text stream on the real
    stderr, for progress to be shown live meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    live = os.fdopen(os.dup(saved), "w", buffering=1)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield live
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            live.close()
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = [
                line
                for line in text.splitlines()
                if line.strip() and not _DECODER_NOISE.search(line)
            ]
            if kept:
                print("\n".join(kept), file=sys.stderr)
