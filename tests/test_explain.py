"""`tfmm explain`: per row, each modality's share and the parts of each input that carry
the prediction, checked where the answer is known."""

import csv
import json

import numpy as np
import pytest

import tfmm
from tfmm.cli import main
from tfmm.explain import explain
from tests.helpers import TINY_FUSION, tiny_demo_dict


def _write(path, n, seed, carrier):
    """A table whose label is carried by one place only: the note's word ("text"), or the
    `size` column ("table"); everything else is noise."""
    rng = np.random.default_rng(seed)
    rows = [["note", "size", "noise", "color", "good"]]
    for _ in range(n):
        good = bool(rng.integers(2))
        filler = " ".join(rng.choice(["plain", "cloth", "item", "thing", "piece"], 3))
        if carrier == "text":
            note = f"{filler} {'superb' if good else 'awful'}"
            size = rng.uniform(0, 10)
        else:
            note = filler
            size = rng.uniform(6, 10) if good else rng.uniform(0, 4)
        rows.append(
            [
                note,
                f"{size:.3f}",
                f"{rng.normal():.3f}",
                rng.choice(["red", "blue"]),
                "yes" if good else "no",
            ]
        )
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def _config(d):
    return {
        "name": "known",
        "inputs": [
            {
                "name": "note",
                "type": "text",
                "encoder": {"type": "tfidf", "units": 8, "dropout": 0.0},
            },
            {
                "name": "facts",
                "type": "tabular",
                "numeric": ["size", "noise"],
                "categorical": ["color"],
                "encoder": {"type": "mlp", "dim": 4, "hidden_units": [8], "dropout": 0.0},
            },
        ],
        "fusion": TINY_FUSION,
        "outputs": [{"name": "good", "type": "binary"}],
        "data": {"train": str(d / "train.csv"), "val": str(d / "val.csv"), "batch_size": 16},
        "training": {"epochs": 30, "learning_rate": 0.01},
    }


@pytest.mark.parametrize("carrier", ["text", "table"])
def test_the_share_and_the_parts_follow_what_carries_the_label(tmp_path, carrier):
    _write(tmp_path / "train.csv", 200, 0, carrier)
    _write(tmp_path / "val.csv", 40, 1, carrier)
    _write(tmp_path / "test.csv", 12, 2, carrier)
    run = str(tmp_path / "run")
    tfmm.training.train(
        tfmm.config_from_dict(_config(tmp_path)), run, log=lambda *a: None, verbose=0
    )
    reports = explain(run, str(tmp_path / "test.csv"), [1, 2, 3, 4], str(tmp_path / "x"))
    truth = [r["good"] for r in csv.DictReader(open(tmp_path / "test.csv"))][:4]
    right = [r for r, t in zip(reports, truth) if r["label"] == t]
    assert len(right) >= 3, reports  # the task is easy: the model has learned it
    for r in right:
        if carrier == "text":
            assert r["shares"]["note"] > 0.8, r
            # The top n-gram holds the word (a bigram with it carries the label too).
            assert {"superb", "awful"} & set(r["tokens"]["note"][0][0].split()), r
        else:
            assert r["shares"]["facts"] > 0.8, r
            assert r["columns"]["facts"][0][0] == "size", r
        # The shares are the positive drops, normalised.
        drops = np.maximum([r["drops"]["note"], r["drops"]["facts"]], 0)
        np.testing.assert_allclose([r["shares"]["note"], r["shares"]["facts"]], drops / drops.sum())
    saved = json.load(open(tmp_path / "x" / "explanations.json"))
    assert [r["row"] for r in saved] == [1, 2, 3, 4]
    assert "## Row 1: good" in (tmp_path / "x" / "explanations.md").read_text()


def test_image_heat_map_and_audio_stretch_are_written(train_data, tmp_path, capsys):
    import yaml

    cfg = tiny_demo_dict(train_data, modalities=("text", "image", "audio"), epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    run = str(tmp_path / "run")
    assert main(["train", str(tmp_path / "c.yaml"), "--out", run]) == 0
    out = tmp_path / "x"
    manifest = str(train_data / "test.csv")
    assert main(["explain", run, "--manifest", manifest, "--rows", "2", "--out", str(out)]) == 0
    (r,) = json.load(open(out / "explanations.json"))
    png = out / r["images"]["image"]["heatmap"]
    import tensorflow as tf

    pixels = tf.io.decode_png(tf.io.read_file(str(png))).numpy()
    assert pixels.shape == (32, 32 * 2 + 4, 3)  # the image and its heat map side by side
    a = r["audio"]["audio"]
    assert 0 <= a["start_s"] < a["end_s"] <= 0.5 and len(a["drops"]) == 10
    full, without = _scores_with_and_without(run, manifest, 2, "audio")
    assert r["score"] == pytest.approx(full, abs=1e-6)
    assert r["drops"]["audio"] == pytest.approx(np.log(full) - np.log(without), abs=1e-4)
    # predict --explain: the same report for every row it predicts.
    both = tmp_path / "both"
    assert (
        main(
            [
                "predict",
                run,
                "--manifest",
                manifest,
                "--out",
                str(tmp_path / "p.csv"),
                "--explain",
                str(both),
            ]
        )
        == 0
    )
    again = json.load(open(both / "explanations.json"))
    assert [r["row"] for r in again] == list(range(1, len(again) + 1))
    assert again[1]["shares"] == pytest.approx(r["shares"])
    capsys.readouterr()
    assert main(["explain", run, "--manifest", manifest, "--rows", "999", "--out", str(out)]) == 2
    assert "row 999 is not a readable row" in capsys.readouterr().err


def _scores_with_and_without(run, manifest, row, name):
    """The predicted label's probability, and with one input's presence 0, by hand."""
    from tfmm.training.inference import load_run, optional_twin

    model, config, vocabularies = load_run(run)
    twin_config, twin = optional_twin(model, config, vocabularies)
    x = next(iter(tfmm.data.make_dataset(twin_config, manifest, vocabularies, with_labels=False)))
    x = {k: np.asarray(v)[row - 1 : row] for k, v in x.items()}
    full = twin.predict(x, verbose=0)["label"][0]
    x[f"{name}_present"] = np.zeros_like(x[f"{name}_present"])
    return float(full.max()), float(twin.predict(x, verbose=0)["label"][0][full.argmax()])
