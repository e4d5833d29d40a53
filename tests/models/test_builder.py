import os
import keras
import numpy as np
import pytest

import tfmm
from tests.helpers import random_inputs, random_targets, run_model_saving_test, tiny_config

ALL = ("text", "image", "audio")


@pytest.fixture(scope="module")
def tri_modal():
    config = tiny_config(
        ALL,
        outputs=[
            {"name": "label", "type": "multiclass", "labels": ["a", "b", "c"]},
            {"name": "score", "type": "regression", "num_targets": 2},
        ],
    )
    return config, tfmm.build_model(config)


def test_branches_meet_at_one_concatenate(tri_modal):
    config, model = tri_modal
    concats = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert [c.name for c in concats] == ["fusion_concat"]
    inbound = concats[0]._inbound_nodes[0].input_tensors
    sources = [t._keras_history.operation.name for t in inbound]
    # Each branch passes its presence gate (modality dropout, on by default) first.
    assert sources == ["fusion_presence_text", "fusion_presence_image", "fusion_presence_audio"]
    encoders = [
        model.get_layer(n)._inbound_nodes[0].input_tensors[0]._keras_history.operation.name
        for n in sources
    ]
    assert encoders == ["text_encoder", "image_encoder", "audio_encoder"]
    assert concats[0].output.shape[-1] == 6 + 8 + 4  # textcnn 2x3, cnn [4, 8], lstm [4]
    lines = []
    model.summary(print_fn=lines.append, line_length=140)
    summary = "\n".join(lines)
    for name in (
        "text_encoder",
        "image_encoder",
        "audio_encoder",
        "fusion_concat",
        "head_label",
        "head_score",
    ):
        assert name in summary


def test_outputs_named_after_config(tri_modal):
    config, model = tri_modal
    assert set(model.output) == {"label", "score"}
    assert model.get_layer("head_label").labels == ["a", "b", "c"]
    y = model.predict(random_inputs(model, batch=3), verbose=0)
    assert y["score"].shape == (3, 2)


def test_keras_round_trip_safe_mode(tri_modal, tmp_path):
    config, model = tri_modal
    x = random_inputs(model, batch=2)
    reloaded = run_model_saving_test(model, x, tmp_path)
    assert reloaded.get_layer("head_label").labels == ["a", "b", "c"]
    assert reloaded.get_layer("audio_encoder").num_samples == 4000


def test_vocabulary_is_saved_with_the_model(tmp_path):
    config = tiny_config(("text",))
    vocab = ["", "[UNK]", "cat", "dog", "owl"]
    model = tfmm.build_model(config, vocabularies={"text": vocab})
    x = random_inputs(model, batch=2)
    reloaded = run_model_saving_test(model, x, tmp_path)
    assert reloaded.get_layer("text_encoder").vocabulary == vocab


@pytest.mark.parametrize(
    "task, extra",
    [
        ("multiclass", {"labels": ["a", "b", "c"]}),
        ("binary", {"labels": ["no", "yes"]}),
        ("multilabel", {"labels": ["x", "y", "z", "w"]}),
        ("regression", {"num_targets": 3}),
    ],
)
def test_one_fit_step_per_task(task, extra):
    config = tiny_config(("text", "audio"), outputs=[{"name": "y", "type": task, **extra}])
    model = tfmm.compile_model(tfmm.build_model(config), config)
    x = random_inputs(model, batch=8)
    y = random_targets(config, batch=8)
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    assert all(changed), "every trainable weight should move after a step"


def test_several_heads_train_together():
    config = tiny_config(
        ("text",),
        outputs=[
            {"name": "topic", "type": "multiclass", "labels": ["a", "b", "c"]},
            {"name": "flag", "type": "binary", "labels": ["n", "y"], "loss_weight": 0.5},
            {"name": "value", "type": "regression"},
        ],
    )
    model = tfmm.compile_model(tfmm.build_model(config), config)
    x = random_inputs(model, batch=8)
    history = model.fit(x, random_targets(config, batch=8), epochs=1, verbose=0)
    for key in ("topic_loss", "flag_loss", "value_loss", "topic_accuracy", "flag_auc", "value_mae"):
        assert key in history.history, sorted(history.history)


def test_unknown_labels_are_a_clear_error():
    config = tiny_config(("text",), outputs=[{"name": "label", "type": "multiclass"}])
    with pytest.raises(ValueError, match=r"output 'label': its labels are unknown"):
        tfmm.build_model(config)


def test_vocabulary_for_unknown_input_is_refused():
    config = tiny_config(("text",))
    with pytest.raises(ValueError, match=r"vocabularies given for unknown inputs \['txt'\]"):
        tfmm.build_model(config, vocabularies={"txt": ["a"]})


def test_bert_input_in_fused_model(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]))
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "q",
                    "type": "text",
                    "encoder": {
                        "type": "bert",
                        "vocabulary": str(vocab),
                        "num_layers": 2,
                        "num_heads": 2,
                        "hidden_dim": 16,
                        "intermediate_dim": 32,
                        "sequence_length": 8,
                        "max_sequence_length": 16,
                        "pooling": "mean",
                    },
                },
                {
                    "name": "audio",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": {"type": "lstm", "num_mel_bins": 8, "units": [4]},
                },
            ],
            "outputs": [{"name": "label", "labels": ["x", "y"]}],
        }
    )
    model = tfmm.build_model(config)
    assert {t.name for t in model.inputs} == {
        "q_token_ids",
        "q_segment_ids",
        "q_padding_mask",
        "audio",
        "audio_length",
    }
    run_model_saving_test(model, random_inputs(model, batch=2), tmp_path)


def test_total_loss_is_the_loss_weighted_sum_of_the_heads():
    config = tiny_config(
        ("text",),
        outputs=[
            {"name": "topic", "type": "multiclass", "labels": ["a", "b", "c"], "loss_weight": 0.3},
            {"name": "value", "type": "regression", "loss_weight": 2.0},
        ],
    )
    model = tfmm.compile_model(tfmm.build_model(config), config)
    x, y = random_inputs(model, batch=8), random_targets(config, batch=8)
    pred = model(x)
    topic = float(np.mean(keras.losses.sparse_categorical_crossentropy(y["topic"], pred["topic"])))
    value = float(
        np.mean(
            keras.losses.get(tfmm.models.heads.loss_for(config.outputs[1]))(
                y["value"], pred["value"]
            )
        )
    )
    got = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    np.testing.assert_allclose([got["topic_loss"], got["value_loss"]], [topic, value], rtol=1e-5)
    np.testing.assert_allclose(got["loss"], 0.3 * topic + 2.0 * value, rtol=1e-5)


def test_import_tfmm_is_enough_to_load_a_saved_model(tmp_path):
    # A serving script or notebook in a new process: `import tfmm` then Keras's loader,
    # with safe_mode on and no other tfmm attribute touched first (in both import orders).
    import subprocess
    import sys

    from tests.helpers import random_inputs, tiny_config

    model = tfmm.build_model(tiny_config(("text", "image")))
    x = random_inputs(model, batch=2)
    path = tmp_path / "m.keras"
    model.save(path)
    np.save(tmp_path / "expected.npy", model.predict(x, verbose=0)["label"])
    np.savez(tmp_path / "x.npz", **x)
    for imports in ("import tfmm, keras", "import keras, tfmm"):
        code = (
            f"{imports}; import numpy as np; "
            f"m = keras.saving.load_model({str(path)!r}, safe_mode=True); "
            f"x = dict(np.load({str(tmp_path / 'x.npz')!r})); "
            f"np.testing.assert_allclose(m.predict(x, verbose=0)['label'], "
            f"np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-5); print('LOADED')"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=180,
            env=dict(os.environ, CUDA_VISIBLE_DEVICES=""),
        )
        assert proc.stdout.strip().endswith("LOADED"), (imports, proc.stderr[-2000:])
