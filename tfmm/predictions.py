"""The rows of `tfmm predict`: one per manifest row, from a model's or an export's
outputs, written as CSV or JSON Lines. Shared by `tfmm.training.predict` (a run) and
`tfmm.export.runtime` (an export)."""

import csv
import json

import numpy as np

from tfmm.data.manifest import Manifest
from tfmm.fusion import INSPECTION_OUTPUTS
from tfmm.outputs import output_type


def kept_columns(manifest_path, names, row_numbers):
    """{column: values of the rows kept} of a manifest, for `--keep-columns`; the
    error names a missing column."""
    if not names:
        return {}
    manifest = manifest_path if isinstance(manifest_path, Manifest) else Manifest(manifest_path)
    manifest.require(list(names), what="column to keep")
    return {
        c: [
            "" if manifest.columns[c][r - 1] is None else manifest.columns[c][r - 1]
            for r in row_numbers
        ]
        for c in names
    }


def prediction_rows(config, preds, out_csv=None, row_numbers=None, kept=None):
    """Rows of `tfmm predict` from {output name: probabilities or values}: the manifest
    row number, any `kept` input columns, the label string(s) and each label's
    probability per row, and the fusion's per-modality inspection outputs when `preds`
    has them (`fusion_gate_{input}`);
    written to `out_csv` if given."""
    rows = []
    n = len(next(iter(preds.values())))
    kept = kept or {}
    for k in range(n):
        row = {"row": row_numbers[k] if row_numbers else k + 1}
        row.update({c: values[k] for c, values in kept.items()})
        for o in config.outputs:
            row.update(output_type(o).prediction_row(o, np.asarray(preds[o.name])[k]))
        for name in INSPECTION_OUTPUTS:
            if name in preds:
                row.update(
                    {
                        f"{name}_{i.name}": float(v)
                        for i, v in zip(config.inputs, np.asarray(preds[name])[k])
                    }
                )
        rows.append(row)
    if out_csv:
        with open(out_csv, "w", newline="") as f:
            write_predictions(rows, f, "csv")
    return rows


def write_predictions(rows, stream, fmt="csv"):
    """Writes prediction rows to a text stream as CSV (a header, then a line per row) or
    JSON Lines (an object per line)."""
    if fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps(row) + "\n")
        return
    if not rows:
        return
    w = csv.DictWriter(stream, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
