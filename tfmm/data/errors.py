"""Bad-input reporting: one `Problem` per bad cell, `DataError` when the policy is fail."""

import csv
import dataclasses
import os
from typing import Optional


class DataError(ValueError):
    """Bad input. The message names the manifest, row, column and file."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


@dataclasses.dataclass
class Problem:
    """One bad cell of a manifest. `row` counts data rows from 1 (header excluded)."""

    source: str
    row: int
    column: str
    message: str
    file: Optional[str] = None

    def __str__(self):
        where = f"{self.source!r} row {self.row} column {self.column!r}"
        if self.file is not None:
            where += f" file {self.file!r}"
        return f"{where}: {self.message}"


def raise_for(problems, limit=10):
    """Raises one DataError listing (up to `limit` of) `problems`; returns if none."""
    if not problems:
        return
    shown = "\n  ".join(str(p) for p in problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    head = problems[0] if len(problems) == 1 else f"{len(problems)} bad examples"
    if len(problems) == 1:
        raise DataError(str(head), problems)
    raise DataError(
        f"{head} (run `tfmm data check` for the full list; or set "
        f"data.on_bad_example: skip):\n  {shown}{more}",
        problems,
    )


def write_report(problems, path):
    """Writes problems to a CSV file (row, column, file, reason), creating its folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "row", "column", "file", "reason"])
        for p in problems:
            w.writerow([p.source, p.row, p.column, p.file or "", p.message])
    return path


MAX_FILE_MB = 256.0


def file_problem(path, max_mb=MAX_FILE_MB):
    """Why `path` cannot be read as a media file, from `os.stat` alone (nothing is
    opened, so a FIFO cannot hang and `/dev/zero` cannot fill memory), or None.

    >>> file_problem("/dev/null")
    'not a regular file (a character device)'
    """
    import stat

    if path is None:
        return "empty path"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "file not found"
    except OSError as e:
        return f"cannot read file ({e.strerror})"
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a character device"
            if stat.S_ISCHR(st.st_mode)
            else "a block device"
            if stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a file"
        )
        return f"not a regular file ({kind})"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    if st.st_size > max_mb * 1024 * 1024:
        return (
            f"file is {st.st_size / 1024 / 1024:.0f} MB, over the {max_mb:g} MB limit "
            f"(data.max_file_mb)"
        )
    return None


def read_for_diagnosis(path, max_mb=MAX_FILE_MB):
    """(bytes, None) for a readable, regular, non-empty file within `max_mb`, else
    (None, reason)."""
    reason = file_problem(path, max_mb)
    if reason is not None:
        return None, reason
    try:
        with open(path, "rb") as f:
            data = f.read(int(max_mb * 1024 * 1024) + 1)
    except OSError as e:
        return None, f"cannot read file ({e.strerror})"
    if not data:
        return None, "empty file (0 bytes)"
    return data, None
