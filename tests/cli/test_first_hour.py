"""What a new user meets first: the README's main command as written, and the CLI's
surfaces (help, version, predict output, evaluate reports, export permissions)."""

import csv
import io
import json
import os
import stat
import subprocess
import sys

import pytest
import yaml

from tfmm.cli import build_parser, main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TFMM = os.path.join(os.path.dirname(sys.executable), "tfmm")


def _tfmm(*args, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [TFMM, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.slow
def test_readme_main_command_from_a_fresh_working_directory(tmp_path):
    # As the README runs it: default (relative) --out and --export-dir, from the folder
    # the user is in. Only the size is smaller, for speed.
    proc = _tfmm("demo", "--n", "48", "--epochs", "1", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for name in ("fused", "text_only", "image_only", "audio_only"):
        assert any(line.startswith(name) for line in proc.stdout.splitlines()), name
    version = tmp_path / "savedmodels" / "demo" / "1"
    assert (version / "saved_model.pb").exists() and (version / "model.onnx").exists()
    results = json.loads((tmp_path / "demo_run" / "results.json").read_text())
    assert results["export"]["rows"] == 8  # 48 - 33 train - 7 val
    assert results["export"]["agree"] == {"savedmodel": 8, "onnx": 8}
    # A run's config holds absolute data paths: it means the same from anywhere.
    saved = yaml.safe_load((tmp_path / "demo_run" / "runs" / "fused" / "config.yaml").read_text())
    assert saved["data"]["test"] == str(tmp_path / "demo_run" / "data" / "test.csv")
    # No warnings from TensorFlow or Keras in a normal run.
    noisy = [
        line
        for line in out.splitlines()
        if "WARNING" in line or "retracing" in line or line.startswith(("I0000", "E0000"))
    ]
    assert noisy == []


def test_help_does_not_import_tensorflow():
    code = (
        "import sys; from tfmm.cli import build_parser; "
        "build_parser().parse_args(['train', 'c.yaml', '--set', 'a=1']); "
        "print('tensorflow' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--version"])
    assert e.value.code == 0
    import tfmm

    assert capsys.readouterr().out.strip() == f"tfmm {tfmm.__version__}"


def _actions(parser, path=("tfmm",)):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, (*path, name))
        elif not isinstance(action, (argparse._HelpAction,)):
            yield " ".join(path), action


def test_every_option_has_help_text():
    missing = [
        f"{where} {a.option_strings or a.dest}"
        for where, a in _actions(build_parser())
        if not a.help
    ]
    assert missing == []


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tests.helpers import train_text_audio_run

    root = tmp_path_factory.mktemp("cli")
    run = train_text_audio_run(root, {"type": "cnn", "filters": [4, 8], "num_mel_bins": 8})
    # An id column the model does not read, to carry through `predict`.
    test_csv = root / "data" / "test.csv"
    with open(test_csv) as f:
        rows = list(csv.DictReader(f))
    with open(root / "with_ids.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", *rows[0]])
        w.writeheader()
        for k, r in enumerate(rows):
            w.writerow(
                {
                    "id": f"ex{k}",
                    **{
                        c: (os.path.join("data", v) if c.endswith("_path") else v)
                        for c, v in r.items()
                    },
                }
            )
    return root, run


def test_predict_writes_csv_to_stdout_with_kept_columns(finished_run, capsys, monkeypatch):
    root, run = finished_run
    monkeypatch.chdir(root)  # a relative manifest path is the user's, not the run's
    assert main(["predict", str(run), "--manifest", "with_ids.csv", "--keep-columns", "id"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == [f"ex{k}" for k in range(len(rows))]
    assert [int(r["row"]) for r in rows] == list(range(1, len(rows) + 1))
    labels = yaml.safe_load((run / "config.yaml").read_text())["outputs"][0]["labels"]
    assert all(r["label"] in labels for r in rows)


def test_predict_jsonl_and_unknown_kept_column(finished_run, capsys):
    root, run = finished_run
    manifest = str(root / "with_ids.csv")
    assert main(["predict", str(run), "--manifest", manifest, "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = json.loads(lines[0])
    assert (
        first["row"] == 1
        and abs(sum(v for k, v in first.items() if k.startswith("label_p_")) - 1) < 1e-4
    )
    assert main(["predict", str(run), "--manifest", manifest, "--keep-columns", "idd"]) == 2
    assert "missing column to keep 'idd'. Did you mean 'id'?" in capsys.readouterr().err


def test_evaluate_writes_a_new_report_and_keeps_the_training_files(finished_run, capsys):
    root, run = finished_run
    before = (run / "confusion_matrix.png").read_bytes(), (run / "metrics.json").read_text()
    manifest = str(root / "data" / "val.csv")
    assert main(["evaluate", str(run), "--manifest", manifest, "--json"]) == 0
    assert main(["evaluate", str(run), "--manifest", manifest]) == 0
    assert (
        (run / "confusion_matrix.png").read_bytes(),
        (run / "metrics.json").read_text(),
    ) == before
    first, second = run / "eval-val", run / "eval-val-2"
    report = json.loads((first / "metrics.json").read_text())
    assert report["manifest"] == manifest and "accuracy" in report["label"]
    assert (first / "confusion_matrix.png").exists() and (second / "metrics.json").exists()


def test_learning_curves_count_epochs_from_one_and_mark_the_best(finished_run):
    _, run = finished_run
    from tfmm.training.reports import history_series

    epochs, series, best = history_series(str(run))
    assert epochs == [1, 2]
    assert "loss" in series and "val_loss" in series
    assert best["epoch"] in (1, 2) and best["monitor"] == "val_accuracy"


def test_export_is_readable_by_others_and_cleans_dead_staging(finished_run, tmp_path):
    _, run = finished_run
    from tfmm.export import export

    base = tmp_path / "exports"
    dead = base / ".staging-999999999-x"  # no such process
    live = base / f".staging-{os.getpid()}-y"  # this process: may still be writing
    dead.mkdir(parents=True)
    live.mkdir()
    lines = []
    paths = export(str(run), str(base), formats=("savedmodel",), log=lines.append)
    assert not dead.exists() and live.exists()
    version = paths["version_dir"]
    modes = {
        stat.S_IMODE(os.stat(os.path.join(d, n)).st_mode)
        for d, dirs, files in os.walk(version)
        for n in dirs + files
        if os.path.isdir(os.path.join(d, n))
    }
    assert modes == {0o755} and stat.S_IMODE(os.stat(version).st_mode) == 0o755
    files = {
        stat.S_IMODE(os.stat(os.path.join(d, n)).st_mode)
        for d, _, names in os.walk(version)
        for n in names
    }
    assert files == {0o644}
    stages = [line for line in lines if line.startswith("tfmm export: ")]
    assert any("writing the SavedModel" in s for s in stages)
    assert any("checking the SavedModel" in s for s in stages)


def test_make_dataset_has_a_cardinality(finished_run):
    import tfmm
    from tfmm.training import load_run

    root, run = finished_run
    _, config, vocabs = load_run(str(run))
    test_csv = str(root / "data" / "test.csv")
    rows = len(tfmm.data.Manifest(test_csv))
    ds = tfmm.data.make_dataset(config, test_csv, vocabs, batch_size=2)
    assert int(ds.cardinality()) == -(-rows // 2) == sum(1 for _ in ds)
    train = tfmm.data.make_dataset(
        config, str(root / "data" / "train.csv"), vocabs, training=True, batch_size=4
    )
    train_rows = len(tfmm.data.Manifest(str(root / "data" / "train.csv")))
    assert int(train.cardinality()) == train_rows // 4 == sum(1 for _ in train)


def test_data_check_reports_a_bad_jpeg_by_row_without_decoder_noise(tmp_path):
    import tfmm

    # 24 rows: the training split holds all 8 labels, so the test split's are known.
    paths = tfmm.data.make_demo_dataset(str(tmp_path / "d"), n=24, seed=0)
    with open(paths["test"]) as f:
        images = [r["image_path"] for r in csv.DictReader(f)]
    row, first = next((k, p) for k, p in enumerate(images, start=1) if p.endswith(".jpg"))
    image = tmp_path / "d" / first
    image.write_bytes(image.read_bytes()[:400])  # truncated JPEG
    proc = _tfmm("data", "check", paths["test"], cwd=tmp_path)
    assert proc.returncode == 1
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert lines[0] == (
        f"{paths['test']!r} row {row} column 'image_path' file {first!r}: "
        f"cannot decode image (corrupt or truncated JPEG)"
    )
    # Sizes of the images whose header reads (the cut JPEG's is gone).
    n = len(images)
    assert lines[1].startswith(f"image column 'image_path': {n - 1} images, shorter side 64-64 px")
    assert lines[2].startswith(f"audio column 'audio_path': {n} clips of ")
    # The labels come from the training split; this split's rows per class.
    assert lines[3].startswith("output 'label': ") and "labels from the training split" in lines[3]
    assert lines[4].startswith("output 'label': ") and "rows per class" in lines[4]
    assert lines[5:] == [f"{paths['test']}: {n} rows, 1 with problems (1 problems)"]


def test_data_check_says_how_many_clips_clip_seconds_crops_and_pads(tmp_path):
    import numpy as np
    import tensorflow as tf

    import tfmm
    from tfmm.data.check import media_summary

    rows = ["clip"]
    for k, seconds in enumerate([0.5, 1.0, 1.5, 2.0, 3.0]):
        wave = np.zeros((int(seconds * 8000), 1), "float32")
        tf.io.write_file(str(tmp_path / f"{k}.wav"), tf.audio.encode_wav(wave, 8000))
        rows.append(f"{k}.wav")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "clip", "type": "audio", "sample_rate": 8000, "clip_seconds": 1.0}],
            "outputs": [{"name": "y", "type": "regression"}],
        }
    )
    [line] = media_summary(config, tfmm.data.Manifest(str(tmp_path / "m.csv")))
    assert line == (
        "audio column 'clip': 5 clips of 0.50-3.00 s (median 1.50 s); "
        "clip_seconds 1 crops 3 (60%) and pads 1 (20%). Raise clip_seconds to "
        "about 2.8 to keep 95% whole"
    )


def test_data_check_says_how_image_size_meets_the_images(tmp_path):
    import numpy as np
    import tensorflow as tf

    import tfmm
    from tfmm.data.check import media_summary

    rows = ["photo"]
    for k, (h, w) in enumerate([(20, 30), (64, 64), (100, 300), (300, 200), (500, 400)]):
        pixels = np.zeros((h, w, 3), "uint8")
        encode = tf.io.encode_png if k % 2 else tf.io.encode_jpeg
        tf.io.write_file(str(tmp_path / f"{k}.img"), encode(pixels))
        rows.append(f"{k}.img")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "photo", "type": "image", "image_size": 64}],
            "outputs": [{"name": "y", "type": "regression"}],
        }
    )
    [line] = media_summary(config, tfmm.data.Manifest(str(tmp_path / "m.csv")))
    assert line == (
        "image column 'photo': 5 images, shorter side 20-400 px (median 100), "
        "aspect ratio up to 3.0; image_size 64 upscales 1 (20%) and shrinks 1 "
        "(20%) more than 4x (resize: plain)"
    )


def test_progress_is_plain_lines_in_a_log_and_a_bar_on_a_terminal():
    from tfmm.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    log, tty = io.StringIO(), Tty()
    for stream in (log, tty):
        p = Progress(20, "checking rows", stream=stream, min_seconds=0)
        for _ in range(20):
            p.update()
        p.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()
    assert lines[0] == "checking rows: 1/20 (5%)" and lines[-1] == "checking rows: 20/20 (100%)"
    assert len(lines) == 11  # once per tenth, and the end
    assert tty.getvalue().count("\r") == 21 and tty.getvalue().endswith("(100%)\n")
