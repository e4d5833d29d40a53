"""The documentation site builds strictly (a broken link or a missing API reference fails
it), and its generated references hold every config key and every command, with what a
user needs of each."""

import dataclasses
import os
import re
import shutil
import subprocess
import sys

import pytest

from tfmm import _reference
from tfmm.cli import build_parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mkdocs(cwd, site):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _copy_site_sources(dst):
    for name in ("mkdocs.yml", "BENCHMARKS.md", "CHANGELOG.md"):
        shutil.copy(os.path.join(ROOT, name), dst / name)
    for name in ("docs", "examples"):
        shutil.copytree(
            os.path.join(ROOT, name), dst / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copytree(
        os.path.join(ROOT, "tfmm"), dst / "tfmm", ignore=shutil.ignore_patterns("__pycache__")
    )


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page(tmp_path):
    done = _mkdocs(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    site = tmp_path / "site"
    for page in (
        "getting-started",
        "concepts/fusion",
        "howto/tables",
        "howto/pretrained",
        "reference/config",
        "reference/cli",
        "reference/api",
        "benchmarks",
        "changelog",
        "examples/multiworker",
    ):
        assert (site / page / "index.html").exists(), page
    api = (site / "reference/api/index.html").read_text()
    # Docstrings rendered: build_model's own words, and a doctest fenced as code.
    assert "tfmm.models.builder.build_model" in api
    assert '<span class="gp">&gt;&gt;&gt; </span>' in api  # a prompt, highlighted
    assert "<blockquote>" not in api  # not `>>>` as quotes
    config = (site / "reference/config/index.html").read_text()
    assert "learning_rate" in config and "ft_transformer" in config


@pytest.mark.slow
def test_a_broken_link_or_reference_fails_the_build(tmp_path):
    _copy_site_sources(tmp_path)
    page = tmp_path / "docs" / "howto" / "tables.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no_such_page.md).\n")
    done = _mkdocs(tmp_path, tmp_path / "site")
    assert done.returncode != 0
    assert "no_such_page.md" in done.stderr
    page.write_text(page.read_text().replace("[the missing page](no_such_page.md)", ""))
    api = tmp_path / "docs" / "reference" / "api.md"
    api.write_text(api.read_text() + "\n::: tfmm.config.no_such_function\n")
    done = _mkdocs(tmp_path, tmp_path / "site")
    assert done.returncode != 0
    assert "no_such_function" in done.stderr


def _table_rows(text, heading):
    """{key: (type, default, description)} of the table under `heading`."""
    body = text.split(f"\n{heading}\n", 1)[1]
    body = re.split(r"\n#{2,3} ", body, maxsplit=1)[0]
    rows = {}
    for line in body.splitlines():
        cells = re.split(r"(?<!\\)\|", line)
        if len(cells) == 6 and cells[1].strip().startswith("`"):
            rows[cells[1].strip().strip("`")] = tuple(c.strip() for c in cells[2:5])
    return rows


def test_the_config_reference_holds_known_keys_with_type_default_and_meaning():
    text = _reference.config_reference()
    training = _table_rows(text, "## `training`")
    assert training["learning_rate"][:2] == ('number or "auto"', '`"auto"`')
    assert "0.03 for sgd" in training["learning_rate"][2]
    assert training["optimizer"][:2] == ('"auto" \\| "adamw" \\| "adam" \\| "sgd"', '`"auto"`')
    assert "decoupled weight decay" in training["weight_decay"][2]
    assert training["restore_best"][1] == "`true`"
    assert "best epoch" in training["restore_best"][2]
    top = _table_rows(text, "## Top level")
    assert top["inputs"][1] == "**required**" and top["fusion"][1] == "`concat`"
    textcnn = _table_rows(text, "### `textcnn`")
    assert textcnn["kernel_sizes"][:2] == ("list of int", "`[3, 4, 5]`")
    inputs = _table_rows(text, "## `inputs[]`")
    # From the `Args:` section, without its "int." type prefix.
    assert inputs["sample_rate"][2] == "Hz the model expects (audio inputs)."
    # A description shared by two keys in one `Args:` entry belongs to both.
    cnn = _table_rows(text, "### `cnn`")
    assert "mel filter bank" in cnn["lower_edge_hertz"][2]
    assert "mel filter bank" in cnn["upper_edge_hertz"][2]
    assert "| `tabular` | `mlp` | `mlp`, `ft_transformer` |" in text


def test_every_config_key_of_every_component_has_a_described_row():
    from tfmm import config as C
    from tfmm.encoders import ENCODER_CONFIGS
    from tfmm.fusion.registry import FUSION_CONFIGS

    text = _reference.config_reference()
    sections = {
        "## Top level": C.Config,
        "## `inputs[]`": C.InputConfig,
        "## `outputs[]`": C.OutputConfig,
        "## `data`": C.DataConfig,
        "## `training`": C.TrainingConfig,
        "## `tracking`": C.TrackingConfig,
    }
    sections.update({f"### `{n}`": c for n, c in {**ENCODER_CONFIGS, **FUSION_CONFIGS}.items()})
    assert len(sections) >= 5 + 12 + 5  # 12 encoders, 5 fusions at least
    for heading, cls in sections.items():
        rows = _table_rows(text, heading)
        component = heading.startswith("### ")  # its `type` is the heading
        keys = {
            f.name
            for f in dataclasses.fields(cls)
            if not f.metadata.get("internal") and not (component and f.name == "type")
        }
        assert keys == set(rows), heading
        undocumented = [k for k, (_, _, doc) in rows.items() if not doc]
        assert undocumented == [], f"{heading}: {undocumented}"


def test_the_cli_reference_holds_every_command_and_option():
    text = _reference.cli_reference()
    for command in (
        "tfmm train",
        "tfmm evaluate",
        "tfmm predict",
        "tfmm export",
        "tfmm pretrain",
        "tfmm demo",
        "tfmm data check",
        "tfmm data serve",
    ):
        assert f"`{command}`" in text, command
    export = text.split("`tfmm export`", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    assert "`--format` FORMAT" in export or "`--format`" in export
    seen = []

    def walk(parser, prog):
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in text, (prog, flag)
                    seen.append(flag)
            for name, sub in (
                (action.choices or {}).items() if isinstance(action.choices, dict) else ()
            ):
                walk(sub, f"{prog} {name}")

    walk(build_parser(), "tfmm")
    assert {"--format", "--missing", "--dispatcher", "--objective"} <= set(seen)


def test_docs_pages_quote_only_figures_that_benchmarks_md_holds():
    from tests.benchmarks.test_doc import current_text
    from tests.test_readme import quoted_figures

    benchmarks = current_text()  # the script-written sections only
    missing = {}
    for folder, _, names in os.walk(os.path.join(ROOT, "docs")):
        for name in names:
            if name.endswith(".md"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    figures = quoted_figures(f.read())
                gone = sorted(x for x in figures if x not in benchmarks)
                if gone:
                    missing[name] = gone
    assert missing == {}, f"docs quote figures BENCHMARKS.md does not hold: {missing}"
