"""Every encoder's token sequence (`return_sequence=True`), as token-level fusions read it:
shapes, validity masks, the same weights as the vector form, and `.keras` round trips."""

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tests.encoders.test_hub import _save, _TextModule
from tests.helpers import run_model_saving_test
from tfmm.encoders import BertEncoder, HubEncoder, LSTMAudioEncoder, ResNet50Encoder, TextCNNEncoder


def _same_weight_shapes(a, b):
    assert [tuple(w.shape) for w in a.weights] == [tuple(w.shape) for w in b.weights]


def test_textcnn_sequence_is_per_token_features_with_padding_masked(tmp_path):
    kw = dict(vocab_size=20, sequence_length=6, embedding_dim=4, kernel_sizes=[2, 3], filters=3)
    enc = TextCNNEncoder(**kw, return_sequence=True)
    ids = np.array([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]], "int32")
    out = enc(ids)
    assert tuple(out["sequence"].shape) == (2, 6, 6)
    assert np.asarray(out["mask"]).tolist() == [[True] * 3 + [False] * 3, [True] + [False] * 5]
    _same_weight_shapes(enc, TextCNNEncoder(**kw))
    run_model_saving_test(enc, ids, tmp_path)


def test_lstm_sequence_is_per_frame_states_with_the_frame_mask(tmp_path):
    kw = dict(num_samples=4000, num_mel_bins=8, units=[5, 6], frame_step=160)
    enc = LSTMAudioEncoder(**kw, return_sequence=True)
    x = {
        "waveform": np.random.default_rng(0).uniform(-1, 1, (2, 4000)).astype("float32"),
        "length": np.array([4000, 800], "int32"),
    }
    out = enc(x)
    frames = out["sequence"].shape[1]
    assert tuple(out["sequence"].shape) == (2, frames, 6)
    mask = np.asarray(out["mask"])
    assert mask[0].all() and mask[1].sum() == 5  # frames starting before sample 800
    _same_weight_shapes(enc, LSTMAudioEncoder(**kw))
    run_model_saving_test(enc, x, tmp_path)


def test_resnet_sequence_is_the_feature_grid(tmp_path):
    enc = ResNet50Encoder(image_size=[64, 96], return_sequence=True)
    out = enc(np.zeros((1, 64, 96, 3), "float32"))
    assert tuple(out["sequence"].shape) == (1, 2 * 3, 2048)
    assert np.asarray(out["mask"]).all()
    _same_weight_shapes(enc, ResNet50Encoder(image_size=[64, 96]))


def test_bert_sequence_is_the_sequence_output_with_the_padding_mask():
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=10,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=8,
    )
    enc = BertEncoder(backbone, sequence_length=8, return_sequence=True)
    mask = np.array([[True] * 5 + [False] * 3])
    x = {
        "token_ids": np.ones((1, 8), "int32") * mask,
        "segment_ids": np.zeros((1, 8), "int32"),
        "padding_mask": mask,
    }
    out = enc(x)
    np.testing.assert_allclose(
        np.asarray(out["sequence"]), np.asarray(backbone(x)["sequence_output"]), atol=1e-6
    )
    np.testing.assert_array_equal(np.asarray(out["mask"]), mask)


def test_hub_vector_is_a_one_token_sequence(tmp_path):
    path = _save(_TextModule(), str(tmp_path / "sm"))
    enc = HubEncoder(path, modality="text", return_sequence=True)
    text = np.array(["the cat", "a dog"])
    out = enc(text)
    vector = HubEncoder(path, modality="text")(text)
    np.testing.assert_allclose(np.asarray(out["sequence"])[:, 0], np.asarray(vector), atol=1e-6)
    assert np.asarray(out["mask"]).tolist() == [[True], [True]]


def test_sequence_encoder_config_round_trip():
    enc = TextCNNEncoder(
        vocab_size=20,
        sequence_length=6,
        embedding_dim=4,
        kernel_sizes=[2],
        filters=3,
        return_sequence=True,
    )
    again = TextCNNEncoder.from_config(enc.get_config())
    assert again.return_sequence and isinstance(again.output, dict)
    assert keras.ops.convert_to_tensor(again(tf.ones((1, 6), "int32"))["mask"]).dtype == "bool"
