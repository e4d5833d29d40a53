"""`tfmm tune`: a space validated by key before any trial; trials that are ordinary run
directories chosen on validation; the test split read once, for the best trial; a killed
search resumed without repeating finished trials; a chief and two workers sharing one
search without running a trial twice."""

import csv
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

import tfmm
from tests.helpers import write_tiny_train_config
from tfmm.tuning.space import Space, SpaceError

pytest.importorskip("keras_tuner")

BASE = {
    "inputs": [{"name": "text", "type": "text", "encoder": "textcnn"}],
    "outputs": [{"name": "label", "labels": ["a", "b"]}],
    "fusion": {"type": "concat", "normalize": True, "hidden_units": [8]},
}


@pytest.mark.parametrize(
    "space, message",
    [
        (
            {"training.epoks": {"int": [1, 3]}},
            "space: training.epoks: unknown key. Did you mean 'epochs'?",
        ),
        (
            {"training.learning_rate": {"log_uniform": [0.01, 0.001]}},
            "space: training.learning_rate: log_uniform needs low < high. Received: [0.01, 0.001]",
        ),
        (
            {"training.learning_rate": {"log_uniform": [0, 0.01]}},
            "space: training.learning_rate: log_uniform needs low > 0",
        ),
        (
            {"fusion.type": {"choice": ["concat", "nope"]}},
            "space: fusion.type: unknown type 'nope'; allowed: ['concat', 'cross_attention'",
        ),
        ({"fusion.dropout": {"uniform": [0.0, 1.5]}}, "space: fusion.dropout: must be in [0, 1)"),
        (
            {"inputs.photo.encoder.filters": {"choice": [[4]]}},
            "space: inputs.photo: no item named 'photo'; names: ['text'].",
        ),
        ({"training.epochs": {"between": [1, 3]}}, "space: training.epochs: expected one of"),
        ({"training.epochs": {"choice": []}}, "space: training.epochs: choice needs a non-empty"),
    ],
)
def test_a_bad_space_is_refused_by_key(space, message):
    with pytest.raises(SpaceError) as e:
        Space.from_dict(space, BASE)
    assert str(e.value).startswith(message), str(e.value)


def test_a_point_of_the_space_is_a_config_and_a_type_keeps_its_own_keys():
    space = Space.from_dict(
        {
            "fusion.type": {"choice": ["concat", "cross_attention"]},
            "inputs.text.encoder.kernel_sizes": {"choice": [[2], [2, 3]]},
            "training.learning_rate": {"log_uniform": [1e-4, 1e-2]},
            "training.epochs": {"int": [2, 5]},
        },
        BASE,
    )
    # A list value goes through KerasTuner as text and comes back as the list.
    hp = __import__("keras_tuner").HyperParameters()
    for d in space.dimensions:
        d.add_to(hp)
    kernel = next(d for d in space.dimensions if d.key.endswith("kernel_sizes"))
    assert hp.values[kernel.key] == "json:[2]" and kernel.decode("json:[2, 3]") == [2, 3]
    config = space.config(
        {
            "fusion.type": "cross_attention",
            "inputs.text.encoder.kernel_sizes": "json:[2, 3]",
            "training.learning_rate": 0.002,
            "training.epochs": 4,
        }
    )
    assert config.fusion.type == "cross_attention"
    # concat's `normalize`, which cross_attention lacks, is dropped; `hidden_units`, which
    # both have, is kept.
    assert not hasattr(config.fusion, "normalize") and config.fusion.hidden_units == [8]
    assert config.inputs[0].encoder.kernel_sizes == [2, 3]
    assert (config.training.learning_rate, config.training.epochs) == (0.002, 4)
    assert space.config({}).fusion.type == "concat"  # the base, untouched


@pytest.fixture(scope="module")
def tune_config(train_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    path = write_tiny_train_config(root, train_data, modalities=("text", "audio"), epochs=2)
    space = root / "space.yaml"
    space.write_text(
        yaml.safe_dump(
            {
                "training.learning_rate": {"choice": [0.0001, 0.003, 0.01]},
                "fusion.type": {"choice": ["concat", "gated"]},
            }
        )
    )
    return path, str(space), root


def _rows(out):
    with open(os.path.join(out, "trials.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_search_chooses_on_validation_and_tests_the_best_once(tune_config, tmp_path):
    from tfmm.tuning import tune

    config_path, space_path, _ = tune_config
    out = str(tmp_path / "search")
    lines = []
    summary = tune(config_path, space_path, out, max_trials=3, seed=1, log=lines.append)
    rows = _rows(out)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"COMPLETED"}
    # Each trial is a finished run directory, and no trial read the test split.
    for r in rows:
        run = os.path.join(out, "trials", r["trial"])
        assert os.path.exists(os.path.join(run, "model.keras"))
        with open(os.path.join(run, "config.yaml")) as f:
            assert yaml.safe_load(f)["data"]["test"] is None
        with open(os.path.join(run, "metrics.json")) as f:
            assert json.load(f) == {}
        # The objective is the kept epoch's validation accuracy, as best.json has it.
        with open(os.path.join(run, "best.json")) as f:
            best = json.load(f)
        assert best["monitor"] == "val_accuracy"
        assert float(r["val_accuracy"]) == pytest.approx(best["value"])
        assert int(r["epoch"]) == best["epoch"]
    scores = [float(r["val_accuracy"]) for r in rows]
    assert scores == sorted(scores, reverse=True)  # best first
    assert summary["best"]["trial"] == rows[0]["trial"]
    # The best config trains as it is, with the test split back.
    best_config = tfmm.load_config(os.path.join(out, "best.yaml"))
    assert best_config.data.test and best_config.data.test.endswith("test.csv")
    assert best_config.fusion.type == rows[0]["fusion.type"]
    assert best_config.training.learning_rate == float(rows[0]["training.learning_rate"])
    # The test split, once, for the best trial; a second call reads it back.
    with open(os.path.join(out, "test_metrics.json")) as f:
        tested = json.load(f)
    with open(best_config.data.test) as f:
        test_rows = sum(1 for _ in csv.DictReader(f))
    assert tested["trial"] == rows[0]["trial"]
    assert tested["metrics"]["label"]["n"] == test_rows > 0
    mtime = os.path.getmtime(os.path.join(out, "test_metrics.json"))
    again = tune(config_path, space_path, out, max_trials=3, seed=1, log=lines.append)
    assert again["test_metrics"] == tested["metrics"]
    assert os.path.getmtime(os.path.join(out, "test_metrics.json")) == mtime
    # TensorBoard's HParams dashboard: one run per trial with its hparams summary.
    import tensorflow as tf

    plugins = set()
    for event_file in glob.glob(os.path.join(out, "hparams", "**", "events.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for v in event.summary.value:
                plugins.add(
                    (
                        os.path.basename(os.path.dirname(event_file)),
                        v.metadata.plugin_data.plugin_name,
                    )
                )
    assert {(r["trial"], "hparams") for r in rows} <= plugins
    assert any("fusion.type" in line for line in lines if "tune: trial" in line)


def _tfmm(args, **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "tfmm.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


@pytest.mark.slow
def test_a_killed_search_resumes_without_repeating_finished_trials(tune_config, tmp_path):
    config_path, space_path, _ = tune_config
    out = tmp_path / "search"
    args = [
        "tune",
        config_path,
        "--space",
        space_path,
        "--max-trials",
        "3",
        "--out",
        str(out),
        "--seed",
        "2",
    ]
    first = _tfmm(args)
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        done = glob.glob(str(out / "trials" / "*" / "model.keras"))
        if done:
            break
        time.sleep(0.2)
    assert first.poll() is None, first.stdout.read()
    first.send_signal(signal.SIGKILL)
    first.wait()
    finished = {
        p: os.path.getmtime(p) for p in glob.glob(str(out / "trials" / "*" / "model.keras"))
    }
    assert 1 <= len(finished) < 3
    second = _tfmm(args)
    output = second.communicate(timeout=600)[0]
    assert second.returncode == 0, output[-3000:]
    rows = _rows(str(out))
    assert len(rows) == 3 and {r["status"] for r in rows} == {"COMPLETED"}
    # The trials finished before the kill were not trained again.
    for path, mtime in finished.items():
        assert os.path.getmtime(path) == mtime
        assert f"trial {os.path.basename(os.path.dirname(path))} {{" not in output
    assert len(glob.glob(str(out / "trials" / "*" / "model.keras"))) == 3
    # The trial the kill interrupted ran again in its own folder (no orphan folder).
    assert len(os.listdir(out / "trials")) == 3


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_chief_and_two_workers_share_the_trials(tune_config, tmp_path):
    config_path, space_path, _ = tune_config
    out = tmp_path / "search"
    oracle = f"127.0.0.1:{_free_port()}"
    common = [
        "tune",
        config_path,
        "--space",
        space_path,
        "--max-trials",
        "4",
        "--out",
        str(out),
        "--oracle",
        oracle,
    ]
    chief = _tfmm([*common, "--chief"])
    time.sleep(3)
    workers = [_tfmm([*common, "--worker", f"tuner{k}"]) for k in range(2)]
    logs = [p.communicate(timeout=600)[0] for p in workers]
    chief_log = chief.communicate(timeout=120)[0]
    assert [p.returncode for p in workers] == [0, 0], [log[-2000:] for log in logs]
    assert chief.returncode == 0, chief_log[-3000:]
    rows = _rows(str(out))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"COMPLETED"}
    # Every trial was run by exactly one worker.
    ran = [{r["trial"] for r in rows if f"trial {r['trial']} {{" in log} for log in logs]
    assert ran[0] | ran[1] == {r["trial"] for r in rows} and not ran[0] & ran[1]
    assert os.path.exists(out / "best.yaml") and os.path.exists(out / "test_metrics.json")


def test_the_cli_refuses_a_bad_space_before_any_trial(tune_config, tmp_path, capsys):
    from tfmm.cli import main

    config_path, _, _ = tune_config
    space = tmp_path / "space.yaml"
    space.write_text("training.learning_rate: {log_uniform: [0.01, 0.001]}\n")
    out = tmp_path / "search"
    assert main(["tune", config_path, "--space", str(space), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "tfmm tune: error: space: training.learning_rate: log_uniform needs "
        "low < high. Received: [0.01, 0.001]"
    )
    assert not out.exists()


@pytest.mark.slow
def test_an_invalid_combination_fails_its_trial_and_the_search_goes_on(tune_config, tmp_path):
    from tfmm.tuning import tune

    config_path, _, root = tune_config
    space = tmp_path / "space.yaml"
    # Each value alone is valid; cross_attention over a tfidf text input (no tokens) is not.
    space.write_text(
        yaml.safe_dump(
            {
                "fusion.type": {"choice": ["concat", "cross_attention"]},
                "inputs.text.encoder.type": {"choice": ["textcnn", "tfidf"]},
            }
        )
    )
    out = str(tmp_path / "search")
    tune(config_path, str(space), out, max_trials=4, log=lambda *a: None)
    rows = {(r["fusion.type"], r["inputs.text.encoder.type"]): r for r in _rows(out)}
    assert len(rows) == 4
    bad = rows[("cross_attention", "tfidf")]
    assert bad["status"] == "FAILED" and "no token sequence" in bad["message"]
    assert bad["val_accuracy"] == ""
    assert {r["status"] for k, r in rows.items() if k != ("cross_attention", "tfidf")} == {
        "COMPLETED"
    }


def test_bad_data_stops_the_search_at_its_first_trial(tune_config, tmp_path):
    from tfmm.tuning import TuningError, tune

    config_path, space_path, _ = tune_config
    with pytest.raises(TuningError) as e:
        tune(
            config_path,
            space_path,
            str(tmp_path / "search"),
            max_trials=3,
            overrides=["data.train=no_such.csv"],
            log=lambda *a: None,
        )
    assert str(e.value).startswith("trial 0: ") and "no_such.csv" in str(e.value)
    assert len(str(e.value).splitlines()) == 1
    assert not glob.glob(str(tmp_path / "search" / "trials" / "*" / "model.keras"))


def test_without_keras_tuner_tune_says_its_extra_in_one_line(
    tune_config, tmp_path, capsys, monkeypatch
):
    from tfmm.cli import main

    config_path, space_path, _ = tune_config
    monkeypatch.setitem(sys.modules, "keras_tuner", None)
    assert main(["tune", config_path, "--space", space_path, "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "tfmm tune: error: tfmm tune needs keras-tuner: pip install 'tfmm[tune]'"
    ]


@pytest.mark.slow
def test_hyperband_trains_each_trial_for_the_budget_it_is_given(tune_config, tmp_path):
    from tfmm.tuning import tune

    config_path, space_path, _ = tune_config
    out = str(tmp_path / "search")
    # training.epochs is Hyperband's largest budget; with its factor 3, rungs of 1 and 3.
    tune(
        config_path,
        space_path,
        out,
        algorithm="hyperband",
        overrides=["training.epochs=3"],
        log=lambda *a: None,
    )
    rows = _rows(out)
    assert len(rows) >= 2 and {r["status"] for r in rows} == {"COMPLETED"}
    budgets = set()
    for r in rows:
        with open(os.path.join(out, "trials", r["trial"], "history.csv")) as f:
            epochs = sum(1 for _ in csv.DictReader(f))
        assert epochs == int(r["epochs"]), r
        budgets.add(epochs)
    assert budgets == {1, 3}


@pytest.mark.slow
def test_several_executions_per_trial_score_their_mean(tune_config, tmp_path):
    from tfmm.tuning import tune

    config_path, space_path, _ = tune_config
    with open(config_path) as f:
        seed = yaml.safe_load(f)["data"].get("seed", 0)
    out = str(tmp_path / "search")
    tune(
        config_path,
        space_path,
        out,
        max_trials=2,
        executions_per_trial=2,
        overrides=["training.epochs=1"],
        log=lambda *a: None,
    )
    rows = _rows(out)
    assert len(rows) == 2
    for r in rows:
        values = []
        for k in (0, 1):
            run = os.path.join(out, "trials", r["trial"], f"seed-{seed + k}")
            with open(os.path.join(run, "config.yaml")) as f:
                assert yaml.safe_load(f)["data"]["seed"] == seed + k
            with open(os.path.join(run, "best.json")) as f:
                values.append(json.load(f)["value"])
        assert float(r["val_accuracy"]) == pytest.approx(sum(values) / 2)
        assert r["runs"] == " / ".join(f"{v:.4g}" for v in values)
    assert tfmm.load_config(os.path.join(out, "best.yaml")).data.seed == seed
    assert os.path.exists(os.path.join(out, "test_metrics.json"))
