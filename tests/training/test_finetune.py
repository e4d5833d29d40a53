"""The fine-tuning recipe (frozen pretrained encoders, then unfrozen at a lower learning
rate) and mixed precision."""

import dataclasses

import keras
import numpy as np
import pytest

import tfmm
from tests.helpers import write_tiny_train_config


def _pretrained_weights_file(tmp_path):
    # MobileNetV3Small: the recipe is the same for every pretrained backbone (resnet50
    # too), and this one builds and trains in a fraction of ResNet50's time.
    ref = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    )
    path = str(tmp_path / "pretrained.weights.h5")
    ref.save_weights(path)
    return path, [w.numpy() for w in ref.weights]


def _config(tmp_path, train_data, weights, epochs):
    path = write_tiny_train_config(
        tmp_path,
        train_data,
        modalities=("text", "image"),
        epochs=epochs,
        inputs={"image": {"encoder": {"type": "mobilenet", "weights": weights}}},
        # The last epoch's weights: this checks the phases, not which epoch was best.
        training={"freeze_pretrained_epochs": 1, "learning_rate": 1e-3, "restore_best": False},
    )
    return tfmm.load_config(path)


@pytest.mark.slow
def test_pretrained_encoder_frozen_first_then_finetuned_at_lower_rate(
    train_data, tmp_path, monkeypatch
):
    weights, pretrained = _pretrained_weights_file(tmp_path)
    # The image encoder's weights at the end of each phase (one `fit` per phase).
    ends = []

    class PhaseEnd(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            ends.append(self.model.get_layer("image_encoder").get_weights())

    build_callbacks = tfmm.training.loop.build_callbacks
    monkeypatch.setattr(
        tfmm.training.loop,
        "build_callbacks",
        lambda *a, **k: [*build_callbacks(*a, **k), PhaseEnd()],
    )
    logs = []
    config = _config(tmp_path, train_data, weights, epochs=2)
    model, _ = tfmm.training.train(config, str(tmp_path / "run"), verbose=0, log=logs.append)
    assert len(ends) == 2
    # The frozen phase (epoch 1): the backbone's weights, BatchNorm statistics included,
    # are the file's, untouched, while the rest trained.
    assert max(float(np.abs(a - b).max()) for a, b in zip(ends[0], pretrained)) == 0.0
    assert any(
        "phase 1/2: epochs 1-1 at learning rate 0.001, frozen: image_encoder" in line
        for line in logs
    )
    # Unfrozen in epoch 2, at learning_rate / 10 by default.
    assert max(float(np.abs(a - b).max()) for a, b in zip(ends[1], pretrained)) > 0.0
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    assert any(
        "phase 2/2: epochs 2-2 at learning rate 0.0001, all encoders trainable" in line
        for line in logs
    )
    assert model.get_layer("image_encoder").trainable


def test_freeze_without_pretrained_encoders_says_so(train_data, tmp_path):
    path = write_tiny_train_config(
        tmp_path, train_data, epochs=1, training={"freeze_pretrained_epochs": 1}
    )
    logs = []
    tfmm.training.train(tfmm.load_config(path), str(tmp_path / "run"), verbose=0, log=logs.append)
    assert any("no encoder has pretrained weights" in line for line in logs)


def test_freeze_epochs_beyond_epochs_is_refused(train_data, tmp_path):
    path = write_tiny_train_config(tmp_path, train_data, epochs=2)
    with pytest.raises(
        tfmm.ConfigError,
        match=r"training.freeze_pretrained_epochs: must be "
        r"between 0 and epochs \(2\)",
    ):
        tfmm.load_config(path, overrides=["training.freeze_pretrained_epochs=3"])


@pytest.fixture
def policy_reset():
    """Puts the float32 policy back after the test, whatever the code under test did (so
    a leak fails its own assertion, not the tests that follow)."""
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_on_cpu_is_bfloat16_with_float32_heads(train_data, tmp_path, policy_reset):
    path = write_tiny_train_config(
        tmp_path, train_data, epochs=1, training={"mixed_precision": True}
    )
    logs = []
    assert keras.mixed_precision.global_policy().name == "float32"
    model, metrics = tfmm.training.train(
        tfmm.load_config(path), str(tmp_path / "run"), verbose=0, log=logs.append
    )
    assert "precision mixed_bfloat16" in logs[0]
    assert model.get_layer("fusion_concat").compute_dtype == "bfloat16"
    assert model.get_layer("head_label").compute_dtype == "float32"
    # The log-mel front end stays in float32 (log power spans many orders of magnitude).
    assert model.get_layer("audio_encoder").get_layer("log_mel").compute_dtype == "float32"
    assert np.isfinite(metrics["label"]["accuracy"])
    # The policy is put back after the run.
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.slow
def test_a_phase_ending_on_nan_hands_nothing_over(train_data, tmp_path):
    weights, _ = _pretrained_weights_file(tmp_path)
    config = _config(tmp_path, train_data, weights, epochs=2)
    config = dataclasses.replace(
        config, training=dataclasses.replace(config.training, learning_rate=1e30)
    )
    run = tmp_path / "nan"
    with pytest.raises(tfmm.training.TrainingError, match="loss became"):
        tfmm.training.train(config, str(run), verbose=0, log=lambda *a: None)
    # Started again, the run would redo phase 1 rather than fine-tune NaN weights.
    assert not (run / "backup" / "phase1.done.weights.h5").exists()


def test_a_failed_mixed_precision_run_gives_the_policy_back(train_data, tmp_path, policy_reset):
    import shutil

    path = write_tiny_train_config(
        tmp_path, train_data, epochs=1, training={"mixed_precision": True}
    )
    config = tfmm.load_config(path)
    shutil.copy(train_data / "train.csv", tmp_path / "broken.csv")
    with open(tmp_path / "broken.csv", "a") as f:
        f.write("only,two\n")
    config = dataclasses.replace(
        config, data=dataclasses.replace(config.data, train=str(tmp_path / "broken.csv"))
    )
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(tfmm.data.DataError, match="broken.csv"):
        tfmm.training.train(config, str(tmp_path / "run"), verbose=0, log=lambda *a: None)
    assert keras.mixed_precision.global_policy().name == "float32"
