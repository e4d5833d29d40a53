"""Where a pipeline's rows come from: the kind of a source string, a manifest read and
checked under the bad-input policy, TFRecord file patterns."""

import glob
import os

from tfmm.data.check import check_manifest
from tfmm.data.errors import DataError, raise_for, write_report
from tfmm.data.manifest import Manifest, source_kind  # noqa: F401 (source_kind: re-exported)
from tfmm import _log


def media_columns(config):
    from tfmm.input_types import input_type

    return [i.column for i in config.inputs if input_type(i).media]


def raw_columns(config, with_labels=True):
    cols = [c for i in config.inputs for c in i.columns]
    if with_labels:
        cols += [o.column for o in config.outputs]
    return list(dict.fromkeys(cols))


def load_manifest(
    config, source, with_labels=True, report_dir=None, log=None, with_row_numbers=False
):
    """Reads and checks a manifest under the config's bad-input policy.

    Returns a dict of column -> list of str (media paths resolved), with bad rows dropped
    under `on_bad_example: skip` (reported, and written to `report_dir/bad_examples.csv`),
    or raises `DataError` under `fail`. With `with_row_numbers`, returns (that dict, the
    manifest's 1-based numbers of the rows kept).
    """
    log = log or _log.warning
    manifest = source if isinstance(source, Manifest) else Manifest(source)
    problems = check_manifest(config, manifest, with_labels=with_labels)
    bad_rows = sorted({p.row for p in problems})
    if problems:
        if config.data.on_bad_example == "fail":
            raise_for(problems)
        report_skipped(problems, len(manifest), repr(manifest.path), report_dir, log)
    keep = [r for r in range(1, len(manifest) + 1) if r not in set(bad_rows)]
    if not keep:
        raise DataError(
            f"manifest {manifest.path!r}: no usable rows ({len(manifest)} rows, "
            f"{len(bad_rows)} with bad input)"
        )
    media = set(media_columns(config))
    columns = {}
    for col in raw_columns(config, with_labels):
        values = [manifest.columns[col][r - 1] for r in keep]
        if col in media:
            values = [manifest.resolve(v) for v in values]
        columns[col] = ["" if v is None else v for v in values]
    return (columns, keep) if with_row_numbers else columns


def report_skipped(problems, rows, what, report_dir, log):
    """Under `on_bad_example: skip`: writes `problems` to `report_dir/bad_examples_STEM.csv`
    (when given) and logs how many of `rows` rows of `what` (the manifest, as named in the
    log) were skipped, with the first five problems."""
    report = None
    if report_dir is not None:
        name = os.path.splitext(os.path.basename(problems[0].source))[0]
        report = write_report(problems, os.path.join(report_dir, f"bad_examples_{name}.csv"))
    log(
        f"tfmm: skipped {len({p.row for p in problems})} of {rows} rows of {what} "
        f"with bad input" + (f"; reasons in {report}" if report else "")
    )
    for p in problems[:5]:
        log(f"  {p}")
    if len(problems) > 5:
        log(f"  ... and {len(problems) - 5} more")


def expand_files(pattern):
    files = sorted(glob.glob(pattern))
    if not files:
        raise DataError(f"no TFRecord files match {pattern!r}")
    return files
