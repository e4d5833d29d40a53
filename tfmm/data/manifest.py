"""Manifests: CSV or JSONL, one row per example, one column per configured input/output.

Media columns hold file paths, relative to the manifest's folder (absolute paths are
kept). Rows are counted from 1, header excluded.
"""

import csv
import difflib
import json
import os

from tfmm.data.errors import DataError, Problem, file_problem

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json")


class Manifest:
    """The columns of a manifest, as lists of str (None for a missing/empty cell).

    Args:
        path: str. The manifest file (.csv or .jsonl).

    Attributes:
        columns: dict of column name -> list of values (str, or None when empty).
        problems: list of `Problem`, for cells that could not be read as UTF-8.

    Example:

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "m.csv")
    >>> _ = open(p, "w").write("caption,label\\nhello,a\\n")
    >>> Manifest(p).columns["caption"]
    ['hello']
    """

    def __init__(self, path):
        if not os.path.exists(path):
            raise DataError(f"manifest not found: {path!r}")
        reason = file_problem(path, max_mb=float("inf"))
        if reason is not None:
            raise DataError(f"manifest {path!r}: {reason}")
        with open(path, "rb") as f:
            start = f.read(4)
        if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise DataError(f"manifest {path!r} is UTF-16 text; save it as UTF-8 (in Excel: "
                            f"CSV UTF-8)")
        self.path = path
        self.base_dir = os.path.dirname(os.path.abspath(path))
        self.problems = []
        if path.endswith(".csv"):
            self.columns = self._read_csv(path)
        elif path.endswith((".jsonl", ".json")):
            self.columns = self._read_jsonl(path)
        else:
            raise DataError(f"manifest {path!r}: unknown format; expected one of "
                            f"{list(MANIFEST_SUFFIXES)}")

    def __len__(self):
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def _cell(self, value, row, column):
        if value is None:
            return None
        if not isinstance(value, str):
            value = str(value)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # surrogate-escaped bytes: not UTF-8 in the file
            self.problems.append(Problem(self.path, row, column, "text is not valid UTF-8"))
            return None
        return value if value != "" else None

    def _read_csv(self, path):
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first name.
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            reader = csv.reader(f)
            try:
                header = next(reader)
            except StopIteration:
                raise DataError(f"manifest {path!r} is empty (no header row)") from None
            except csv.Error as e:
                raise DataError(f"manifest {path!r} header: {e}") from None
            columns = {h: [] for h in header}
            for row, values in enumerate(_rows(reader, path), start=1):
                if not values:
                    continue
                if len(values) != len(header):
                    raise DataError(f"manifest {path!r} row {row}: {len(values)} fields, "
                                    f"header has {len(header)}")
                for h, v in zip(header, values):
                    columns[h].append(self._cell(v, row, h))
        return columns

    def _read_jsonl(self, path):
        with open(path, encoding="utf-8-sig", errors="surrogateescape") as f:
            records = []
            for row, line in enumerate((ln for ln in f if ln.strip()), start=1):
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"manifest {path!r} row {row}: not valid JSON ({e})") from None
                if not isinstance(rec, dict):
                    raise DataError(f"manifest {path!r} row {row}: expected a JSON object")
                records.append(rec)
        names = []
        for rec in records:
            names.extend(k for k in rec if k not in names)
        columns = {k: [] for k in names}
        for row, rec in enumerate(records, start=1):
            for k in names:
                v = rec.get(k)
                if isinstance(v, list):
                    v = "|".join(str(x) for x in v)
                columns[k].append(self._cell(v, row, k))
        return columns

    def require(self, names, what="column"):
        """Raises DataError naming any missing column, with a close match if there is one."""
        for name in names:
            if name not in self.columns:
                close = difflib.get_close_matches(name, list(self.columns), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise DataError(f"manifest {self.path!r}: missing {what} {name!r}.{hint} "
                                f"Columns: {list(self.columns)}")

    def resolve(self, value):
        """A media path from the manifest, resolved against the manifest's folder."""
        if value is None or os.path.isabs(value):
            return value
        return os.path.join(self.base_dir, value)


# A text cell may be long (a document); the csv module's default cap is 128 KiB.
csv.field_size_limit(64 * 1024 * 1024)


def _rows(reader, path):
    """The reader's rows; a malformed or oversized row raises DataError naming it."""
    row = 0
    while True:
        row += 1
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(f"manifest {path!r} row {row}: {e}") from None
