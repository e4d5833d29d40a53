"""Streamed Parquet (`data.stream`): the rows a pass yields, bad rows named by their row in
the file, what preprocessing is fitted on, shards, and a file never read whole."""

import csv

import numpy as np
import pytest

import tfmm
from tfmm.config import ConfigError
from tfmm.data import Manifest
from tfmm.data.stream import ParquetStream, streams
from tests.helpers import table_config_dict, write_table

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

GROUP = 16  # rows per row group of the files written here


def to_parquet(csv_path, path, row_group_size=GROUP):
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    frame = frame.replace("", None)
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size
    )
    return str(path)


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    for name, n, seed in (("train", 90, 0), ("val", 30, 1), ("test", 30, 2)):
        write_table(d / f"{name}.csv", n=n, seed=seed, hostile=name == "test")
        to_parquet(d / f"{name}.csv", d / f"{name}.parquet")
    return d


def streamed_config(table_dir, **data):
    cfg = table_config_dict(table_dir)
    for split in ("train", "val", "test"):
        cfg["data"][split] = str(table_dir / f"{split}.parquet")
    cfg["data"].update({"stream": True, **data})
    return tfmm.config_from_dict(cfg)


@pytest.fixture
def never_read_whole(monkeypatch):
    """Fails a test that reads a Parquet file (or a column of it) whole."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("the Parquet file was read whole")

    monkeypatch.setattr(pq.ParquetFile, "read", refuse)
    monkeypatch.setattr(pq, "read_table", refuse)


def rows_of(dataset):
    """Every example of a batched (x, y) dataset as a tuple of its tensors' values."""
    out = []
    for x, y in dataset:
        values = {**x, **y}
        names = sorted(values)
        for r in range(int(values[names[0]].shape[0])):
            out.append(tuple(np.asarray(values[n][r]).tobytes() for n in names))
    return out


def test_a_pass_yields_the_loaded_manifests_examples_without_reading_the_file_whole(
    table_dir, never_read_whole
):
    loaded = tfmm.config_from_dict(table_config_dict(table_dir))
    vocabularies = tfmm.data.fit_preprocessing(loaded, Manifest(str(table_dir / "train.csv")))
    config = streamed_config(table_dir)
    config.outputs[0].labels = loaded.outputs[0].labels
    for split in ("train", "test"):  # test: an empty number, an unseen category
        want = rows_of(
            tfmm.data.make_dataset(loaded, str(table_dir / f"{split}.csv"), vocabularies)
        )
        got = rows_of(
            tfmm.data.make_dataset(config, str(table_dir / f"{split}.parquet"), vocabularies)
        )
        assert got == want  # in the file's order, value for value


def test_training_epochs_are_new_orders_of_every_row(table_dir, never_read_whole):
    # A buffer of one row, a deterministic map: the order comes from the row groups'.
    config = streamed_config(table_dir, shuffle_buffer=1, deterministic=True)
    vocabularies = tfmm.data.fit_preprocessing(
        config, ParquetStream(config, str(table_dir / "train.parquet"))
    )
    ds = tfmm.data.make_dataset(
        config, str(table_dir / "train.parquet"), vocabularies, training=True, batch_size=1
    )
    everything = sorted(
        rows_of(tfmm.data.make_dataset(config, str(table_dir / "train.parquet"), vocabularies))
    )
    first, second = rows_of(ds), rows_of(ds)
    assert sorted(first) == sorted(second) == everything  # batch 1: no remainder dropped
    assert first != second


def test_a_bad_cell_in_a_late_row_group_is_named_by_its_row_in_the_file(table_dir, tmp_path):
    rows = list(csv.reader(open(table_dir / "train.csv")))
    rows[70][1] = "12 cm"  # data row 70, in the fifth row group
    bad_csv = tmp_path / "bad.csv"
    csv.writer(open(bad_csv, "w", newline="")).writerows(rows)
    bad = to_parquet(bad_csv, tmp_path / "bad.parquet")
    config = streamed_config(table_dir)
    vocabularies = tfmm.data.fit_preprocessing(config, ParquetStream(config, bad))
    with pytest.raises(tfmm.data.DataError, match=r"row 70 column 'size'.*not a number: '12 cm'"):
        tfmm.data.make_dataset(config, bad, vocabularies)  # checked before any pass

    skip = streamed_config(table_dir, on_bad_example="skip")
    skip.outputs[0].labels = config.outputs[0].labels
    logged = []
    stream = ParquetStream(skip, bad, report_dir=str(tmp_path / "run"), log=logged.append)
    got = rows_of(tfmm.data.make_dataset(skip, stream, vocabularies))
    assert len(got) == 89
    assert "skipped 1 of 90 rows" in logged[0] and "row 70" in logged[1]
    report = list(csv.DictReader(open(tmp_path / "run" / "bad_examples_bad.csv")))
    assert [(r["row"], r["column"]) for r in report] == [("70", "size")]


def test_preprocessing_is_fitted_on_the_sample_and_labels_on_the_whole_column(
    table_dir, tmp_path, never_read_whole
):
    frame = pd.read_csv(table_dir / "train.csv", dtype=str, keep_default_na=False)
    path = str(table_dir / "train.parquet")
    cfg = table_config_dict(table_dir)
    cfg["outputs"][0]["class_weight"] = "balanced"
    cfg["data"].update({"train": path, "stream": True, "fit_rows": 32})
    config = tfmm.config_from_dict(cfg)
    stream = ParquetStream(config, path)
    sample = stream.sample()
    # 32 rows: the first 6, 6, 5, 5, 5, 5 rows of the six row groups (16 rows each, 10).
    taken = [r for g, k in enumerate((6, 6, 5, 5, 5, 5)) for r in range(16 * g, 16 * g + k)]
    assert len(sample) == 32
    assert sample.columns["note"] == frame["note"].iloc[taken].tolist()
    vocabularies = tfmm.data.fit_preprocessing(config, stream)
    # The class weights count all 90 rows, not the sample's 32.
    counts = frame["good"].value_counts()
    assert counts["yes"] != frame["good"].iloc[taken].value_counts()["yes"] * 90 / 32
    assert config.outputs[0].class_weight == pytest.approx(
        {label: 90 / (2 * counts[label]) for label in ("no", "yes")}
    )
    frame.iloc[taken].to_csv(tmp_path / "sample.csv", index=False)
    loaded = tfmm.config_from_dict(table_config_dict(table_dir))
    want = tfmm.data.fit_preprocessing(loaded, Manifest(str(tmp_path / "sample.csv")))
    assert vocabularies["note"] == want["note"]
    assert vocabularies["facts"] == want["facts"]


def test_a_label_outside_the_sample_is_found(table_dir, tmp_path, never_read_whole):
    frame = pd.read_csv(table_dir / "train.csv", dtype=str, keep_default_na=False)
    frame.loc[89, "good"] = "maybe"  # the last row: outside the sample of 32
    frame.to_csv(tmp_path / "train.csv", index=False)
    path = to_parquet(tmp_path / "train.csv", tmp_path / "train.parquet")
    config = streamed_config(table_dir, fit_rows=32)
    with pytest.raises(ValueError, match=r"exactly 2 distinct labels.*\['maybe', 'no', 'yes'\]"):
        tfmm.data.fit_preprocessing(config, ParquetStream(config, path))


@pytest.mark.parametrize("group", [GROUP, 200])  # shards by row group; by row (one group)
def test_two_input_pipelines_read_disjoint_shards_of_every_row(table_dir, tmp_path, group):
    import tensorflow as tf

    path = to_parquet(table_dir / "train.csv", tmp_path / "train.parquet", group)
    config = streamed_config(table_dir)
    stream = ParquetStream(config, path)
    shards = []
    for pipeline in (0, 1):
        ctx = tf.distribute.InputContext(2, pipeline, 1)
        shards.append(
            [r["note"].numpy() + r["size"].numpy() for r in stream.dataset(False, False, ctx)]
        )
    every = [r["note"].numpy() + r["size"].numpy() for r in stream.dataset()]
    assert len(every) == 90 and min(len(s) for s in shards) >= 40
    assert sorted(shards[0] + shards[1]) == sorted(every)


def test_auto_streams_only_files_over_the_size(table_dir):
    path = str(table_dir / "train.parquet")
    auto = streamed_config(table_dir, stream="auto")
    assert not streams(auto, path)
    assert streams(streamed_config(table_dir, stream="auto", stream_over_mb=1e-4), path)
    assert not streams(streamed_config(table_dir, stream=False), path)
    assert not streams(streamed_config(table_dir), str(table_dir / "train.csv"))
    with pytest.raises(
        ConfigError, match=r"data.stream: expected true, false or 'auto'.*'sometimes'"
    ):
        streamed_config(table_dir, stream="sometimes")


def test_train_streams_and_tests_every_row(table_dir, tmp_path, never_read_whole):
    config = streamed_config(table_dir)
    logged = []
    _, metrics = tfmm.training.train(config, str(tmp_path / "run"), log=logged.append, verbose=0)
    assert any("streaming" in line and "90 rows, 6 row groups" in line for line in logged)
    assert metrics["good"]["n"] == 30
    saved = tfmm.training.inference.load_run(str(tmp_path / "run"))[1]
    assert saved.outputs[0].labels == ["no", "yes"]


def test_a_stream_is_not_sent_to_a_data_service(table_dir):
    config = streamed_config(table_dir, service="grpc://localhost:5050")
    with pytest.raises(tfmm.data.DataError, match="cannot be sent to a tf.data service"):
        tfmm.data.make_dataset(config, str(table_dir / "train.parquet"), {}, training=True)
    # A stream opened beforehand is refused by its file's name too.
    path = str(table_dir / "train.parquet")
    stream = tfmm.data.ParquetStream(streamed_config(table_dir), path)
    with pytest.raises(tfmm.data.DataError, match=r"\(.*train\.parquet'\) cannot be sent"):
        tfmm.data.make_dataset(config, stream, {}, training=True)


def test_data_check_streams_a_large_file_and_names_the_bad_row(
    table_dir, tmp_path, capsys, never_read_whole
):
    import yaml

    from tfmm.cli import main

    rows = list(csv.reader(open(table_dir / "train.csv")))
    rows[70][1] = "12 cm"
    rows[85][3] = ""  # an empty category: not a problem
    csv.writer(open(tmp_path / "bad.csv", "w", newline="")).writerows(rows)
    bad = to_parquet(tmp_path / "bad.csv", tmp_path / "bad.parquet")
    cfg = table_config_dict(table_dir)
    cfg["data"]["stream"] = True
    config = tmp_path / "table.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["data", "check", bad, "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "row 70 column 'size'" in out and "not a number: '12 cm'" in out
    assert "90 rows (streamed: no column summaries), 1 with problems" in out
