"""Manifests: CSV, JSONL or Parquet files, or a pandas DataFrame; one row per example,
one column per configured input/output.

Media columns hold file paths, relative to the manifest's folder (a DataFrame's
`base_dir`; absolute paths are kept). Rows are counted from 1, header excluded.
"""

import csv
import difflib
import json
import math
import os
from collections.abc import Mapping

from tfmm.data.errors import DataError, Problem, file_problem

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


class Manifest:
    """The columns of a manifest, as lists of str (None for a missing/empty cell).

    Args:
        path: str. The manifest file (.csv, .jsonl or .parquet), or a pandas DataFrame.
        base_dir: str. What relative media paths resolve against: the manifest's folder
            by default, the working directory for a DataFrame.

    Attributes:
        columns: mapping of column name -> list of values (str, or None when empty); a
            Parquet file's columns are read when first asked for (`ParquetColumns`).
        problems: list of `Problem`, for cells that could not be read as UTF-8 (of the
            columns read so far; `load` reads the ones a check needs).

    Example:

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "m.csv")
    >>> _ = open(p, "w").write("caption,label\\nhello,a\\n")
    >>> Manifest(p).columns["caption"]
    ['hello']
    """

    def __init__(self, path, base_dir=None):
        if _is_dataframe(path):
            self._from_dataframe(path, base_dir)
            return
        if not isinstance(path, (str, os.PathLike)):
            raise DataError(
                f"a manifest is a .csv, .jsonl or .parquet path or a pandas "
                f"DataFrame. Received: {type(path).__name__}"
            )
        path = os.fspath(path)
        if not os.path.exists(path):
            raise DataError(f"manifest not found: {path!r}")
        reason = file_problem(path, max_mb=float("inf"))
        if reason is not None:
            raise DataError(f"manifest {path!r}: {reason}")
        with open(path, "rb") as f:
            start = f.read(4)
        if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise DataError(
                f"manifest {path!r} is UTF-16 text; save it as UTF-8 (in Excel: CSV UTF-8)"
            )
        self.path = path
        self.base_dir = base_dir or os.path.dirname(os.path.abspath(path))
        self.problems = []
        if path.endswith(".parquet"):
            self.columns = self._read_parquet(path)
        elif path.endswith(".csv"):
            self.columns = self._read_csv(path)
        elif path.endswith((".jsonl", ".json")):
            self.columns = self._read_jsonl(path)
        else:
            raise DataError(
                f"manifest {path!r}: unknown format; expected one of {list(MANIFEST_SUFFIXES)}"
            )

    def _from_dataframe(self, frame, base_dir):
        self._set_cells(
            "<DataFrame>",
            os.path.abspath(base_dir or os.getcwd()),
            {str(name): frame[name].tolist() for name in frame.columns},
        )

    @classmethod
    def from_cells(cls, path, base_dir, cells):
        """A manifest of `cells` (column -> list of raw values, rows counted from 1)
        converted as a file's are; `path` names it in messages.

        Example:

        >>> m = Manifest.from_cells("part.csv", "/data", {"size": [3, None, "x"]})
        >>> m.columns["size"], m.base_dir
        (['3', None, 'x'], '/data')
        """
        m = cls.__new__(cls)
        m._set_cells(path, base_dir, cells)
        return m

    def _set_cells(self, path, base_dir, cells):
        self.path, self.base_dir, self.problems = path, base_dir, []
        self.columns = {
            name: [self._cell(v, row, name) for row, v in enumerate(values, start=1)]
            for name, values in cells.items()
        }

    def _read_parquet(self, path):
        """The Parquet file's columns, each read from the file when first asked for
        (`ParquetColumns`): a wide file costs only the columns the model reads."""
        from tfmm._extras import MissingExtra, require

        try:
            pq = require("pyarrow.parquet", "reading Parquet")
        except MissingExtra as e:
            raise DataError(f"manifest {path!r}: {e}") from None
        try:
            parquet = pq.ParquetFile(path)
        except Exception as e:  # pyarrow's own error types
            raise DataError(f"manifest {path!r}: not a readable Parquet file ({e})") from None
        return ParquetColumns(parquet, self)

    def load(self, names):
        """Reads the columns `names` that exist (a Parquet file's are read on first use),
        so that `problems` holds their unreadable cells."""
        for name in names:
            if name in self.columns:
                self.columns[name]

    def __len__(self):
        if isinstance(self.columns, ParquetColumns):
            return self.columns.rows
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def _cell(self, value, row, column):
        if value is None:
            return None
        if isinstance(value, float):
            # A number column (pandas, Parquet): NaN is an empty cell; 3.0 reads as "3.0".
            if math.isnan(value):
                return None
            return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", errors="surrogateescape")
        if not isinstance(value, str):
            if str(value) in ("NaT", "<NA>", "nan"):
                return None
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
                    raise DataError(
                        f"manifest {path!r} row {row}: {len(values)} fields, "
                        f"header has {len(header)}"
                    )
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
                raise DataError(
                    f"manifest {self.path!r}: missing {what} {name!r}.{hint} "
                    f"Columns: {list(self.columns)}"
                )

    def resolve(self, value):
        """A media path from the manifest, resolved against the manifest's folder."""
        if value is None or os.path.isabs(value):
            return value
        return os.path.join(self.base_dir, value)


class ParquetColumns(Mapping):
    """A Parquet file's columns by name, each read (and converted like a CSV cell) the
    first time it is asked for; the row count comes from the file's metadata.

    Example:

    >>> import os, tempfile
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> p = os.path.join(tempfile.mkdtemp(), "m.parquet")
    >>> pq.write_table(pa.table({"caption": ["hi", None], "blob": [b"x", b"y"]}), p)
    >>> m = Manifest(p)
    >>> len(m), list(m.columns), m.columns["caption"], m.columns.read
    (2, ['caption', 'blob'], ['hi', None], ['caption'])
    """

    def __init__(self, parquet, manifest):
        self._parquet = parquet
        self._manifest = manifest
        self._names = list(parquet.schema_arrow.names)
        self._cache = {}
        self.rows = parquet.metadata.num_rows

    @property
    def read(self):
        """The names of the columns read so far, in the order they were read."""
        return list(self._cache)

    def __getitem__(self, name):
        if name not in self._cache:
            if name not in self._names:
                raise KeyError(name)
            try:
                values = self._parquet.read(columns=[name]).column(0).to_pylist()
            except Exception as e:  # pyarrow's own error types
                raise DataError(
                    f"manifest {self._manifest.path!r} column {name!r}: not readable ({e})"
                ) from None
            cell = self._manifest._cell
            self._cache[name] = [cell(v, row, name) for row, v in enumerate(values, start=1)]
        return self._cache[name]

    def __contains__(self, name):  # Mapping's would read the column
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)


def _is_dataframe(value):
    return (
        type(value).__name__ == "DataFrame" and hasattr(value, "columns") and hasattr(value, "iloc")
    )


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


def source_kind(source):
    """'manifest', 'tfrecord' or 'tfds' for a data source string."""
    if source.startswith("tfds:"):
        return "tfds"
    if source.endswith(MANIFEST_SUFFIXES):
        return "manifest"
    return "tfrecord"
