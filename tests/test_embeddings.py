"""`tfmm embed`: per row, the vector the heads read and each input's own vector."""

import numpy as np
import pytest

import tfmm
from tfmm.cli import main
from tfmm.embeddings import Embeddings, embed
from tests.helpers import write_tiny_train_config


@pytest.fixture(scope="module")
def trained_run(train_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    config = tfmm.load_config(write_tiny_train_config(root, train_data, epochs=1))
    run = str(root / "run")
    tfmm.training.train(config, run, log=lambda *a: None, verbose=0)
    return run


def test_fused_is_what_the_head_reads_and_each_input_its_encoders_output(trained_run, train_data):
    manifest = str(train_data / "test.csv")
    emb = embed(trained_run, manifest, keep_columns=["label"])
    model, config, vocabularies = tfmm.training.inference.load_run(trained_run)
    assert emb.space == "model" and sorted(emb.vectors) == ["audio", "fused", "text"]
    n = len(open(manifest).read().splitlines()) - 1
    assert len(emb) == n and emb.rows == list(range(1, n + 1))
    assert emb.vectors["fused"].shape == (n, 8)  # the fusion's hidden units
    # The head's dense layer on `fused`, then softmax, is the model's prediction.
    head = model.get_layer("head_label")  # calibrated by default: logits / temperature
    w, b = head.dense.get_weights()
    z = (emb.vectors["fused"] @ w + b) / head.temperature
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    preds, _ = tfmm.training.inference.predict_arrays(
        model, config, manifest, vocabularies, with_labels=False
    )
    np.testing.assert_allclose(p, preds["label"], atol=1e-5)
    # The text vector is the text encoder's output on the pipeline's text tensor.
    x = next(iter(tfmm.data.make_dataset(config, manifest, vocabularies, with_labels=False)))
    text = np.asarray(model.get_layer("text_encoder")(x["text"]))
    np.testing.assert_allclose(emb.vectors["text"][: len(text)], text, atol=1e-5)
    labels = [line.split(",")[-1] for line in open(manifest).read().splitlines()[1:]]
    assert emb.columns["label"] == labels


@pytest.mark.parametrize("suffix", [".parquet", ".npz"])
def test_embeddings_files_read_back(trained_run, train_data, tmp_path, suffix):
    out = str(tmp_path / f"e{suffix}")
    assert (
        main(
            [
                "embed",
                trained_run,
                "--manifest",
                str(train_data / "test.csv"),
                "--out",
                out,
                "--keep-columns",
                "label",
            ]
        )
        == 0
    )
    back = Embeddings.load(out)
    again = embed(trained_run, str(train_data / "test.csv"), keep_columns=["label"])
    assert back.rows == again.rows and back.columns == again.columns
    assert back.space == "model"
    for k, v in again.vectors.items():
        np.testing.assert_allclose(back.vectors[k], v, atol=1e-6)


def test_embed_refuses_an_unknown_file_kind_and_a_missing_column(
    trained_run, train_data, tmp_path, capsys
):
    manifest = str(train_data / "test.csv")
    assert (
        main(["embed", trained_run, "--manifest", manifest, "--out", str(tmp_path / "e.csv")]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(
        "--out is a .parquet or .npz file. Received: " + repr(str(tmp_path / "e.csv"))
    )
    code = main(
        [
            "embed",
            trained_run,
            "--manifest",
            manifest,
            "--out",
            str(tmp_path / "e.npz"),
            "--keep-columns",
            "nope",
        ]
    )
    assert code == 2
    assert "nope" in capsys.readouterr().err


def test_the_index_ranks_every_row_by_cosine_and_names_what_is_wrong():
    from tfmm.search import Index

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 6)).astype("float32")
    emb = Embeddings({"image": vectors}, list(range(1, 51)), {"id": [f"r{k}" for k in range(50)]})
    q = rng.normal(size=(3, 6))
    hits = Index(emb, "image").search(q, k=5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for query, found in zip(q, hits):
        cos = unit @ (query / np.linalg.norm(query))
        want = np.argsort(-cos)[:5]
        assert [h["row"] for h in found] == list(want + 1)
        assert [h["id"] for h in found] == [f"r{k}" for k in want]
        np.testing.assert_allclose([h["score"] for h in found], cos[want], rtol=1e-5)
    with pytest.raises(ValueError, match=r"no 'text' vectors; they have \['image'\]"):
        Index(emb, "text")
    with pytest.raises(ValueError, match="query vectors have width 4; the index's 'image'"):
        Index(emb, "image").search(np.ones((1, 4)))


def test_the_approximate_index_finds_nearly_the_exact_top_k(monkeypatch):
    import sys

    from tfmm._extras import MissingExtra
    from tfmm.search import Index

    rng = np.random.default_rng(1)
    # Clustered vectors, as embeddings are: 40 centres, 3,000 rows around them.
    centres = rng.normal(size=(40, 24))
    vectors = (centres[rng.integers(40, size=3000)] + 0.5 * rng.normal(size=(3000, 24))).astype(
        "float32"
    )
    emb = Embeddings({"image": vectors}, list(range(1, 3001)))
    q = rng.normal(size=(100, 24))
    exact = Index(emb, "image").search(q, k=10)
    approx = Index(emb, "image", approximate=True).search(q, k=10)
    found = np.mean(
        [len({h["row"] for h in a} & {h["row"] for h in e}) / 10 for a, e in zip(approx, exact)]
    )
    assert found >= 0.95, found
    # Its scores are the cosines of the rows it returns, best first.
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for query, hits in zip(q[:5], approx[:5]):
        cos = unit @ (query / np.linalg.norm(query))
        rows = [h["row"] - 1 for h in hits]
        np.testing.assert_allclose([h["score"] for h in hits], cos[rows], rtol=1e-4, atol=1e-5)
        assert all(a >= b - 1e-6 for a, b in zip(cos[rows], cos[rows][1:]))
    # More rows asked for than the index holds: all of them, as the exact search does.
    small = Embeddings({"image": vectors[:4]}, [1, 2, 3, 4])
    assert len(Index(small, "image", approximate=True).search(q[:1], k=10)[0]) == 4
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(MissingExtra, match=r"needs faiss-cpu: pip install 'tfmm\[faiss\]'"):
        Index(emb, "image", approximate=True)


def test_search_like_a_row_finds_that_row_first(trained_run, train_data, tmp_path, capsys):
    import json

    out = str(tmp_path / "e.npz")
    manifest = str(train_data / "test.csv")
    assert main(["embed", trained_run, "--manifest", manifest, "--out", out]) == 0
    capsys.readouterr()
    assert main(["search", out, "--in", "fused", "--like", "2", "--k", "2"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["row"] == 2 and lines[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert len(lines) == 2
    assert main(["search", out, "--in", "fused", "--like", "2", "--k", "2", "--approximate"]) == 0
    approx = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert approx[0]["row"] == 2 and approx[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert main(["search", out, "--in", "fused", "--like", "99"]) == 2
    assert "--like 99: no such row" in capsys.readouterr().err


def test_the_savedmodel_embed_signature_agrees_with_keras(trained_run, train_data, tmp_path):
    import csv
    import os

    import tensorflow as tf

    assert (
        main(["export", trained_run, "--out", str(tmp_path / "exp"), "--format", "savedmodel"]) == 0
    )
    loaded = tf.saved_model.load(str(tmp_path / "exp" / "1"))
    rows = list(csv.DictReader(open(train_data / "test.csv")))
    raw = {
        "text": tf.constant([r["caption"] for r in rows]),
        "audio": tf.constant(
            [open(os.path.join(train_data, r["audio_path"]), "rb").read() for r in rows]
        ),
    }
    served = loaded.signatures["embed"](**raw)
    want = embed(trained_run, str(train_data / "test.csv"))
    assert sorted(served) == sorted(want.vectors)
    for k, v in want.vectors.items():
        np.testing.assert_allclose(served[k].numpy(), v, atol=1e-5)


def test_the_onnx_embed_file_agrees_with_keras_through_the_client(
    trained_run, train_data, tmp_path
):
    import csv
    import os

    from tfmm.client import OnnxClient

    assert main(["export", trained_run, "--out", str(tmp_path / "exp"), "--format", "onnx"]) == 0
    rows = list(csv.DictReader(open(train_data / "test.csv")))
    raw = {
        "text": [r["caption"] for r in rows],
        "audio": [os.path.join(train_data, r["audio_path"]) for r in rows],
    }
    got = OnnxClient(str(tmp_path / "exp" / "1" / "embed.onnx")).embed(raw)
    want = embed(trained_run, str(train_data / "test.csv"))
    assert sorted(got) == sorted(want.vectors)
    for k, v in want.vectors.items():
        np.testing.assert_allclose(got[k], v, atol=1e-4)
