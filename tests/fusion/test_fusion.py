"""Every fusion strategy: builds for every subset of modalities, trains, saves, exports,
and ignores a missing modality."""

import itertools

import keras
import numpy as np
import pytest

import tfmm
from tests.helpers import (
    TINY_FUSIONS,
    random_inputs,
    random_targets,
    run_model_saving_test,
    tiny_config,
)
from tfmm.config import ConfigError

FUSIONS = sorted(TINY_FUSIONS)
SUBSETS = [s for n in (1, 2, 3) for s in itertools.combinations(("text", "image", "audio"), n)]


def fusion(kind, **extra):
    return {**TINY_FUSIONS[kind], **extra}


def test_every_strategy_is_registered():
    assert sorted(tfmm.fusion.FUSIONS) == sorted({f["type"] for f in TINY_FUSIONS.values()})


@pytest.mark.parametrize("kind", FUSIONS)
def test_builds_for_every_subset_of_modalities(kind):
    # The one every-subset build test (concat is the builder's default).
    expected_inputs = {"text": {"text"}, "image": {"image"}, "audio": {"audio", "audio_length"}}
    for subset in SUBSETS:
        config = tiny_config(subset, fusion=fusion(kind))
        model = tfmm.build_model(config)
        assert {t.name for t in model.inputs} == set().union(
            *(expected_inputs[m] for m in subset)
        ), (kind, subset)
        probs = np.asarray(model(random_inputs(model, batch=2))["label"])
        assert probs.shape == (2, 3), (kind, subset)
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5, err_msg=f"{kind} {subset}")
        keras.utils.clear_session()


@pytest.mark.parametrize("kind", FUSIONS)
def test_trains_one_step_and_round_trips_through_keras_file(kind, tmp_path):
    config = tiny_config(
        ("text", "audio"),
        optional=("audio",),
        fusion=fusion(kind, modality_dropout=0.5, auxiliary_loss_weight=0.3),
    )
    model = tfmm.compile_model(tfmm.build_model(config), config)
    x = random_inputs(model, batch=8)
    x["audio_present"] = np.array([1, 0] * 4, "float32")
    y = random_targets(config, batch=8)
    for aux, _, _ in config.auxiliary_outputs():
        y[aux] = y["label"]
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    # The fused head's loss plus 0.3 x each auxiliary head's loss.
    expected = history["label_loss"][0] + 0.3 * (
        history["label_aux_text_loss"][0] + history["label_aux_audio_loss"][0]
    )
    assert history["loss"][0] == pytest.approx(expected, rel=1e-4)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    run_model_saving_test(model, x, tmp_path, atol=1e-6)


@pytest.mark.parametrize("kind", FUSIONS)
@pytest.mark.parametrize("missing", ["text", "audio"])
def test_a_missing_modality_changes_nothing(kind, missing):
    """With its presence flag at 0, a modality's content has no effect on the output;
    with the flag at 1 it has (so the comparison can fail)."""
    # Seeded: an unlucky draw of tiny weights (a dead ReLU branch) can make the present
    # modality's change invisible too, whatever the test's order under xdist.
    keras.utils.set_random_seed(0)
    config = tiny_config(("text", "audio"), optional=("text", "audio"), fusion=fusion(kind))
    model = tfmm.build_model(config)
    x = random_inputs(model, batch=4, seed=1)
    other = random_inputs(model, batch=4, seed=2)
    changed = dict(x)
    changed[missing] = other[missing]
    if missing == "audio":
        changed["audio_length"] = other["audio_length"]
    x[f"{missing}_present"] = changed[f"{missing}_present"] = np.array([0, 0, 1, 1], "float32")
    a = np.asarray(model(x)["label"])
    b = np.asarray(model(changed)["label"])
    np.testing.assert_allclose(a[:2], b[:2], atol=1e-6)
    assert np.abs(a[2:] - b[2:]).max() > 1e-6


def test_gate_weights_sum_to_one_and_skip_a_missing_modality():
    config = tiny_config(("text", "image", "audio"), optional=("image",), fusion=fusion("gated"))
    model = tfmm.build_model(config)
    inspect = tfmm.models.inspection_model(model)
    assert sorted(inspect.output) == ["fusion_gate", "label"]
    x = random_inputs(model, batch=4)
    x["image_present"] = np.array([1, 0, 1, 0], "float32")
    out = inspect(x)
    gate = np.asarray(out["fusion_gate"])
    assert gate.shape == (4, 3)
    np.testing.assert_allclose(gate.sum(-1), 1.0, atol=1e-6)
    assert (gate[[1, 3], 1] == 0).all() and (gate[[0, 2], 1] > 0).all()
    # The inspection model is the same network: same predictions.
    np.testing.assert_allclose(np.asarray(out["label"]), np.asarray(model(x)["label"]), atol=1e-7)


def test_modality_dropout_keeps_at_least_one_modality():
    from tfmm.layers import ModalityPresence

    layer = ModalityPresence([False, True, False], rate=0.3, seed=3)
    present = np.ones(500, "float32")
    present[::2] = 0
    ref = np.zeros((500, 2), "float32")
    out = np.asarray(layer([ref, present, ref], training=True))
    assert (out.sum(axis=1) >= 1).all()
    assert (out[::2, 1] == 0).all()  # a missing modality stays missing
    # Of the 1250 present entries, 30% are dropped, less the draws that would have
    # dropped a whole row (2.7% of 3-modality rows, 9% of 2-modality rows): 24.8%.
    dropped = 1 - out.sum() / 1250
    assert 0.2 < dropped < 0.3
    np.testing.assert_array_equal(
        np.asarray(layer([ref, present, ref], training=False)),
        np.stack([np.ones(500), present, np.ones(500)], 1),
    )


def test_late_fusion_learned_weights_and_mean():
    from tfmm.layers import LateCombine

    logits = [np.full((2, 3), 1.0, "float32"), np.full((2, 3), 4.0, "float32")]
    presence = np.array([[1, 1], [1, 0]], "float32")
    mean = np.asarray(LateCombine("mean", 2)(logits, presence))
    np.testing.assert_allclose(mean[:, 0], [2.5, 1.0])
    learned = LateCombine("learned", 2)
    learned(logits, presence)
    learned.modality_logits.assign([0.0, np.log(3.0)])
    np.testing.assert_allclose(np.asarray(learned(logits, presence))[:, 0], [3.25, 1.0], rtol=1e-6)


def test_cross_attention_query_defaults_to_text_and_is_checked():
    config = tiny_config(("image", "text"), fusion=fusion("cross_attention"))
    assert config.fusion.query == "text"
    assert tiny_config(("image", "audio"), fusion=fusion("cross_attention")).fusion.query == "image"
    with pytest.raises(ConfigError, match=r"fusion.query: no input named 'photo'"):
        tiny_config(("text", "image"), fusion=fusion("cross_attention", query="photo"))


def test_unknown_fusion_type_lists_the_known_ones():
    with pytest.raises(
        ConfigError,
        match=r"fusion.type: unknown type 'sum'; allowed: "
        r"\['concat', 'cross_attention', 'gated', 'late', "
        r"'single_stream'\]",
    ):
        tiny_config(("text",), fusion={"type": "sum"})


def test_fusion_options_are_validated():
    with pytest.raises(ConfigError, match=r"fusion.dim: must be divisible by num_heads=3"):
        tiny_config(("text",), fusion=fusion("single_stream", num_heads=3))
    with pytest.raises(ConfigError, match=r"fusion.modality_dropout: must be in \[0, 1\)"):
        tiny_config(("text",), fusion=fusion("gated", modality_dropout=1.0))
    with pytest.raises(ConfigError, match=r"pair_column: only a bert encoder"):
        tfmm.config_from_dict(
            {
                "inputs": [{"name": "q", "type": "text", "pair_column": "c"}],
                "outputs": [{"name": "y", "labels": ["a", "b"]}],
            }
        )


def _wav(seed, seconds=0.25, rate=16000):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    samples = rng.uniform(-0.5, 0.5, (int(seconds * rate), 1)).astype("float32")
    return tf.audio.encode_wav(samples, rate).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("kind", FUSIONS)
def test_exports_match_in_tf_serving_signature_and_onnxruntime(kind, tmp_path):
    """Export (which itself checks both runtimes against Keras on probe inputs, one with a
    missing modality), then reload: the raw signature takes an empty WAV as a missing
    clip, and onnxruntime matches Keras at another batch size."""
    import tensorflow as tf

    from tfmm.export import OnnxInputs, export_model, onnx_predict, onnx_session

    config = tiny_config(
        ("text", "audio"), optional=("audio",), fusion=fusion(kind, auxiliary_loss_weight=0.5)
    )
    vocab = ["", "[UNK]"] + [f"w{i}" for i in range(20)]
    model = tfmm.build_model(config, {"text": vocab})
    paths = export_model(model, config, {"text": vocab}, str(tmp_path / "out"), log=lambda *a: None)
    raw = {
        "text": np.array([b"w1 w2", b"w3", b"w4 w5 w6"]),
        "audio": np.array([_wav(0), b"", _wav(2)], dtype=object),
    }
    serve = tf.saved_model.load(paths["savedmodel"]).signatures["serving_default"]
    got = serve(text=tf.constant(raw["text"]), audio=tf.constant(list(raw["audio"])))
    feed = OnnxInputs(config, {"text": vocab})(raw)
    np.testing.assert_array_equal(feed["audio_present"], [1, 0, 1])
    want = model(feed)["label"]
    np.testing.assert_allclose(got["label_probabilities"].numpy(), want, atol=1e-5)
    # The missing clip's row equals the same row with any other clip marked missing.
    other = dict(feed)
    other["audio"] = feed["audio"][[2, 2, 2]]
    other["audio_length"] = feed["audio_length"][[2, 2, 2]]
    np.testing.assert_allclose(np.asarray(model(other)["label"])[1], want[1], atol=1e-6)
    onnx = onnx_predict(onnx_session(paths["onnx"]), config, {k: v[:2] for k, v in feed.items()})
    np.testing.assert_allclose(onnx["label"], np.asarray(want)[:2], atol=1e-4)
    assert ("fusion_gate" in onnx) == kind.startswith("gated")
    assert ("fusion_gate" in got) == kind.startswith("gated")
    assert not any("aux" in k for k in list(got) + list(onnx))
    if kind.startswith("gated"):
        # The served gate is the Keras inspection model's, columns in config order
        # (text, audio): the missing clip's row puts all weight on text.
        from tfmm.models.builder import inspection_model

        gate = np.asarray(inspection_model(model)(feed)["fusion_gate"])
        np.testing.assert_allclose(got["fusion_gate"].numpy(), gate, atol=1e-5)
        np.testing.assert_allclose(onnx["fusion_gate"], gate[:2], atol=1e-4)
        np.testing.assert_allclose(gate[1], [1.0, 0.0], atol=1e-6)


def test_modality_dropout_acts_in_training_only():
    config = tiny_config(("text", "audio"), fusion=fusion("concat", modality_dropout=0.5))
    model = tfmm.build_model(config)
    x = random_inputs(model, batch=16)
    inference = [np.asarray(model(x, training=False)["label"]) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    training = [np.asarray(model(x, training=True)["label"]) for _ in range(2)]
    assert np.abs(training[0] - training[1]).max() > 1e-4


def test_predict_rows_carry_the_gate_weights():
    from tfmm.predictions import prediction_rows

    config = tiny_config(("text", "audio"), fusion=fusion("gated"))
    rows = prediction_rows(
        config, {"label": np.array([[0.2, 0.7, 0.1]]), "fusion_gate": np.array([[0.25, 0.75]])}
    )
    assert rows == [
        {
            "row": 1,
            "label": "b",
            "label_p_a": 0.2,
            "label_p_b": 0.7,
            "label_p_c": 0.1,
            "fusion_gate_text": 0.25,
            "fusion_gate_audio": 0.75,
        }
    ]
