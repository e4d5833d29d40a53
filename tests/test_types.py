"""mypy (pyproject.toml's [tool.mypy]) passes on the public API's modules, and a call
against their hints fails it."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mypy(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MYPYPATH": ROOT},
    )


def test_the_public_api_type_checks():
    done = _mypy()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_a_call_against_the_hints_is_caught(tmp_path):
    user = tmp_path / "user.py"
    user.write_text(
        "import tfmm.config\nconfig = tfmm.config.load_config(3)\nconfig.training.epochs.upper()\n"
    )
    done = _mypy("--config-file", os.path.join(ROOT, "pyproject.toml"), str(user), cwd=tmp_path)
    assert done.returncode == 1
    assert 'Argument 1 to "load_config" has incompatible type "int"' in done.stdout
    assert '"int" has no attribute "upper"' in done.stdout
