"""Embeddings: the vectors a trained model computes for each row, written to a file.

From a `tfmm train` run, per row: `fused`, the vector the heads read (for late fusion,
the per-modality logits the heads average), and each input's own vector (its encoder's
output; a token-level encoder's tokens mean-pooled over the mask). From a
`tfmm pretrain --objective contrastive` run: each input's vector in the shared space
(projected and L2-normalised), where a caption and its image lie close.

    tfmm embed RUN --manifest rows.csv --out vectors.parquet --keep-columns id

Example:

```python
emb = tfmm.embeddings.embed("runs/fused", "data/test.csv", keep_columns=["id"])
emb.vectors["fused"].shape      # (rows, width)
emb.save("vectors.parquet")     # or .npz
```
"""

import dataclasses
import os
from typing import Optional

import numpy as np

from tfmm.data import load_manifest, make_dataset
from tfmm.encoders.registry import encoder_name
from tfmm.predictions import kept_columns


@dataclasses.dataclass
class Embeddings:
    """Vectors per row, with the manifest's row numbers and any kept columns.

    Attributes:
        vectors: {name: float32 array [rows, width]}: "fused" and each input's name.
        rows: the manifest row number (from 1) of each vector.
        columns: {column: [value per row]} carried from the manifest (`keep_columns`).
        space: "model" (a trained run: each vector in its own encoder's space) or
            "shared" (a contrastive pretraining run: one space for every input).
    """

    vectors: dict
    rows: list
    columns: dict = dataclasses.field(default_factory=dict)
    space: str = "model"

    def __len__(self):
        return len(self.rows)

    def save(self, path):
        """Writes a `.parquet` file (`tfmm[tables]`: one list<float> column per vector,
        beside `row` and the kept columns) or a `.npz` file."""
        path = os.fspath(path)
        if path.endswith(".npz"):
            np.savez(
                path,
                row=np.asarray(self.rows),
                space=np.asarray(self.space),
                **{f"vector:{k}": v for k, v in self.vectors.items()},
                **{f"column:{k}": np.asarray(v, dtype=object) for k, v in self.columns.items()},
            )
            return path
        if not path.endswith(".parquet"):
            raise ValueError(
                f"embeddings are written as .parquet or .npz. Received: {os.path.basename(path)!r}"
            )
        from tfmm._extras import require

        pa = require("pyarrow", "writing Parquet")
        require("pyarrow.parquet", "writing Parquet")
        import pyarrow.parquet as pq

        table = {"row": pa.array(self.rows, pa.int64())}
        table.update({k: pa.array(v) for k, v in self.columns.items()})
        for k, v in self.vectors.items():
            table[k] = pa.FixedSizeListArray.from_arrays(
                pa.array(np.asarray(v, np.float32).reshape(-1)), v.shape[1]
            )
        pq.write_table(
            pa.table(table).replace_schema_metadata(
                {"tfmm.space": self.space, "tfmm.vectors": ",".join(self.vectors)}
            ),
            path,
        )
        return path

    @classmethod
    def load(cls, path):
        """Reads what `save` wrote."""
        path = os.fspath(path)
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=True) as f:
                return cls(
                    vectors={k[7:]: f[k] for k in f.files if k.startswith("vector:")},
                    rows=f["row"].tolist(),
                    columns={k[7:]: f[k].tolist() for k in f.files if k.startswith("column:")},
                    space=str(f["space"]),
                )
        from tfmm._extras import require

        require("pyarrow.parquet", "reading Parquet")
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        names = [n for n in meta.get("tfmm.vectors", "").split(",") if n]
        return cls(
            vectors={
                n: np.asarray(table.column(n).combine_chunks().flatten(), np.float32).reshape(
                    len(table), -1
                )
                for n in names
            },
            rows=table.column("row").to_pylist(),
            columns={
                c: table.column(c).to_pylist()
                for c in table.column_names
                if c not in names and c != "row"
            },
            space=meta.get("tfmm.space", "model"),
        )


def embedding_model(model, config):
    """A model with the inputs of `model` whose outputs are `fused` (what the first head
    reads) and each input's own vector (its encoder's output, mean-pooled over the mask
    for a token-level encoder)."""
    import keras

    outputs = {"fused": model.get_layer(f"head_{config.outputs[0].name}").input}
    for i in config.inputs:
        # The encoder's output where this model calls it (an encoder is a model of its own,
        # whose `.output` is its inner graph's).
        tensors = model.get_layer(encoder_name(i))._inbound_nodes[0].output_tensors
        if len(tensors) == 1:
            value = tensors[0]
        else:  # tokens and their mask: the mean of the valid tokens
            from tfmm.layers.fusion import MaskedMeanPooling

            sequence = next(t for t in tensors if len(t.shape) == 3)
            mask = next(t for t in tensors if len(t.shape) == 2)
            value = MaskedMeanPooling(name=f"embed_pool_{i.name}")(sequence, mask)
        outputs[i.name] = value
    return keras.Model(model.input, outputs, name=f"{model.name}_embeddings")


def _pretraining_run(run_dir):
    return os.path.isdir(run_dir) and os.path.exists(os.path.join(run_dir, "pretrain.json"))


def embed(run, source, keep_columns=(), batch_size: Optional[int] = None):
    """The embeddings of every row of `source` (a manifest path or a DataFrame) by the
    model of `run` (a `tfmm train` run directory, or a contrastive `tfmm pretrain` run).

    Returns:
        `Embeddings`.
    """
    from tfmm.training.inference import load_run, user_path

    source = user_path(source)
    if _pretraining_run(os.fspath(run)):
        model, config, vocabularies = _load_pretrainer(os.fspath(run))
        space = "shared"
    else:
        trained, config, vocabularies = load_run(run)
        model, space = embedding_model(trained, config), "model"
    if batch_size:
        config = dataclasses.replace(
            config, data=dataclasses.replace(config.data, batch_size=batch_size)
        )
    columns, row_numbers = load_manifest(config, source, with_labels=False, with_row_numbers=True)
    ds = make_dataset(config, columns, vocabularies, with_labels=False)
    out = model.predict(ds, verbose=0)
    return Embeddings(
        vectors={k: np.asarray(v, np.float32) for k, v in out.items()},
        rows=list(row_numbers),
        columns=kept_columns(source, keep_columns, row_numbers),
        space=space,
    )


def _load_pretrainer(run_dir):
    import keras

    import tfmm.pretraining  # noqa: F401  (registers ContrastivePretrainer)
    from tfmm.files import RunDir

    run = RunDir(run_dir)
    if not os.path.exists(run.pretrainer):
        raise FileNotFoundError(
            f"{run_dir!r} is a pretraining run without {os.path.basename(run.pretrainer)} "
            f"(only the contrastive objective writes it, since tfmm embed exists)"
        )
    model = keras.saving.load_model(run.pretrainer, safe_mode=True)
    return model, run.read_config(), run.read_vocabularies()


def retrieval_report(run, source, ks=(1, 5, 10)):
    """A contrastive pretraining run's cross-modal retrieval on `source`'s rows (row i's
    vector of one input should find row i's of another): recall@k in each direction
    between the anchor input and every other, and the same for a random ranking (k / n).
    """
    emb = embed(run, source)
    if emb.space != "shared":
        raise ValueError(
            f"retrieval is measured for a contrastive pretraining run (one shared space); "
            f"{os.fspath(run)!r} is a trained run"
        )
    names = list(emb.vectors)
    n = len(emb)
    out = {"n": n, "random": {f"recall@{k}": min(k, n) / n for k in ks}}
    from tfmm.pretraining.contrastive import retrieval_recall

    for a in names:
        for b in names:
            if a != b:
                out[f"{a}_to_{b}"] = retrieval_recall(emb.vectors[a], emb.vectors[b], ks)
    return out
