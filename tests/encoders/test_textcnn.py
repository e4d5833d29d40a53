import numpy as np

from tfmm.encoders import TextCNNEncoder, build_encoder
from tests.helpers import run_encoder_test, tiny_config


def test_textcnn_alone(tmp_path):
    enc = TextCNNEncoder(
        vocab_size=40,
        sequence_length=8,
        embedding_dim=4,
        kernel_sizes=[2, 3, 4],
        filters=5,
        vocabulary=["", "[UNK]", "a"],
    )
    x = np.random.default_rng(0).integers(0, 40, (3, 8)).astype("int32")
    run_encoder_test(enc, x, expected_dim=15, tmp_path=tmp_path)


def test_textcnn_from_config_keeps_vocabulary():
    config = tiny_config(("text",))
    enc = build_encoder(config.inputs[0], vocabulary=["", "[UNK]", "cat", "dog"])
    assert enc.name == "text_encoder"
    assert enc.get_config()["vocabulary"] == ["", "[UNK]", "cat", "dog"]
    assert enc.output_dim == 3 * 2


def test_textcnn_branch_is_a_max_over_time():
    # A single token repeated anywhere gives the same max-pooled features in inference.
    enc = TextCNNEncoder(
        vocab_size=10, sequence_length=6, embedding_dim=3, kernel_sizes=[1], filters=4, dropout=0.0
    )
    a = np.array([[5, 0, 0, 0, 0, 0]], "int32")
    b = np.array([[0, 0, 0, 0, 0, 5]], "int32")
    np.testing.assert_allclose(enc(a), enc(b), atol=1e-6)
