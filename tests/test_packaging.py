"""The sdist and wheel build from a copy of the tree (`python -m build`, no network) and
hold what an install needs: every module, the `tfmm` command, the lean core requirements
and each extra; nothing of the tests or benchmarks."""

import email.parser
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from tfmm._extras import OPTIONAL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = {"tensorflow", "keras", "numpy", "scipy", "tensorboard", "PyYAML"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        if os.path.exists(os.path.join(ROOT, name)):
            shutil.copy(os.path.join(ROOT, name), src / name)
    shutil.copytree(
        os.path.join(ROOT, "tfmm"), src / "tfmm", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return glob.glob(str(out / "*.whl"))[0], glob.glob(str(out / "*.tar.gz"))[0]


def _modules():
    return sorted(
        os.path.relpath(p, ROOT)
        for p in glob.glob(os.path.join(ROOT, "tfmm", "**", "*.py"), recursive=True)
    )


def test_the_wheel_holds_every_module_and_nothing_else(dist):
    names = zipfile.ZipFile(dist[0]).namelist()
    assert sorted(n for n in names if n.endswith(".py")) == _modules()
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/"))]


def test_the_wheel_declares_the_lean_core_the_extras_and_the_command(dist):
    with zipfile.ZipFile(dist[0]) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(meta_name).decode())
        entry = z.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    requires = meta.get_all("Requires-Dist")
    unconditional = {
        r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip()
        for r in requires
        if "extra ==" not in r
    }
    assert unconditional == CORE
    extras = set(meta.get_all("Provides-Extra"))
    assert {extra for _, extra in OPTIONAL.values()} | {"all", "test", "gpu"} <= extras
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "tfmm demo" in meta.get_payload()  # the README is the long description
    assert "tfmm = tfmm.cli:main" in entry


def test_the_sdist_builds_the_same_package(dist):
    with tarfile.open(dist[1]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"setup.cfg", "pyproject.toml", "README.md"} <= names
    assert set(_modules()) <= names


def test_twine_accepts_the_wheel_and_the_sdist(dist):
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *dist],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


TINY_CONFIG = """
name: tiny
inputs:
  - {name: text, type: text, column: caption, encoder: {type: tfidf, vocab_size: 200, units: 8}}
  - {name: image, type: image, column: image_path, image_size: 16,
     encoder: {type: cnn, filters: [4, 8]}}
outputs:
  - {name: label, type: multiclass}
data: {train: data/train.csv, val: data/val.csv, test: data/test.csv, batch_size: 16}
training: {epochs: 1}
"""


@pytest.mark.slow
def test_the_wheel_installs_core_only_and_trains_and_exports_there(dist, tmp_path):
    # A fresh venv, the wheel with its core requirements only (pip fetches them; nothing
    # else of the suite's environment is visible): none of the optional packages, no
    # setuptools pin; `tfmm --version`, a train from a manifest and a SavedModel export
    # work, and an export that needs an extra stops in one line naming it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py, tfmm_cmd = str(venv / "bin" / "python"), str(venv / "bin" / "tfmm")
    done = subprocess.run(
        [py, "-m", "pip", "install", "-q", dist[0]], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listed = subprocess.run(
        [py, "-m", "pip", "list", "--format", "freeze"], capture_output=True, text=True, timeout=60
    ).stdout.lower()
    installed = {line.split("==")[0].replace("_", "-") for line in listed.splitlines()}
    assert "tfmm" in installed and "tensorflow" in installed
    for optional in (
        "keras-hub",
        "tensorflow-hub",
        "tensorflow-datasets",
        "tf2onnx",
        "onnx",
        "onnxruntime",
        "matplotlib",
        "pandas",
        "tensorflow-text",
    ):
        assert optional not in installed, optional
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)

    def tfmm(*args):
        return subprocess.run(
            [tfmm_cmd, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env
        )

    version = tfmm("--version")
    from tfmm import __version__

    assert version.returncode == 0 and version.stdout.strip() == f"tfmm {__version__}", version
    assert tfmm("data", "demo", "--out", "data", "--n", "60", "--seed", "0").returncode == 0
    (tmp_path / "tiny.yaml").write_text(TINY_CONFIG)
    trained = tfmm("train", "tiny.yaml", "--out", "run")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (tmp_path / "run" / "model.keras").exists()
    exported = tfmm("export", "run", "--format", "savedmodel", "--out", "served")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "served" / "1" / "saved_model.pb").exists()
    refused = tfmm("export", "run", "--format", "onnx", "--out", "served")
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1] == (
        "tfmm export: error: export format onnx needs tf2onnx: pip install 'tfmm[onnx]'"
    )
