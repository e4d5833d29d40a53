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
    shutil.copytree(os.path.join(ROOT, "tfmm"), src / "tfmm",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                           str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return glob.glob(str(out / "*.whl"))[0], glob.glob(str(out / "*.tar.gz"))[0]


def _modules():
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(
        os.path.join(ROOT, "tfmm", "**", "*.py"), recursive=True))


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
    unconditional = {r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip()
                     for r in requires if "extra ==" not in r}
    assert unconditional == CORE
    extras = set(meta.get_all("Provides-Extra"))
    assert {extra for _, extra in OPTIONAL.values()} | {"all", "test", "gpu"} <= extras
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "tfmm demo" in meta.get_payload()        # the README is the long description
    assert "tfmm = tfmm.cli:main" in entry


def test_the_sdist_builds_the_same_package(dist):
    with tarfile.open(dist[1]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"setup.cfg", "pyproject.toml", "README.md"} <= names
    assert set(_modules()) <= names
