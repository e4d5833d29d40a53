"""The quality protocol (benchmarks/protocol.py) and the fair peer: their rules, not figures."""

import json
import os

import numpy as np
import pytest

from benchmarks import protocol


def test_paired_interval_is_the_t_interval_worked_by_hand():
    # Differences 0.05, 0.03, 0.07: mean 0.05, sample std 0.02, t(0.975, 2 df) = 4.3027.
    d, half = protocol.paired_interval([0.30, 0.31, 0.33], [0.35, 0.34, 0.40])
    assert d == pytest.approx(0.05)
    assert half == pytest.approx(4.302653 * 0.02 / np.sqrt(3), rel=1e-5)
    assert np.isnan(protocol.paired_interval([0.1], [0.2])[1])


def test_choose_takes_the_best_mean_and_a_tie_keeps_the_first_listed():
    assert protocol.choose({"a": [0.5, 0.7], "b": [0.7, 0.6]}) == "b"
    assert protocol.choose({"default": [0.5, 0.7], "other": [0.7, 0.5]}) == "default"


class Fake:
    """A model whose candidate 'lucky' tests well but validates badly: the protocol must
    choose on validation, and may read the test rows only after freezing."""

    VAL = {"default": 0.6, "lucky": 0.4}
    TEST = {"default": 0.5, "lucky": 0.9}

    def __init__(self, folder):
        self.folder, self.fits, self.tests = folder, [], []

    def fit(self, model, candidate, d, s):
        self.fits.append((model, candidate, d, s))
        return self.VAL[candidate] + 0.01 * d, f"{model}|{candidate}|{d}|{s}"

    def test(self, model, handle):
        assert os.path.exists(os.path.join(self.folder, "frozen.json")), "test before freezing"
        self.tests.append(handle)
        _, candidate, d, s = handle.split("|")
        return self.TEST[candidate] + 0.01 * int(s) + (0.1 if model == "ours" else 0.0)


def test_the_protocol_chooses_on_validation_freezes_then_tests_each_run_once(tmp_path):
    folder = str(tmp_path / "p")
    fake = Fake(folder)
    cands = {"ours": ["default", "lucky"], "peer": ["default", "lucky"]}
    result = protocol.run_protocol(
        cands,
        fake.fit,
        fake.test,
        folder,
        data_seeds=(1, 2),
        init_seeds=(0, 1),
        log=lambda m: 0,
        rev="abc1234",
    )
    assert result["chosen"] == {"ours": "default", "peer": "default"}
    frozen = json.load(open(os.path.join(folder, "frozen.json")))
    assert frozen["chosen"] == result["chosen"]
    assert frozen["val"]["ours"] == {
        "default": pytest.approx([0.61, 0.62]),
        "lucky": pytest.approx([0.41, 0.42]),
    }
    # Selection: 2 candidates x 2 data seeds at init seed 0; then init seed 1 for the
    # chosen one only; the selection's init-0 runs are reused, never refitted.
    assert sorted(f for f in fake.fits if f[0] == "ours") == [
        ("ours", "default", 1, 0),
        ("ours", "default", 1, 1),
        ("ours", "default", 2, 0),
        ("ours", "default", 2, 1),
        ("ours", "lucky", 1, 0),
        ("ours", "lucky", 2, 0),
    ]
    assert len(fake.tests) == len(set(fake.tests)) == 8
    assert not any("lucky" in h for h in fake.tests)
    assert result["test"]["ours"] == [[pytest.approx(0.6), pytest.approx(0.61)]] * 2
    text = protocol.markdown(result, "ours", "peer")
    assert "Paired difference, ours - peer: **+0.100**" in text
    assert "| ours | default | default: 0.615, lucky: 0.415 | 0.605 ± 0.005 |" in text

    # A rerun resumes from the state: nothing is trained or tested again, and the commit
    # reported is the one the runs came from.
    again = Fake(folder)
    resumed = protocol.run_protocol(
        cands, again.fit, again.test, folder, (1, 2), (0, 1), log=lambda m: 0, rev="fff0000"
    )
    assert resumed == result and resumed["commit"] == "abc1234"
    assert again.fits == [] and again.tests == []


def test_a_folder_frozen_on_other_scores_is_refused(tmp_path):
    folder = str(tmp_path / "p")
    fake = Fake(folder)
    protocol.run_protocol({"ours": ["default", "lucky"]}, fake.fit, fake.test, folder, (1,), (0,))
    state = json.load(open(os.path.join(folder, "state.json")))
    state["val"]["ours/lucky/1/0"] = 0.99  # as if another run's scores were there
    json.dump(state, open(os.path.join(folder, "state.json"), "w"))
    with pytest.raises(
        RuntimeError, match=r"froze \{'ours': 'default'\}.*choose \{'ours': 'lucky'\}"
    ):
        protocol.run_protocol(
            {"ours": ["default", "lucky"]}, fake.fit, fake.test, folder, (1,), (0,)
        )


def test_the_peer_keeps_its_best_validation_epoch_and_breaks_ties_by_loss():
    import keras

    from benchmarks.peer import KeepBest

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    keep = KeepBest()
    keep.set_model(model)
    epochs = [(0.5, 1.0), (0.8, 0.9), (0.8, 0.4), (0.8, 0.6), (0.7, 0.1)]  # (val acc, loss)
    for k, (acc, loss) in enumerate(epochs):
        model.set_weights([np.full((1, 1), float(k), "float32")])
        keep.on_epoch_end(k, {"val_accuracy": acc, "val_loss": loss})
    keep.on_train_end()
    assert model.get_weights()[0][0, 0] == 2.0  # epoch 3 of the three tied at 0.8


def test_the_peer_resamples_clips_to_16_khz():
    from benchmarks.peer import RATE, _resample

    t8 = np.arange(8000) / 8000
    out = _resample(np.sin(2 * np.pi * 440 * t8).astype("float32"), 8000)
    assert out.shape == (16000,) and out.dtype == np.float32
    t16 = np.arange(16000) / RATE
    expected = np.sin(2 * np.pi * 440 * t16)
    assert np.abs(out[200:-200] - expected[200:-200]).max() < 0.02  # edges: filter ramp
    same = np.ones(5, "float32")
    assert _resample(same, 16000) is same


def test_the_table_benchmark_pairs_each_tfmm_run_with_the_stack_on_its_split():
    from benchmarks import tables

    def row(auc, d, i):
        return {"val_auc": 0.9, "test_auc": auc, "test_accuracy": 0.8, "split": d, "init": i}

    rows = {
        # tfmm: 2 splits x 2 initialisation seeds; the stack once per split.
        "tfmm_default": [row(0.91 + 0.02 * i + 0.01 * d, d, i) for d in (1, 0) for i in (1, 0)],
        "sklearn_stack": [row(0.90 + 0.03 * d, d, 0) for d in (0, 1)],
    }
    text = tables.markdown(rows, (0, 1))
    # Differences: split 0: 0.01, 0.03; split 1: -0.01, 0.01 (tfmm 0.92/0.94 against
    # 0.93): mean 0.01, sample std 0.01633, t(0.975, 3) = 3.1824.
    diffs = [0.01, 0.03, -0.01, 0.01]
    half = 3.182446 * np.std(diffs, ddof=1) / 2
    assert f"**+0.010** (95% t interval {0.01 - half:+.3f} to {0.01 + half:+.3f}, 4 runs" in text
    assert "| **tfmm default** (no encoder keys: tfidf + mlp, concat; SGD 0.03) | 4 |" in text
    assert "| **scikit-learn: stack** (the mark) | 2 |" in text


def test_the_table_choice_reads_validation_only_and_marks_the_best(tmp_path, monkeypatch):
    from benchmarks import tables

    seen = []

    def fake_run(name, paths, run_dir, seed, training=None, text_encoder=None):
        seen.append(dict(paths))
        auc = {"adamw": 0.90, "sgd": 0.93}[training["optimizer"]] - training["learning_rate"]
        return {"val_auc": auc + 0.001 * seed + text_encoder["units"] / 1e4}

    monkeypatch.setattr(tables, "run_tfmm", fake_run)
    monkeypatch.setattr(tables, "split", lambda seed, out: {"train": "t", "val": "v", "test": "x"})
    monkeypatch.setattr(
        tables,
        "CHOICES",
        (("adamw", 3e-3, 64), ("sgd", 0.1, 64), ("sgd", 0.01, 64), ("sgd", 0.01, 8)),
    )
    rows = tables.choose(str(tmp_path), seeds=(0, 1), log=lambda *a: None)
    assert all("test" not in p for p in seen) and len(seen) == 2 * 2 * 4
    # sgd 0.01 units 64: 0.92 + 0.0064 + 0.001 * seed over seeds 0, 1 and inits (seed + 100 * init).
    assert np.mean(rows[("sgd", 0.01, 64)]) == pytest.approx(
        0.9264 + 0.001 * np.mean([0, 1, 100, 101])
    )
    text = tables.choice_markdown(rows, (0, 1))
    assert "| **sgd** | 0.01 | 64 | 4 |" in text and "| adamw | 0.003 | 64 | 4 |" in text
    assert "| sgd | 0.01 | 8 | 4 |" in text
    assert "Best: sgd at 0.01, tfidf units 64." in text
