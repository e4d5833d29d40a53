"""ruff's lint and format (pyproject.toml's settings) pass on the package, the tests, the
benchmarks, the docs' hooks and the examples: the README's test command, hence CI, fails
on a lint error or unformatted code."""

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
    done = subprocess.run(
        [_ruff(), "check", "--no-cache", "tfmm", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_the_code_is_ruff_formatted():
    done = subprocess.run(
        [_ruff(), "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_ruff_format_sees_unformatted_code(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = {  'a':1 }\n")
    done = subprocess.run(
        [_ruff(), "format", "--check", "--no-cache", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "would be reformatted" in done.stdout


def test_ruff_sees_an_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    done = subprocess.run(
        [_ruff(), "check", "--no-cache", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "F401" in done.stdout
