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
    raise DataError(f"{head} (run `tfmm data check` for the full list; or set "
                    f"data.on_bad_example: skip):\n  {shown}{more}", problems)


def write_report(problems, path):
    """Writes problems to a CSV file (row, column, file, reason), creating its folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "row", "column", "file", "reason"])
        for p in problems:
            w.writerow([p.source, p.row, p.column, p.file or "", p.message])
    return path


def read_for_diagnosis(path):
    """(bytes, None) for a readable non-empty file, else (None, reason)."""
    if path is None:
        return None, "empty path"
    if not os.path.exists(path):
        return None, "file not found"
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return None, "empty file (0 bytes)"
    return data, None
