import keras
import keras_hub
import numpy as np
import pytest

from tfmm.encoders import BertEncoder, build_encoder
from tests.helpers import run_encoder_test, tiny_config, with_input

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "dog", "ran"]


def _backbone():
    return keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
    )


def _x(batch=2, length=8):
    rng = np.random.default_rng(0)
    mask = np.zeros((batch, length), bool)
    mask[:, :5] = True
    return {
        "token_ids": rng.integers(0, len(VOCAB), (batch, length)).astype("int32") * mask,
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": mask,
    }


@pytest.mark.parametrize("pooling", ["pooled", "mean"])
def test_bert_alone(tmp_path, pooling):
    enc = BertEncoder(_backbone(), sequence_length=8, pooling=pooling, vocabulary=VOCAB)
    run_encoder_test(enc, _x(), expected_dim=16, tmp_path=tmp_path)


def test_mean_pooling_ignores_padding():
    backbone = _backbone()
    enc = BertEncoder(backbone, sequence_length=8, pooling="mean")
    x = _x()
    seq = np.asarray(backbone(x)["sequence_output"])
    expected = seq[:, :5].mean(axis=1)
    np.testing.assert_allclose(np.asarray(enc(x)), expected, atol=1e-5)


def test_frozen_and_lora(tmp_path):
    frozen = BertEncoder(_backbone(), sequence_length=8, frozen=True)
    assert frozen.trainable_weights == []
    lora = BertEncoder(_backbone(), sequence_length=8, lora_rank=2)
    names = [w.path for w in lora.trainable_weights]
    # keras-hub's LoRA: only the low-rank factors (and the biases of the query/value
    # layers it targets) train; every kernel and embedding is frozen.
    assert any("lora_kernel" in n for n in names)
    assert all(
        "lora_kernel" in n or (n.endswith("bias") and ("/query/" in n or "/value/" in n))
        for n in names
    ), names
    assert sum(np.prod(w.shape) for w in lora.trainable_weights) < 0.2 * lora.count_params()
    # LoRA survives a .keras round trip: same outputs, still only LoRA weights trainable.
    x = _x()
    path = str(tmp_path / "lora.keras")
    lora.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(lora(x)), atol=1e-6)
    assert len(again.trainable_weights) == len(lora.trainable_weights)


def _vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return str(path)


def test_bert_from_explicit_sizes(tmp_path):
    config = tiny_config(("text",))
    config = with_input(config, 0, encoder=_bert_cfg(vocabulary=_vocab_file(tmp_path)))
    enc = build_encoder(config.inputs[0])
    assert enc.output_dim == 16 and enc.vocabulary == VOCAB


def test_bert_from_local_preset_directory(tmp_path):
    # A preset directory the test writes: no download.
    backbone = _backbone()
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True)
    preset = str(tmp_path / "preset")
    backbone.save_to_preset(preset)
    tokenizer.save_to_preset(preset)
    config = tiny_config(("text",))
    config = with_input(config, 0, encoder=_bert_cfg(preset=preset))
    enc = build_encoder(config.inputs[0])
    x = _x()
    np.testing.assert_allclose(
        np.asarray(enc.backbone(x)["pooled_output"]),
        np.asarray(backbone(x)["pooled_output"]),
        atol=1e-6,
    )
    assert enc.vocabulary == VOCAB


def test_missing_vocabulary_file_is_named(tmp_path):
    config = tiny_config(("text",))
    config = with_input(config, 0, encoder=_bert_cfg(vocabulary=str(tmp_path / "none.txt")))
    with pytest.raises(FileNotFoundError, match=r"vocabulary='.*none\.txt'"):
        build_encoder(config.inputs[0])


def _bert_cfg(**kw):
    from tfmm.config import BertConfig

    base = dict(
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
        sequence_length=8,
    )
    base.update(kw)
    return BertConfig(**base)
