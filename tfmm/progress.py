"""Progress for long work, fit for a terminal and for a log file alike.

On a terminal it redraws one bar in place; when the stream is not a terminal (a log
file, CI, a pipe) it writes a plain line at every tenth of the work and at the end, so a
log never fills with carriage returns and ANSI sequences.
"""

import sys
import time


class Progress:
    """A counter with a bar.

    Args:
        total: int. Units of work (rows, files).
        what: str. What is counted, shown before the bar ("checking rows").
        stream: file. Default `sys.stderr`.
        min_seconds: float. Nothing is shown for work that ends sooner than this.

    Example:

    >>> import io
    >>> out = io.StringIO()
    >>> p = Progress(4, "rows", stream=out, min_seconds=0)
    >>> for _ in range(4):
    ...     p.update()
    >>> p.close()
    >>> out.getvalue().splitlines()[-1]
    'rows: 4/4 (100%)'
    """

    def __init__(self, total, what, stream=None, min_seconds=1.0):
        self.total, self.what = max(int(total), 0), what
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self._start = time.monotonic()
        self._min_seconds = min_seconds
        self._last_tenth = -1
        self._shown = False

    def update(self, n=1):
        self.done += n
        if time.monotonic() - self._start < self._min_seconds:
            return
        if self.tty:
            self._draw("\r")
        else:
            tenth = (10 * self.done) // max(self.total, 1)
            if tenth > self._last_tenth and self.done < self.total:
                self._last_tenth = tenth
                self._draw("")

    def close(self):
        if not self._shown and time.monotonic() - self._start < self._min_seconds:
            return
        self._draw("\r" if self.tty else "")
        self.stream.write("\n" if self.tty else "")
        self.stream.flush()

    def _draw(self, prefix):
        pct = 100 * self.done // max(self.total, 1)
        if self.tty:
            filled = 30 * self.done // max(self.total, 1)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"{prefix}{self.what}: [{bar}] {self.done}/{self.total} ({pct}%)")
        else:
            self.stream.write(f"{self.what}: {self.done}/{self.total} ({pct}%)\n")
        self.stream.flush()
        self._shown = True
