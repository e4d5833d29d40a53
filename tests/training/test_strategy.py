"""The strategy `auto` picks, and jit_compile reaching the compiled model."""

import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tests.helpers import random_inputs, random_targets, tiny_config
from tfmm.training import strategy as strategy_module


def test_auto_is_the_default_strategy_on_one_cpu():
    chosen = strategy_module.get_strategy("auto")
    assert chosen is tf.distribute.get_strategy() and chosen.num_replicas_in_sync == 1


def test_auto_prefers_a_tpu_then_several_gpus(monkeypatch):
    tpu, mirrored = object(), object()
    monkeypatch.setattr(strategy_module, "_try_tpu", lambda: tpu)
    assert strategy_module.get_strategy("auto") is tpu
    monkeypatch.setattr(strategy_module, "_try_tpu", lambda: None)
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda *a: mirrored)
    devices = {"GPU": ["gpu0", "gpu1"]}
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: devices.get(kind, []))
    assert strategy_module.get_strategy("auto") is mirrored
    devices["GPU"] = ["gpu0"]  # one GPU: the default strategy places ops on it
    assert strategy_module.get_strategy("auto") is tf.distribute.get_strategy()


def test_unknown_strategy_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown strategy 'gpus'; allowed: \['auto'"):
        strategy_module.get_strategy("gpus")


def test_jit_compile_reaches_the_model_and_trains_a_step():
    config = tiny_config(("text",))
    model = tfmm.build_model(config)
    tfmm.compile_model(model, config, jit_compile=True)
    assert model.jit_compile is True
    x, y = random_inputs(model, batch=4), random_targets(config, batch=4)
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
