"""The training recipes of the learning issue: augmentation, label smoothing, warmup,
the best epoch's weights, auxiliary heads through the pipeline."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tfmm.export.ops import saved_model_ops
from tfmm.losses import SparseCategoricalCrossentropyWithSmoothing
from tests.helpers import (
    TINY_FUSION,
    TINY_FUSIONS,
    random_inputs,
    random_targets,
    run_model_saving_test,
    tiny_config,
    tiny_demo_dict,
)

TINY_CNN = {"type": "cnn", "filters": [4, 8], "norm": "none"}


def _augmented_config(augment=True, **training):
    return tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "text",
                    "type": "text",
                    "augment": augment,
                    "encoder": {
                        "type": "textcnn",
                        "vocab_size": 40,
                        "sequence_length": 8,
                        "embedding_dim": 4,
                        "kernel_sizes": [2],
                        "filters": 3,
                        "dropout": 0.0,
                    },
                },
                {
                    "name": "image",
                    "type": "image",
                    "image_size": 16,
                    "augment": augment,
                    "encoder": TINY_CNN,
                },
                {
                    "name": "audio",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "augment": augment,
                    "encoder": {**TINY_CNN, "num_mel_bins": 8},
                },
            ],
            # No modality dropout either: it too acts in training only.
            "fusion": {**TINY_FUSION, "modality_dropout": 0.0},
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
            "training": training,
        }
    )


def _inputs(model, seed=0):
    x = random_inputs(model, batch=4, seed=seed)
    x["text"] = np.random.default_rng(seed).integers(2, 40, (4, 8)).astype("int32")
    x["audio_length"] = np.full((4,), x["audio"].shape[1], "int32")
    return x


@pytest.mark.parametrize("augment", [False, True])
def test_augmentation_changes_training_inputs_and_never_evaluation_inputs(augment):
    # No dropout and no batch statistics: training and inference differ only by the
    # augmentation, so without it (the control) they agree exactly.
    model = tfmm.build_model(_augmented_config(augment))
    x = _inputs(model)
    evaluation = [model(x, training=False)["label"].numpy() for _ in range(2)]
    np.testing.assert_array_equal(evaluation[0], evaluation[1])
    trained = model(x, training=True)["label"].numpy()
    assert (
        np.abs(trained - evaluation[0]).max() > 1e-6
        if augment
        else np.allclose(trained, evaluation[0], atol=1e-6)
    )
    if augment:
        layers = {
            "text": model.get_layer("text_augment"),
            "image": model.get_layer("image_augment"),
            "audio": model.get_layer("audio_encoder").get_layer("spec_augment"),
        }
        features = {
            "text": x["text"],
            "image": x["image"],
            "audio": np.random.default_rng(0).normal(size=(4, 23, 8)).astype("f4"),
        }
        for name, layer in layers.items():
            v = features[name]
            np.testing.assert_array_equal(layer(v, training=False), v, err_msg=name)
            assert not np.array_equal(layer(v, training=True), v), name


def test_augmentation_is_absent_from_the_export_but_present_in_a_training_trace(tmp_path):
    config = _augmented_config(True)
    vocabularies = {"text": [f"w{i}" for i in range(30)]}
    model = tfmm.build_model(config, vocabularies)
    paths = tfmm.export.export_model(
        model,
        config,
        vocabularies,
        str(tmp_path / "sm"),
        formats=("savedmodel",),
        log=lambda *a: None,
    )
    exported = [op for op in saved_model_ops(paths["savedmodel"]) if "Random" in op]
    assert exported == []
    # The control: the same model traced for training holds random ops.
    x = {k: tf.constant(v) for k, v in _inputs(model).items()}
    graph = tf.function(lambda x: model(x, training=True)).get_concrete_function(x).graph
    assert any("Random" in op.type for op in graph.get_operations())


def test_token_dropout_keeps_padding_and_drops_about_its_rate():
    from tfmm.layers.augment import TokenDropout

    ids = np.tile(np.array([[5, 6, 7, 8, 9, 10, 0, 0]], "int32"), (500, 1))
    out = TokenDropout(0.2, seed=1)(ids, training=True).numpy()
    assert (out[:, 6:] == 0).all()
    dropped = out[:, :6] == 1
    assert 0.17 < dropped.mean() < 0.23
    assert ((out[:, :6] == ids[:, :6]) | dropped).all()


def test_label_smoothing_loss_matches_categorical_crossentropy_with_smoothing():
    rng = np.random.default_rng(0)
    probs = keras.ops.softmax(rng.normal(size=(6, 4))).numpy()
    y = np.array([0, 1, 2, 3, 0, 1])
    got = float(SparseCategoricalCrossentropyWithSmoothing(0.2)(y, probs))
    want = float(keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(np.eye(4)[y], probs))
    plain = float(keras.losses.SparseCategoricalCrossentropy()(y, probs))
    assert got == pytest.approx(want, rel=1e-5)
    assert abs(got - plain) > 1e-3


def test_all_recipes_train_a_step_and_reload_with_safe_mode(tmp_path):
    config = _augmented_config(True, label_smoothing=0.1, warmup_epochs=1, lr_schedule="cosine")
    model = tfmm.build_model(config)
    from tfmm.training.optimizers import build_optimizer as _optimizer

    tfmm.compile_model(model, config, optimizer=_optimizer(config, steps_per_epoch=4))
    x, y = _inputs(model), random_targets(config, batch=4)
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, y, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.trainable_weights))
    # The compiled loss is the smoothed one (no dropout or augmentation in evaluation).
    probs = model.predict(x, verbose=0)["label"]
    loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(
        float(SparseCategoricalCrossentropyWithSmoothing(0.1)(y["label"], probs)), rel=1e-4
    )
    reloaded = run_model_saving_test(model, x, tmp_path)
    # The smoothed loss came back with the model: the same loss on the same batch.
    assert reloaded.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(
        model.evaluate(x, y, verbose=0, return_dict=True)["loss"], rel=1e-5
    )


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_warmup_rises_linearly_then_follows_the_schedule(schedule):
    from tfmm.training.optimizers import build_optimizer as _optimizer

    config = _augmented_config(
        False, learning_rate=1e-2, epochs=4, warmup_epochs=1, lr_schedule=schedule
    )
    optimizer = _optimizer(config, steps_per_epoch=10)
    at = []
    for step in (0, 4, 9, 10, 39):
        optimizer.iterations.assign(step)
        at.append(float(optimizer.learning_rate))
    assert at[0] < at[1] < at[2] <= 1e-2 + 1e-9
    assert at[0] <= 2e-3
    if schedule == "constant":
        assert at[3] == pytest.approx(1e-2) and at[4] == pytest.approx(1e-2)
    else:
        assert at[3] == pytest.approx(1e-2, rel=0.05) and at[4] < 1e-3


def test_warmup_auto_is_one_epoch_for_the_token_fusions_only():
    from tfmm.training.optimizers import build_optimizer as _optimizer
    from tfmm.training.schedules import warmup_epochs

    for fusion, want in (
        ("concat", 0.0),
        ("late", 0.0),
        ("single_stream", 1.0),
        ("cross_attention", 1.0),
    ):
        config = tiny_config(("text", "audio"), fusion=TINY_FUSIONS[fusion])
        assert config.training.warmup_epochs == "auto"
        assert warmup_epochs(config) == want, fusion
        optimizer = _optimizer(config, steps_per_epoch=10)
        optimizer.iterations.assign(0)
        first = float(optimizer.learning_rate)
        assert first == pytest.approx(
            config.training.learning_rate / 10 if want else config.training.learning_rate
        ), fusion
    config = tiny_config(("text",), fusion=TINY_FUSIONS["single_stream"])
    config = dataclasses.replace(
        config, training=dataclasses.replace(config.training, warmup_epochs=0)
    )
    assert warmup_epochs(config) == 0.0


def test_restore_best_loads_the_best_epoch_and_says_so(tmp_path):
    from tfmm.training.loop import _restore_best

    config = _augmented_config(False)
    model = tfmm.build_model(config)
    model.save(tmp_path / "best.keras")
    best = [w.copy() for w in model.get_weights()]
    with open(tmp_path / "best.json", "w") as f:
        json.dump({"monitor": "val_loss", "value": 0.5, "epoch": 2}, f)
    model.set_weights([w + 1.0 for w in best])
    lines = []
    _restore_best(model, str(tmp_path), 5, lines.append)
    for a, b in zip(model.get_weights(), best):
        np.testing.assert_array_equal(a, b)
    assert "epoch 2 of 5" in lines[0] and "val_loss" in lines[0]


def test_a_run_keeps_its_best_epoch_and_auxiliary_heads_train_from_files(train_data, tmp_path):
    # Auxiliary heads get their targets from the pipeline (the run failed before with
    # "y_true and y_pred have different structures").
    cfg = tiny_demo_dict(train_data, modalities=("text", "audio"), epochs=3)
    cfg["fusion"]["auxiliary_loss_weight"] = 0.5
    lines = []
    model, metrics = tfmm.training.train(
        tfmm.config_from_dict(cfg), str(tmp_path / "run"), log=lines.append, verbose=0
    )
    run = tmp_path / "run"
    best = json.loads((run / "best.json").read_text())
    assert any(f"holds epoch {best['epoch']} of 3" in line for line in lines)
    saved = keras.saving.load_model(run / "model.keras", safe_mode=True)
    kept = keras.saving.load_model(run / "best.keras", safe_mode=True)
    for a, b in zip(saved.get_weights(), kept.get_weights()):
        np.testing.assert_array_equal(a, b)
    history = (run / "history.csv").read_text()
    assert "label_aux_text_loss" in history
    # monitor "auto" follows the fused head's accuracy, by the name Keras logs it under.
    assert best["monitor"] == "val_label_accuracy" and best["monitor"] in history.split("\n")[0]
    assert json.loads((run / "metrics.json").read_text()) == json.loads(json.dumps(metrics))


def test_monitor_auto_is_the_first_classification_heads_validation_accuracy():
    from tfmm.training.callbacks import resolve_monitor

    def config(outputs, val=True, aux=0.0, monitor="auto"):
        return tfmm.config_from_dict(
            {
                "inputs": [{"name": "text", "type": "text"}],
                "outputs": outputs,
                "fusion": {"type": "concat", "auxiliary_loss_weight": aux},
                "data": {"val": "val.csv" if val else None},
                "training": {"monitor": monitor},
            }
        )

    label = {"name": "label", "labels": ["a", "b"]}
    score = {"name": "score", "type": "regression"}
    assert resolve_monitor(config([label])) == ("val_accuracy", "max")
    assert resolve_monitor(config([label], aux=0.5)) == ("val_label_accuracy", "max")
    assert resolve_monitor(config([score, label])) == ("val_label_accuracy", "max")
    assert resolve_monitor(config([score])) == ("val_loss", "min")
    assert resolve_monitor(config([label], val=False)) == ("accuracy", "max")
    assert resolve_monitor(config([label], monitor="val_loss")) == ("val_loss", "min")


def _grads(model, x, y, output, layer):
    weights = model.get_layer(layer).trainable_weights
    with tf.GradientTape() as tape:
        out = model(x, training=False)
        loss = keras.losses.SparseCategoricalCrossentropy()(y, out[output])
    return [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, weights)]


def test_gradient_blending_scales_each_auxiliary_heads_gradient_into_its_encoder():
    config = _augmented_config(False)
    config = dataclasses.replace(
        config,
        fusion=dataclasses.replace(
            config.fusion, auxiliary_loss_weight=0.5, balance="gradient_blending"
        ),
    )
    model = tfmm.build_model(config)
    x, y = _inputs(model), np.array([0, 1, 2, 0])
    full = _grads(model, x, y, "label_aux_text", "text_encoder")
    fused = _grads(model, x, y, "label", "text_encoder")
    model.get_layer("blend_label_aux_text").scale.assign(0.25)
    quarter = _grads(model, x, y, "label_aux_text", "text_encoder")
    assert max(np.abs(g).max() for g in full) > 0
    for a, b in zip(full, quarter):
        np.testing.assert_allclose(b, 0.25 * a, rtol=1e-5, atol=1e-9)
    # The fused head's gradient is not touched.
    for a, b in zip(fused, _grads(model, x, y, "label", "text_encoder")):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_gradient_blending_needs_auxiliary_heads():
    with pytest.raises(tfmm.config.ConfigError, match="auxiliary_loss_weight > 0"):
        tfmm.config_from_dict(
            {
                "inputs": [{"name": "text", "type": "text"}],
                "fusion": {"type": "concat", "balance": "gradient_blending"},
                "outputs": [{"name": "label", "labels": ["a", "b"]}],
            }
        )


def test_gradient_blending_sets_weights_from_the_logged_losses(train_data, tmp_path):
    cfg = tiny_demo_dict(train_data, modalities=("text", "audio"), epochs=3)
    cfg["fusion"].update(auxiliary_loss_weight=0.5, balance="gradient_blending")
    tfmm.training.train(
        tfmm.config_from_dict(cfg), str(tmp_path / "run"), log=lambda *a: None, verbose=0
    )
    import csv

    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    heads = ["label_aux_text", "label_aux_audio"]
    assert [float(rows[0][f"blend_{h}"]) for h in heads] == [1.0, 1.0]
    for before, after in zip(rows, rows[1:]):
        # Wang, Tran and Feiszli (2020), eq. 4-6, written out here: a head's weight is its
        # generalisation G (the fall of its validation loss) over the square of the growth
        # of its overfitting O (validation minus training loss), normalised by the
        # largest; all even when no head generalised.
        def loss(row, head, val):
            return float(row[f"{'val_' if val else ''}{head}_loss"])

        g = {h: max(loss(before, h, True) - loss(after, h, True), 0.0) for h in heads}
        o = {
            h: (loss(after, h, True) - loss(after, h, False))
            - (loss(before, h, True) - loss(before, h, False))
            for h in heads
        }
        ratio = {h: g[h] / (o[h] ** 2 + 1e-4) for h in heads}  # 1e-4: documented
        top = max(ratio.values())
        want = {h: ratio[h] / top if top > 0 else 1.0 for h in heads}
        got = {h: float(after[f"blend_{h}"]) for h in heads}
        assert got == pytest.approx(want, rel=1e-4)


def test_gradient_blending_weights_from_scripted_epochs_match_the_papers_rule():
    from tfmm.layers.fusion import GradientScale
    from tfmm.training.balance import GradientBlending

    x = keras.Input((2,))
    model = keras.Model(x, [GradientScale(name="blend_a")(x), GradientScale(name="blend_b")(x)])
    cb = GradientBlending(["a", "b"])
    cb.set_model(model)
    logs = {"a_loss": 2.0, "val_a_loss": 2.0, "b_loss": 2.0, "val_b_loss": 2.0}
    cb.on_epoch_end(0, logs)
    assert (logs["blend_a"], logs["blend_b"]) == (1.0, 1.0)
    # Worked by hand: a generalises (G 0.4, overfitting grew by 0.1): 0.4 / (0.1^2 + 1e-4)
    # = 39.604; b memorises (G 0.3, overfitting grew by 0.7): 0.3 / (0.7^2 + 1e-4) = 0.61212;
    # normalised by the largest: a 1, b 0.015456.
    logs = {"a_loss": 1.5, "val_a_loss": 1.6, "b_loss": 1.0, "val_b_loss": 1.7}
    cb.on_epoch_end(1, logs)
    assert logs["blend_a"] == pytest.approx(1.0)
    assert logs["blend_b"] == pytest.approx(0.015456, rel=1e-4)
    assert float(model.get_layer("blend_b").scale.numpy()) == pytest.approx(0.015456, rel=1e-4)
    # No head generalised (both validation losses rose): even weights again.
    cb.on_epoch_end(2, {"a_loss": 1.4, "val_a_loss": 1.7, "b_loss": 0.9, "val_b_loss": 1.8})
    assert float(model.get_layer("blend_b").scale.numpy()) == 1.0


def test_evaluate_missing_reports_one_row_per_modality(train_data, tmp_path, capsys):
    from tfmm.cli import main

    cfg = tiny_demo_dict(train_data, modalities=("text", "image", "audio"), epochs=2)
    cfg["inputs"][1]["encoder"] = {"type": "cnn", "filters": [4, 8]}
    cfg["inputs"][1]["image_size"] = 16
    cfg["fusion"]["modality_dropout"] = 0.3
    run = tmp_path / "run"
    model, metrics = tfmm.training.train(
        tfmm.config_from_dict(cfg), str(run), log=lambda *a: None, verbose=0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(run),
                "--manifest",
                str(train_data / "test.csv"),
                "--missing",
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["removed"] for r in rows] == ["none", "text", "image", "audio"]
    # Nothing removed: the plain evaluation's numbers.
    assert rows[0]["label_accuracy"] == pytest.approx(metrics["label"]["accuracy"])
    assert rows[0]["label_macro_f1"] == pytest.approx(metrics["label"]["macro_f1"])
    # Removing a modality changes the predictions: some row's numbers move.
    assert any(
        (r["label_auroc"], r["label_accuracy"])
        != (rows[0]["label_auroc"], rows[0]["label_accuracy"])
        for r in rows[1:]
    )
    saved = json.loads(next(run.glob("eval-test*/missing.json")).read_text())
    assert saved["rows"] == rows


def test_steps_per_epoch_are_the_full_global_batches_of_the_split():
    from tfmm.training.setup import steps_per_epoch

    config = _augmented_config(False)
    assert [steps_per_epoch(config, rows, 32) for rows in (70, 64, 63, 10)] == [2, 2, 1, 1]
    fixed = dataclasses.replace(
        config, training=dataclasses.replace(config.training, steps_per_epoch=5)
    )
    assert steps_per_epoch(fixed, 70, 32) == 5


def _checkpoint_run(tmp_path, epochs, monitor="val_accuracy", tie_breaker="val_loss"):
    """BestCheckpoint over scripted epochs [(monitored value, val_loss)]; returns best.json
    and, per saved epoch, the marker weight the model had when it was saved."""
    from tfmm.training.callbacks import BestCheckpoint

    x = keras.Input((1,))
    model = keras.Model(x, keras.layers.Dense(1, name="d")(x))
    cb = BestCheckpoint(
        str(tmp_path / "best.keras"), monitor=monitor, mode="max", tie_breaker=tie_breaker
    )
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, (value, loss) in enumerate(epochs):
        model.get_layer("d").bias.assign([float(epoch + 1)])  # marks the epoch's weights
        cb.on_epoch_end(epoch, {monitor: value, "val_loss": loss})
    saved = keras.saving.load_model(tmp_path / "best.keras")
    return (
        json.loads((tmp_path / "best.json").read_text()),
        float(saved.get_layer("d").bias.numpy()[0]),
    )


def test_a_tie_on_the_monitored_accuracy_keeps_the_epoch_with_the_lowest_loss(tmp_path):
    # Validation accuracy saturates at 1.0 from epoch 2; the loss keeps falling to epoch 4.
    epochs = [(0.9, 0.40), (1.0, 0.30), (0.95, 0.25), (1.0, 0.05), (1.0, 0.08)]
    best, marker = _checkpoint_run(tmp_path, epochs)
    assert (best["epoch"], marker) == (4, 4.0)
    assert best["tied_epochs"] == [2, 4, 5]
    assert best["tie_value"] == pytest.approx(0.05)
    # Without a tie-breaker the first epoch to reach the best value is kept (Keras's rule).
    (tmp_path / "plain").mkdir()
    best, marker = _checkpoint_run(tmp_path / "plain", epochs, tie_breaker=None)
    assert (best["epoch"], marker) == (2, 2.0)


def test_a_strict_improvement_beats_a_lower_loss(tmp_path):
    best, marker = _checkpoint_run(tmp_path, [(0.8, 0.1), (0.9, 0.5), (0.85, 0.01)])
    assert (best["epoch"], marker, best["tied_epochs"]) == (2, 2.0, [2])


def test_a_run_whose_validation_accuracy_saturates_keeps_its_lowest_loss_tied_epoch(tmp_path):
    import csv

    words = {"a": ["calm", "quiet", "soft"], "b": ["loud", "harsh", "noisy"]}
    rng = np.random.default_rng(0)
    for split, n in (("train", 96), ("val", 12)):
        with open(tmp_path / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            for k in range(n):
                label = "ab"[k % 2]
                w.writerow([" ".join(rng.choice(words[label], 3)) + " day", label])
    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "text", "type": "text", "encoder": {"type": "tfidf", "units": 8}}],
            "outputs": [{"name": "label"}],
            "data": {
                "train": str(tmp_path / "train.csv"),
                "val": str(tmp_path / "val.csv"),
                "batch_size": 8,
            },
            "training": {"epochs": 12},
        }
    )
    lines = []
    tfmm.training.train(config, str(tmp_path / "run"), log=lines.append, verbose=0)
    history = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    acc = [float(r["val_accuracy"]) for r in history]
    loss = [float(r["val_loss"]) for r in history]
    tied = [e + 1 for e, a in enumerate(acc) if a == max(acc)]
    assert max(acc) == 1.0 and len(tied) >= 2  # saturated: a tie to break
    want = min(tied, key=lambda e: loss[e - 1])
    assert want != tied[0]  # the first tied epoch is not the best
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert (best["epoch"], best["tied_epochs"]) == (want, tied)
    said = [line for line in lines if "model.keras holds epoch" in line]
    assert said and f"holds epoch {want} of 12" in said[0]
    assert f"epoch {want} had the lowest val_loss ({loss[want - 1]:.4g})" in said[0]


def test_the_missing_twin_holds_each_encoders_own_weights():
    # Image and audio `cnn` encoders hold sublayers of the same names and, here, the same
    # shapes (stage1_conv0: 3x3, 4 -> 8): a weight copy keyed by variable path gave one
    # encoder the other's weights, silently. With everything present the twin must
    # predict what the run's model predicts.
    from tests.helpers import randomize_weights, tiny_config, with_input
    from tfmm.training.inference import optional_twin

    config = tiny_config(("image", "audio"))  # image: cnn [4, 8]
    config = with_input(config, 1, encoder=config.inputs[0].encoder)
    model = tfmm.build_model(config)
    randomize_weights(model, seed=3)
    _, twin = optional_twin(model, config, None)
    x = random_inputs(model, batch=3)
    present = {**x, **{f"{i.name}_present": np.ones((3,), "float32") for i in config.inputs}}
    np.testing.assert_allclose(
        twin.predict(present, verbose=0)["label"], model.predict(x, verbose=0)["label"], atol=1e-5
    )
