"""Tabular inputs: what is fitted on the training split, the tensors a row becomes (the
imputed value, the missing flag, the unseen-category id), bad cells, Parquet and pandas."""

import math

import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tfmm.config import ConfigError
from tfmm.data import Manifest
from tfmm.data.tabular import fit_tabular_state
from tfmm.layers import PiecewiseLinearEncoding
from tests.helpers import run_serialization_test, table_config_dict, write_table


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("table")
    write_table(d / "train.csv", n=60, seed=0)
    write_table(d / "val.csv", n=24, seed=1)
    write_table(d / "test.csv", n=24, seed=2, hostile=True)
    return d


def test_state_is_quantiles_medians_and_frequent_categories():
    cells = {
        "n": [str(v) for v in range(1, 101)] + ["", None],
        "c": ["a"] * 5 + ["b"] * 3 + ["c"] + [None] * 2 + [""] * 93,
    }
    cfg = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "t",
                    "type": "tabular",
                    "numeric": ["n"],
                    "categorical": ["c"],
                    "numeric_bins": 4,
                    "min_category_count": 2,
                }
            ],
            "outputs": [{"name": "y", "labels": ["a", "b"]}],
        }
    ).inputs[0]
    state = fit_tabular_state(cfg, cells)
    # numpy's linear quantiles of 1..100 at 0, 1/4, 1/2, 3/4, 1 (two cells are missing).
    assert state["numeric"]["n"]["edges"] == [1.0, 25.75, 50.5, 75.25, 100.0]
    assert state["numeric"]["n"]["median"] == 50.5
    assert state["numeric"]["n"]["missing"] == pytest.approx(2 / 102)
    # Most frequent first; "c" (one row) is below min_category_count: out of vocabulary.
    assert state["categorical"]["c"] == ["a", "b"]


def test_piecewise_linear_encoding_values():
    layer = PiecewiseLinearEncoding(edges=[[0.0, 10.0, 20.0, 1000.0]], medians=[10.0])
    x = np.array([[5.0], [10.0], [510.0], [1e9], [np.nan]], "float32")
    out = layer(x).numpy()[:, 0, :]
    np.testing.assert_allclose(
        out,
        [
            [0.5, 0.0, 0.0, 0.0],  # halfway through the first bin
            [1.0, 0.0, 0.0, 0.0],
            [1.0, 1.0, 0.5, 0.0],  # inside the heavy tail's wide last bin
            [1.0, 1.0, 1.0, 0.0],  # far beyond the training range: saturates
            [1.0, 0.0, 0.0, 1.0],  # missing: the median (10) and the flag
        ],
        atol=1e-6,
    )
    run_serialization_test(layer)


def test_a_row_becomes_numbers_with_nan_and_category_ids(table_dir):
    config = tfmm.config_from_dict(table_config_dict(table_dir))
    vocabularies = tfmm.data.fit_preprocessing(config, Manifest(str(table_dir / "train.csv")))
    state = vocabularies["facts"]
    assert sorted(state["categorical"]["color"]) == ["blue", "green", "red"]
    ds = tfmm.data.make_dataset(
        config, str(table_dir / "test.csv"), vocabularies, batch_size=24, with_labels=False
    )
    x = next(iter(ds))
    numeric, ids = x["facts_numeric"].numpy(), x["facts_categorical"].numpy()
    rows = list(Manifest(str(table_dir / "test.csv")).columns["size"])
    assert math.isnan(numeric[0, 0])  # row 1: empty size
    assert numeric[5, 0] == pytest.approx(float(rows[5]), abs=1e-4)
    colors = state["categorical"]["color"]
    assert ids[1, 0] == 0  # row 2: empty color
    assert ids[2, 0] == 1  # row 3: "purple", unseen
    assert ids[3, 1] == 1  # row 4: "shop999", unseen
    test_colors = Manifest(str(table_dir / "test.csv")).columns["color"]
    assert ids[0, 0] == 2 + colors.index(test_colors[0])
    # The TF-IDF text input: a float vector with one entry per n-gram (+ out of vocabulary).
    assert x["note"].shape == (24, len(vocabularies["note"]["tokens"]) + 1)


def test_a_number_that_is_not_one_is_named_by_row_column_and_value(table_dir, tmp_path):
    import csv

    rows = list(csv.reader(open(table_dir / "train.csv")))
    rows[3][1] = "12 cm"
    bad = tmp_path / "bad.csv"
    csv.writer(open(bad, "w", newline="")).writerows(rows)
    config = tfmm.config_from_dict(table_config_dict(table_dir))
    problems = tfmm.data.check_manifest(config, Manifest(str(bad)))
    assert [(p.row, p.column) for p in problems] == [(3, "size")]
    assert "not a number: '12 cm'" in problems[0].message
    with pytest.raises(tfmm.data.DataError, match=r"row 3 column 'size'.*not a number"):
        tfmm.data.load_manifest(config, str(bad))


def test_data_check_summary_counts_unseen_categories(table_dir):
    from tfmm.data.check import media_summary

    config = tfmm.config_from_dict(table_config_dict(table_dir))
    lines = media_summary(config, Manifest(str(table_dir / "test.csv")))
    votes = next(line for line in lines if "'votes'" in line)
    assert votes.startswith("numeric column 'votes': ") and "% missing" in votes
    color = next(line for line in lines if "'color'" in line)
    # "purple" (row 3) is the one color the training split lacks.
    assert "1 missing" in color and "1 rows hold 1 categories not kept" in color


def test_parquet_and_dataframe_read_as_the_csv(table_dir, tmp_path):
    import pandas as pd

    frame = pd.read_csv(table_dir / "test.csv")
    frame.to_parquet(tmp_path / "test.parquet")
    config = tfmm.config_from_dict(table_config_dict(table_dir))
    vocabularies = tfmm.data.fit_preprocessing(config, pd.read_csv(table_dir / "train.csv"))
    assert vocabularies == tfmm.data.fit_preprocessing(
        config, Manifest(str(table_dir / "train.csv"))
    )

    def first_batch(source):
        x, y = next(iter(tfmm.data.make_dataset(config, source, vocabularies, batch_size=24)))
        return {k: v.numpy() for k, v in {**x, **y}.items()}

    want = first_batch(str(table_dir / "test.csv"))
    for source in (str(tmp_path / "test.parquet"), frame):
        got = first_batch(source)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_parquet_reads_only_the_columns_the_model_uses(table_dir, tmp_path):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tfmm.data import load_manifest

    frame = pd.read_csv(table_dir / "test.csv")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # A wide column the config never names (stored embeddings, image bytes), and a text
    # cell that is not UTF-8 in the note column the config reads.
    table = table.append_column("blob", pa.array([b"\0" * 4096] * len(frame), pa.binary()))
    notes = [str(v).encode() if isinstance(v, str) else None for v in frame["note"]]
    notes[1] = b"caf\xe9"
    table = table.set_column(table.column_names.index("note"), "note", pa.array(notes, pa.binary()))
    path = str(tmp_path / "wide.parquet")
    pq.write_table(table, path)
    config = tfmm.config_from_dict(
        {**table_config_dict(table_dir), "data": {"on_bad_example": "skip"}}
    )
    manifest = Manifest(path)
    assert len(manifest) == len(frame) and "blob" in manifest.columns
    logged = []
    columns = load_manifest(config, manifest, log=logged.append)
    wanted = {c for i in config.inputs for c in i.columns} | {o.column for o in config.outputs}
    assert set(manifest.columns.read) == wanted  # "blob" never read
    # The bad cell of a lazily read column is still found: row 2 is skipped, by name.
    assert "skipped 1 of 24 rows" in logged[0], logged
    assert "row 2" in logged[1] and "note" in logged[1] and "not valid UTF-8" in logged[1]
    assert len(columns["note"]) == len(frame) - 1
    assert columns["note"][0] == frame["note"][0]


@pytest.mark.parametrize(
    "inputs,message",
    [
        ([{"name": "t", "type": "tabular"}], "needs `numeric` or `categorical`"),
        (
            [{"name": "t", "type": "tabular", "numeric": ["a"], "categorical": ["a"]}],
            r"column\(s\) \['a'\] listed twice",
        ),
        (
            [{"name": "t", "type": "tabular", "numeric": ["a"], "column": "a"}],
            "names its columns in `numeric` and `categorical`",
        ),
        ([{"name": "t", "type": "text", "numeric": ["a"]}], "only applies to tabular inputs"),
        (
            [{"name": "t", "type": "tabular", "numeric": ["a"], "encoder": {"type": "textcnn"}}],
            "cannot read a tabular input",
        ),
    ],
)
def test_tabular_config_errors(inputs, message):
    with pytest.raises(ConfigError, match=message):
        tfmm.config_from_dict({"inputs": inputs, "outputs": [{"name": "y"}]})


def test_tfidf_client_twin_matches_keras(table_dir):
    from tfmm.client import tfidf_vector
    from tfmm.data.text import TextPreprocessor

    config = tfmm.config_from_dict(table_config_dict(table_dir))
    vocab = tfmm.data.fit_preprocessing(config, Manifest(str(table_dir / "train.csv")))["note"]
    texts = ["Lovely fit, SOFT!", "poor seams poor seams warm", "never seen words", ""]
    keras_out = TextPreprocessor(config.inputs[0], vocab)(tf.constant(texts))["note"].numpy()
    for text, want in zip(texts, keras_out):
        np.testing.assert_allclose(
            tfidf_vector(text, vocab["tokens"], vocab["idf"], 2), want, rtol=1e-5, atol=1e-6
        )


def test_na_style_cells_are_missing_in_the_pipeline_and_the_client(table_dir, tmp_path):
    # The check accepts "NA", "null", ...; the pipeline and the client must read them as
    # missing too (not fail in tf.strings.to_number).
    import csv

    from tfmm import client
    from tfmm.data import tabular

    assert client.MISSING_NUMBERS == tabular.MISSING_NUMBERS
    rows = list(csv.reader(open(table_dir / "test.csv")))
    rows[1][1], rows[2][1], rows[3][1] = "NA", " null ", "n/a"
    path = tmp_path / "na.csv"
    csv.writer(open(path, "w", newline="")).writerows(rows)
    config = tfmm.config_from_dict(table_config_dict(table_dir))
    assert tfmm.data.check_manifest(config, Manifest(str(path))) == []
    vocabularies = tfmm.data.fit_preprocessing(config, Manifest(str(table_dir / "train.csv")))
    x = next(
        iter(
            tfmm.data.make_dataset(
                config, str(path), vocabularies, batch_size=24, with_labels=False
            )
        )
    )
    assert np.isnan(x["facts_numeric"].numpy()[:3, 0]).all()
    assert np.isnan(client.numbers(["NA", " null "], ["size", "votes"])).all()
