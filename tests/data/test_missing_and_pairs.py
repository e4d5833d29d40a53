"""Optional (missing) modalities and two text fields in one BERT input, through the
pipeline, the checks and the raw serving path."""

import csv
import os

import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tfmm.data.errors import DataError
from tests.data.conftest import small_demo_config
from tests.helpers import with_input
from tfmm.data import Manifest, check_manifest


def _with_empty_cells(demo_dir, tmp_path, column, rows):
    """A copy of the demo train manifest (absolute media paths) with `column` emptied in
    the given 0-based rows."""
    with open(os.path.join(demo_dir, "train.csv"), newline="") as f:
        reader = csv.DictReader(f)
        fields, data = reader.fieldnames, list(reader)
    for r in data:
        for c in ("image_path", "audio_path"):
            r[c] = os.path.join(str(demo_dir), r[c])
    for k in rows:
        data[k][column] = ""
    path = str(tmp_path / "train_missing.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(data)
    return path


@pytest.mark.parametrize("modality,column", [("audio", "audio_path"), ("image", "image_path")])
def test_an_optional_input_accepts_an_empty_path(demo_dir, tmp_path, modality, column):
    path = _with_empty_cells(demo_dir, tmp_path, column, rows=[1, 4])
    strict = small_demo_config(demo_dir)
    problems = check_manifest(strict, Manifest(path), with_labels=False)
    assert [(p.row, p.column, p.message) for p in problems] == [
        (2, column, "empty path"),
        (5, column, "empty path"),
    ]

    config = small_demo_config(demo_dir)
    config = with_input(config, [i.name for i in config.inputs].index(modality), optional=True)
    assert check_manifest(config, Manifest(path), with_labels=False) == []
    vocabs = tfmm.data.fit_preprocessing(config, Manifest(path))
    x, _ = next(iter(tfmm.data.make_dataset(config, path, vocabs, batch_size=6)))
    np.testing.assert_array_equal(x[f"{modality}_present"].numpy(), [1, 0, 1, 1, 0, 1])
    assert not x[modality].numpy()[[1, 4]].any()
    assert x[modality].numpy()[[0, 2, 3, 5]].any()
    if modality == "audio":
        np.testing.assert_array_equal(x["audio_length"].numpy()[[1, 4]], [0, 0])
    # The model takes the presence flag as an input, and predicts for every row.
    model = tfmm.build_model(config, vocabs)
    assert f"{modality}_present" in [t.name for t in model.inputs]
    probs = tfmm.training.predict(model, config, path, vocabs)
    assert len(probs) == len(Manifest(path))


def test_bert_packs_two_text_columns_with_segment_ids(tmp_path):
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "what",
        "color",
        "is",
        "it",
        "red",
        "blue",
    ]
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    manifest = tmp_path / "qa.csv"
    manifest.write_text(
        "question,context,answer\nwhat color is it,it is red,red\nwhat color,blue,blue\n"
    )
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "qa",
                    "type": "text",
                    "column": "question",
                    "pair_column": "context",
                    "encoder": {
                        "type": "bert",
                        "vocabulary": str(vocab_file),
                        "num_layers": 1,
                        "num_heads": 2,
                        "hidden_dim": 8,
                        "intermediate_dim": 16,
                        "sequence_length": 10,
                        "max_sequence_length": 16,
                    },
                }
            ],
            "outputs": [{"name": "answer"}],
            "data": {"train": str(manifest), "batch_size": 2},
        }
    )
    vocabs = tfmm.data.fit_preprocessing(config, Manifest(str(manifest)))
    x, y = next(iter(tfmm.data.make_dataset(config, str(manifest), vocabs)))
    ids = x["qa_token_ids"].numpy()
    # [CLS] what color is it [SEP] it is red [SEP] -> segments 0 x6, 1 x4.
    assert ids[0].tolist() == [2, 5, 6, 7, 8, 3, 8, 7, 9, 3]
    assert x["qa_segment_ids"].numpy()[0].tolist() == [0] * 6 + [1] * 4
    assert x["qa_segment_ids"].numpy()[1].tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert x["qa_padding_mask"].numpy()[1].tolist() == [True] * 6 + [False] * 4
    # The raw serving path takes the second segment as `{name}_pair`.
    from tfmm.data.preprocessor import Preprocessor
    from tfmm.export.signatures import raw_features, raw_specs

    assert sorted(raw_specs(config)) == ["qa", "qa_pair"]
    raw = raw_features(
        config,
        Preprocessor(config, vocabs),
        {"qa": tf.constant(["what color is it"]), "qa_pair": tf.constant(["it is red"])},
    )
    np.testing.assert_array_equal(raw["qa_token_ids"].numpy()[0], ids[0])
    model = tfmm.build_model(config, vocabs)
    assert model(x)["answer"].shape == (2, 2)
    # A missing pair column is named.
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nwhat,red\n")
    with pytest.raises(
        DataError,
        match=r"bad\.csv': missing input column 'context'\. Columns: "
        r"\['question', 'answer'\]",
    ):
        tfmm.data.fit_preprocessing(config, Manifest(str(bad)))
