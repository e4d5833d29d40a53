"""ruff's lint (pyproject.toml's settings) passes on the package, the tests and the
benchmarks: the README's test command, hence CI, fails on a lint error."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ruff():
    # The venv's ruff (tfmm[test] installs it), beside the running interpreter.
    here = os.path.join(os.path.dirname(sys.executable), "ruff")
    return here if os.path.exists(here) else shutil.which("ruff")


def test_ruff_is_installed_by_the_test_extra():
    assert _ruff() is not None, "ruff is missing: pip install -e '.[test]'"


def test_ruff_finds_nothing(tmp_path):
    done = subprocess.run([_ruff(), "check", "--no-cache", "tfmm", "tests", "benchmarks"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_ruff_sees_an_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    done = subprocess.run([_ruff(), "check", "--no-cache", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "F401" in done.stdout
