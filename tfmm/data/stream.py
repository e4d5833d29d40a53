"""Streamed Parquet: a manifest too large to load, read one record batch at a time.

A Parquet split is streamed when `data.stream` is true, or when it is `auto` (the
default) and the file's data, uncompressed, is over `data.stream_over_mb`. Its rows are
then never held whole: every row is checked once, before the first pass, under the
bad-input policy as a loaded manifest is (rows named by their number in the file); each
pass reads the file's row groups (in a new seeded order every training epoch), a record
batch of `CHUNK_ROWS` rows at a time, only the columns the config names, and shuffles
them through a buffer of `data.shuffle_buffer` rows. What preprocessing learns
(vocabularies, bin edges, category lists) comes from up to `data.fit_rows` rows, an
equal share of each row group's first rows; the label vocabulary and class counts from
the whole label column.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfmm import _log
from tfmm.data.check import check_manifest
from tfmm.data.errors import DataError, raise_for
from tfmm.data.manifest import Manifest
from tfmm.data.sources import report_skipped

# Rows per record batch read from the file (and checked together).
CHUNK_ROWS = 4096


def uncompressed_mb(path):
    """The Parquet file's data size in MB, uncompressed, from its metadata."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    return sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)) / 2**20


def streams(config, source):
    """Whether the split `source` (a path) is read as a `ParquetStream`."""
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source).endswith(".parquet"):
        return False
    mode = config.data.stream
    if mode != "auto":
        return bool(mode)
    if not os.path.exists(source):
        return False  # Manifest's own error names it
    try:
        return uncompressed_mb(source) > config.data.stream_over_mb
    except Exception:  # not readable: Manifest's own error says why
        return False


class ParquetStream:
    """A Parquet manifest read a record batch at a time (see the module's docstring).

    Args:
        config: `tfmm.Config`.
        path: str. The `.parquet` file.
        with_labels: bool. Read (and check) the label columns too.
        report_dir: str. Where `on_bad_example: skip` writes `bad_examples_STEM.csv`.
        log: callable for the skipped-rows summary (default: a warning).

    Example:

    >>> import os, tempfile
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> import tfmm
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "train.parquet")
    >>> pq.write_table(pa.table({"note": ["warm", "thin", "soft"], "y": ["a", "b", "a"]}),
    ...                p, row_group_size=2)
    >>> config = tfmm.config_from_dict({
    ...     "inputs": [{"name": "note", "type": "text"}],
    ...     "outputs": [{"name": "y", "type": "multiclass"}],
    ...     "data": {"train": p, "stream": True}})
    >>> s = ParquetStream(config, p)
    >>> len(s), s.label_counts("y")
    (3, {'a': 2, 'b': 1})
    >>> [c["note"] for c in s.chunks([1, 0])]
    [['soft'], ['warm', 'thin']]
    """

    def __init__(self, config, path, with_labels=True, report_dir=None, log=None):
        from tfmm.data.sources import raw_columns

        self.config = config
        self.path = os.fspath(path)
        self.with_labels = with_labels
        self.report_dir = report_dir
        self.log = log or _log.warning
        # Reads the schema and metadata only; its errors name the file and the columns.
        self._manifest = Manifest(self.path)
        self._manifest.require([c for i in config.inputs for c in i.columns], what="input column")
        if with_labels:
            self._manifest.require([o.column for o in config.outputs], what="label column")
        self._parquet = self._manifest.columns._parquet
        self.columns = raw_columns(config, with_labels)
        meta = self._parquet.metadata
        self.row_groups = meta.num_row_groups
        sizes = [meta.row_group(g).num_rows for g in range(self.row_groups)]
        # The file's 1-based number of each row group's first row.
        self._first_row = list(np.cumsum([1] + sizes[:-1])) if sizes else []
        self._bad = None  # the file's bad row numbers, once checked
        self._kept = None  # row group -> rows kept

    def __len__(self):
        return self._parquet.metadata.num_rows

    def _batches(self, groups, columns, batch_size=CHUNK_ROWS):
        """(first row number, {column: list of raw cells}) per record batch of `groups`."""
        for g in groups:
            first = int(self._first_row[g])
            try:
                for batch in self._parquet.iter_batches(
                    batch_size=batch_size, row_groups=[int(g)], columns=columns
                ):
                    yield first, {n: batch.column(n).to_pylist() for n in columns}
                    first += batch.num_rows
            except DataError:
                raise
            except Exception as e:  # pyarrow's own error types
                raise DataError(
                    f"manifest {self.path!r} row group {g} (rows from {first}): not readable ({e})"
                ) from None

    def _chunk_manifest(self, cells, first):
        # Rows counted from 1 within the batch, as the checks count them; `problems`
        # moves them to the file's numbering.
        return Manifest.from_cells(self.path, self._manifest.base_dir, cells)

    def check(self):
        """Checks every row once (a pass over the file, a record batch at a time), as a
        loaded manifest is checked before training: raises `DataError` naming the file's
        row under `on_bad_example: fail`; under `skip`, the bad rows are counted, logged,
        written to `report_dir/bad_examples_STEM.csv`, and left out of every pass."""
        if self._bad is not None:
            return
        problems, kept = self.problems(stop_at_first=self.config.data.on_bad_example == "fail")
        if problems and self.config.data.on_bad_example == "fail":
            raise_for(problems)
        self._bad = {p.row for p in problems}
        self._kept = kept
        if problems:
            report_skipped(
                problems, len(self), f"{self.path!r} (streamed)", self.report_dir, self.log
            )
        if not any(kept.values()):
            raise DataError(
                f"manifest {self.path!r}: no usable rows ({len(self)} rows, "
                f"{len(self._bad)} with bad input)"
            )

    def problems(self, stop_at_first=False, progress_stream=None):
        """(every `Problem` of the file, {row group: rows without one}), in one pass, a
        record batch at a time; with `stop_at_first`, stops after the first bad batch."""
        problems, kept = [], {}
        for g in range(self.row_groups):
            kept[g] = 0
            for first, cells in self._batches([g], self.columns):
                manifest = self._chunk_manifest(cells, first)
                found = [
                    dataclasses.replace(p, row=p.row + first - 1)
                    for p in check_manifest(
                        self.config,
                        manifest,
                        with_labels=self.with_labels,
                        progress_stream=progress_stream,
                    )
                ]
                problems.extend(found)
                kept[g] += len(manifest) - len({p.row for p in found})
                if found and stop_at_first:
                    return problems, kept
        return problems, kept

    def kept(self, groups=None):
        """Rows of `groups` (default: all) that a pass yields (after `check`)."""
        self.check()
        groups = range(self.row_groups) if groups is None else groups
        return sum(self._kept[int(g)] for g in groups)

    def chunks(self, groups=None):
        """The rows of `groups` (default: all, in order), a record batch at a time:
        {column: list of str} (media paths resolved, empty cells ""), without the rows
        `check` found bad."""
        from tfmm.data.sources import media_columns

        self.check()
        groups = range(self.row_groups) if groups is None else groups
        media = set(media_columns(self.config))
        for first, cells in self._batches(groups, self.columns):
            manifest = self._chunk_manifest(cells, first)
            keep = [r for r in range(len(manifest)) if r + first not in self._bad]
            if not keep:
                continue
            out = {}
            for col in self.columns:
                values = [manifest.columns[col][r] for r in keep]
                if col in media:
                    values = [manifest.resolve(v) for v in values]
                out[col] = ["" if v is None else v for v in values]
            yield out

    def label_counts(self, column):
        """{cell: count} of a column over the whole file (read a record batch at a time)."""
        counts = {}
        for first, cells in self._batches(range(self.row_groups), [column]):
            m = self._chunk_manifest(cells, first)
            for v in m.columns[column]:
                if v is not None:
                    counts[v] = counts.get(v, 0) + 1
        return counts

    def sample(self, rows=None):
        """A `Manifest` of up to `rows` (default `data.fit_rows`) of the file's rows, that
        preprocessing is fitted on: the first rows of every row group, an equal share of
        each (a file sorted by any column is still sampled from end to end)."""
        rows = rows or self.config.data.fit_rows
        n = self.row_groups
        columns = {c: [] for c in self.columns}
        for g in range(n):
            share = rows // n + (1 if g < rows % n else 0)
            taken = 0
            for _, cells in self._batches([g], self.columns, batch_size=max(share, 1)):
                if taken >= share:
                    break
                for c in self.columns:
                    columns[c].extend(cells[c][: share - taken])
                taken += len(cells[self.columns[0]][: share - taken])
        return self._chunk_manifest(columns, 1)

    def dataset(self, training=False, repeat=False, input_context=None):
        """A `tf.data.Dataset` of raw rows ({column: string scalar}): this input
        pipeline's row groups (or every n-th row, when the file has fewer row groups than
        pipelines), in a seeded new order each training epoch, through a shuffle buffer."""
        self.check()
        groups = np.arange(self.row_groups)
        pipelines = input_context.num_input_pipelines if input_context else 1
        shard_rows = pipelines > 1 and self.row_groups < pipelines
        if pipelines > 1 and not shard_rows:
            groups = groups[input_context.input_pipeline_id :: pipelines]
        seed = self.config.data.seed

        def epoch_rows(epoch):
            order = groups
            if training:
                # default_rng takes non-negative keys only (a data.seed may be < 0).
                key = [seed % 2**63, int(epoch) % 2**63]
                order = np.random.default_rng(key).permutation(groups)
            for chunk in self.chunks(order):
                yield {k: np.array(v, dtype=object) for k, v in chunk.items()}

        signature = {c: tf.TensorSpec([None], tf.string) for c in self.columns}

        def one_epoch(epoch):
            return tf.data.Dataset.from_generator(
                epoch_rows, args=(epoch,), output_signature=signature
            )

        if repeat:
            epochs = tf.data.Dataset.counter()
        elif training:
            # A new order for each iterator (`fit` without steps_per_epoch).
            epochs = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        else:
            epochs = tf.data.Dataset.range(1)
        ds = epochs.flat_map(one_epoch).unbatch()
        if shard_rows:
            ds = ds.shard(pipelines, input_context.input_pipeline_id)
        if not repeat:
            # Checked already: the length is known, so `fit` shows "n/N" and Keras does
            # not warn that the input "ran out of data".
            if shard_rows:
                rows = len(range(input_context.input_pipeline_id, self.kept(), pipelines))
            else:
                rows = self.kept(groups)
            ds = ds.apply(tf.data.experimental.assert_cardinality(rows))
        if training:
            ds = ds.shuffle(
                self.config.data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True
            )
        return ds


def open_stream(config, source, with_labels=True, report_dir=None, log=None):
    """A `ParquetStream` of `source` when it `streams`, else None. Refuses the tf.data
    service (its workers read rows from a table the dispatcher can send, not a Python
    generator)."""
    if isinstance(source, ParquetStream):
        return source
    if not streams(config, source):
        return None
    refuse_service(config, source)
    return ParquetStream(config, source, with_labels, report_dir, log)


def refuse_service(config, source):
    """Raises `DataError` when `config` sends its training input to a tf.data service:
    a streamed Parquet file (`source`, its path) cannot be sent there."""
    if config.data.service:
        raise DataError(
            f"data.service: a streamed Parquet file ({source!r}) cannot be sent to a tf.data "
            f"service; write it as TFRecord shards (`tfmm data tfrecord`), or set "
            f"data.stream: false to load it"
        )
