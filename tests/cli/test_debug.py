"""The CLI in process: TFMM_DEBUG, and the data commands end to end."""

import pytest

from tfmm import cli
from tfmm.config import ConfigError


def test_error_is_one_line_and_tfmm_debug_raises_it(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: []\noutputs: []\ntraining: {epoks: 3}\n")
    monkeypatch.delenv("TFMM_DEBUG", raising=False)
    assert cli.main(["train", str(bad), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tfmm train: error: ")
    assert "epoks" in err[0] and "Traceback" not in err[0]
    monkeypatch.setenv("TFMM_DEBUG", "1")
    with pytest.raises(ConfigError, match="epoks"):
        cli.main(["train", str(bad), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run" / "model.keras").exists()


def test_data_demo_then_tfrecord_commands_keep_every_row(tmp_path, capsys):
    import csv

    import tensorflow as tf
    import yaml

    import tfmm
    from tfmm.data.demo import demo_config

    data = tmp_path / "demo"
    assert cli.main(["data", "demo", "--out", str(data), "--n", "24", "--seed", "0"]) == 0
    with open(data / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 0 and all((data / r["image_path"]).exists() for r in rows)
    config_path = tmp_path / "c.yaml"
    config_path.write_text(yaml.safe_dump(demo_config(str(data))))
    shards = tmp_path / "shards"
    assert (
        cli.main(
            [
                "data",
                "tfrecord",
                str(data / "train.csv"),
                "--config",
                str(config_path),
                "--out",
                str(shards),
                "--shards",
                "2",
            ]
        )
        == 0
    )
    files = sorted(str(p) for p in shards.glob("*.tfrecord"))
    assert len(files) == 2
    assert sum(1 for _ in tf.data.TFRecordDataset(files)) == len(rows)
    # Read back through the pipeline: the same labels, row for row as a multiset.
    config = tfmm.load_config(str(config_path))
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(str(data / "train.csv")))
    labels = config.outputs[0].labels
    got = [
        labels[int(k)]
        for _, y in tfmm.data.make_dataset(config, str(shards / "*.tfrecord"), vocabs, batch_size=5)
        for k in y["label"]
    ]
    assert sorted(got) == sorted(r["label"] for r in rows)


def test_data_check_with_a_config_knows_the_training_labels(train_data, tmp_path, capsys):
    # A val/test manifest is checked against the labels of data.train: a label the model
    # never saw is a problem, by row; the training split gets its rows per class.
    import csv

    from tests.helpers import write_tiny_train_config
    from tfmm.cli import main

    config = write_tiny_train_config(tmp_path, train_data, modalities=("text", "audio"))
    with open(train_data / "val.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["audio_path"] = str(train_data / r["audio_path"])
        r["image_path"] = str(train_data / r["image_path"])
    rows[1]["label"] = "sunny-warm-low"
    with open(tmp_path / "val.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert main(["data", "check", str(tmp_path / "val.csv"), "--config", config]) == 1
    out = capsys.readouterr().out
    assert "output 'label': 8 labels from the training split" in out
    assert ("val.csv' row 2 column 'label': label 'sunny-warm-low' was not seen in training") in out

    assert main(["data", "check", str(train_data / "train.csv"), "--config", config]) == 0
    out = capsys.readouterr().out
    with open(train_data / "train.csv", newline="") as f:
        labels = [r["label"] for r in csv.DictReader(f)]
    first = sorted(set(labels))[0]
    assert (
        f"output 'label': {len(set(labels))} classes in this manifest (rows per class: "
        f"{first} {labels.count(first)}, "
    ) in out
