"""Search: the rows whose vectors lie closest to a query, exact top-k by cosine similarity.

An `Index` holds one vector column of an embeddings file (`tfmm embed`), L2-normalised;
`encode` turns a query (a text, an image or audio file, a table row) into the same
run's vector for one input, so a contrastive pretraining run finds the images for a
sentence, and any run finds the rows most like a given one. The search is exact by
default (one matrix product, numpy): fine to a few million vectors of a few hundred
dimensions. For more, `approximate=True` (`tfmm search --approximate`, `pip install
'tfmm[faiss]'`) builds FAISS's HNSW graph over the same normalised vectors (inner
product = cosine): sub-linear queries, a few of the true top-k occasionally missed.

    tfmm embed runs/pre --manifest images.csv --out images.parquet --keep-columns path
    tfmm search images.parquet --run runs/pre --in image --text "a red square" --k 5

Example:

>>> import numpy as np
>>> from tfmm.embeddings import Embeddings
>>> emb = Embeddings({"image": np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])}, [1, 2, 3])
>>> hits = Index(emb, "image").search([[0.0, 2.0]], k=2)[0]
>>> [(hit["row"], round(hit["score"], 2)) for hit in hits]
[(3, 1.0), (2, 0.8)]
"""

import dataclasses
import os

import numpy as np

from tfmm.embeddings import Embeddings


def _normalise(x):
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class Index:
    """Cosine top-k over one vector column of `Embeddings` (or of its file): exact, or
    approximate through FAISS.

    Args:
        embeddings: `Embeddings`, or the path of a file `tfmm embed` wrote.
        vector: str. Which vectors to search ("fused", or an input's name).
        approximate: bool. FAISS's HNSW graph (`faiss.IndexHNSWFlat`, inner product on
            the normalised vectors) instead of the exact matrix product; needs
            `pip install 'tfmm[faiss]'`.
        neighbors: int. HNSW's links per vector (FAISS's `M`; more: better recall,
            more memory).
        ef_search: int. HNSW's candidate list per query (more: better recall, slower);
            at least `k`.
    """

    def __init__(self, embeddings, vector, approximate=False, neighbors=32, ef_search=128):
        if not isinstance(embeddings, Embeddings):
            embeddings = Embeddings.load(embeddings)
        if vector not in embeddings.vectors:
            raise ValueError(
                f"the embeddings have no {vector!r} vectors; they have {sorted(embeddings.vectors)}"
            )
        self.embeddings, self.vector = embeddings, vector
        self.matrix = _normalise(embeddings.vectors[vector])
        self.approximate, self.ef_search = approximate, ef_search
        self._faiss = None
        if approximate:
            from tfmm._extras import require

            faiss = require("faiss", "an approximate index (tfmm search --approximate)")
            self._faiss = faiss.IndexHNSWFlat(
                self.matrix.shape[1], neighbors, faiss.METRIC_INNER_PRODUCT
            )
            self._faiss.add(np.ascontiguousarray(self.matrix))

    def __len__(self):
        return len(self.matrix)

    def search(self, queries, k=10):
        """For each query vector, its `k` nearest rows, best first: dicts with the
        manifest `row`, the cosine `score` and the kept columns."""
        q = _normalise(np.atleast_2d(np.asarray(queries, np.float32)))
        if q.shape[1] != self.matrix.shape[1]:
            raise ValueError(
                f"query vectors have width {q.shape[1]}; the index's {self.vector!r} vectors "
                f"have {self.matrix.shape[1]}"
            )
        k = min(k, len(self.matrix))
        if self._faiss is not None:
            self._faiss.hnsw.efSearch = max(self.ef_search, k)
            found, ids = self._faiss.search(np.ascontiguousarray(q), k)
            hits = [[(j, s) for j, s in zip(ids[i], found[i]) if j >= 0] for i in range(len(q))]
        else:
            scores = q @ self.matrix.T
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            hits = [[(j, scores[i, j]) for j in top[i]] for i in range(len(q))]
        columns = self.embeddings.columns
        return [
            [
                {
                    "row": self.embeddings.rows[j],
                    "score": float(score),
                    **{c: v[j] for c, v in columns.items()},
                }
                for j, score in row
            ]
            for row in hits
        ]


def encode(run, input_name, values):
    """The vectors of `run` (a `tfmm train` or contrastive `tfmm pretrain` run) for raw
    values of one input: texts, image or audio paths, or (tabular) dicts of column
    values. Embeddings of the same run and input are comparable with them."""
    import csv
    import tempfile

    import keras

    from tfmm.data import make_dataset
    from tfmm.embeddings import _load_pretrainer, _pretraining_run
    from tfmm.encoders.registry import encoder_name
    from tfmm.training.inference import load_run

    run = os.fspath(run)
    if _pretraining_run(run):
        model, config, vocabularies = _load_pretrainer(run)
        encoder = model.encoders.get(input_name)
        project = model.projections.get(input_name)
    else:
        trained, config, vocabularies = load_run(run)
        encoder, project = None, None
    names = [i.name for i in config.inputs]
    if input_name not in names:
        raise ValueError(f"the run has no input {input_name!r}; its inputs: {names}")
    spec = next(i for i in config.inputs if i.name == input_name)
    if encoder is None:
        encoder = trained.get_layer(encoder_name(spec))
    values = list(values)
    if spec.type == "tabular":
        header = list(dict.fromkeys(k for row in values for k in row))
        rows = [[row.get(k, "") for k in header] for row in values]
    else:
        header = [spec.column]
        if spec.type in ("image", "audio"):  # paths relative to the working directory
            values = [os.path.abspath(v) for v in values]
        rows = [[v] for v in values]
    only = dataclasses.replace(config, inputs=[spec])
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        manifest = os.path.join(tmp, "query.csv")
        with open(manifest, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([header, *rows])
        batches = list(make_dataset(only, manifest, vocabularies, with_labels=False))
    for x in batches:
        inner = encoder.input_names_for(input_name)
        feed = {k: x[v] for k, v in inner.items()}
        v = encoder(next(iter(feed.values())) if len(feed) == 1 else feed)
        if project is not None:
            v = project(v)
        out.append(np.asarray(keras.ops.convert_to_numpy(v), np.float32))
    return np.concatenate(out)
