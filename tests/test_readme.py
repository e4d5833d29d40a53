"""README's commands, CI and the example config must agree."""

import os
import re

import pytest

import tfmm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _readme_commands():
    return [
        line.strip()
        for line in _read("README.md").splitlines()
        if line.startswith("    python3 -m venv")
    ]


def test_ci_runs_the_readme_test_command():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    test_cmd = [c for c in commands if "pytest" in c]
    assert len(test_cmd) == 1
    ci = [line.strip() for line in _read(".ci/run").splitlines()]
    assert test_cmd[0] in ci


def test_readme_config_example_is_valid():
    block = re.search(r"## A config\n\n```yaml\n(.*?)```", _read("README.md"), re.S).group(1)
    import yaml

    config = tfmm.config_from_dict(yaml.safe_load(block))
    assert [i.encoder.type for i in config.inputs] == ["textcnn", "cnn", "cnn"]


def test_readme_recipe_is_the_example_config_and_the_measured_one():
    # The README's recipe, examples/tri_modal.yaml and the quality benchmark's `cnn`
    # model (the figures in BENCHMARKS.md) are one model.
    import dataclasses

    import yaml

    from benchmarks import quality

    block = re.search(r"## A config\n\n```yaml\n(.*?)```", _read("README.md"), re.S).group(1)
    readme = tfmm.config_from_dict(yaml.safe_load(block))
    example = tfmm.load_config(os.path.join(ROOT, "examples", "tri_modal.yaml"))
    image, audio, fusion, _ = quality.MODELS["cnn"]
    measured = tfmm.config_from_dict(
        {
            "inputs": quality._inputs(image, audio),
            "fusion": fusion,
            "outputs": [{"name": "label", "type": "multiclass"}],
        }
    )
    for config in (readme, example, measured):
        assert dataclasses.asdict(config.fusion) == dataclasses.asdict(readme.fusion)
        assert [(i.name, i.augment, dataclasses.asdict(i.encoder)) for i in config.inputs] == [
            (i.name, i.augment, dataclasses.asdict(i.encoder)) for i in readme.inputs
        ]
        assert [i.encoder.type for i in config.inputs] == ["textcnn", "cnn", "cnn"]
    assert (
        readme.training.learning_rate
        == example.training.learning_rate
        == quality.LEARNING_RATE
        == 3e-3  # the learning rate "auto" gives AdamW, the media models' optimizer
    )
    assert readme.training.optimizer == example.training.optimizer == "adamw"
    assert readme.training.epochs == quality.EPOCHS


def test_example_config_builds_with_three_branches_at_one_concatenate():
    config = tfmm.load_config(os.path.join(ROOT, "examples", "tri_modal.yaml"))
    config.outputs[0].labels = ["cat", "dog", "bird"]
    model = tfmm.build_model(config)
    concat = model.get_layer("fusion_concat")
    assert config.fusion.modality_dropout == 0.3
    chain = [[t._keras_history.operation.name for t in concat._inbound_nodes[0].input_tensors]]
    for _ in range(2):  # each branch: encoder -> norm -> presence gate -> concat
        chain.append(
            [
                model.get_layer(n)._inbound_nodes[0].input_tensors[0]._keras_history.operation.name
                for n in chain[-1]
            ]
        )
    assert chain == [
        [f"fusion_presence_{m}" for m in ("text", "image", "audio")],
        [f"fusion_norm_{m}" for m in ("text", "image", "audio")],
        [f"{m}_encoder" for m in ("text", "image", "audio")],
    ]


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    block = re.search(r"## Python\n\n```python\n(.*?)```", _read("README.md"), re.S).group(1)
    block = block.replace(
        '"examples/tri_modal.yaml"', repr(os.path.join(ROOT, "examples", "tri_modal.yaml"))
    )
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert (tmp_path / "model.keras").exists()
    assert set(scope["model"].output) == {"label"}


def test_the_tables_guide_examples_are_valid():
    guide = _read(os.path.join("docs", "howto", "tables.md"))
    block = re.search(r"```yaml\n(.*?)```", guide, re.S).group(1)
    import yaml

    config = tfmm.config_from_dict(yaml.safe_load(block))
    assert [(i.type, i.encoder.type) for i in config.inputs] == [
        ("text", "tfidf"),
        ("image", "cnn"),
        ("tabular", "mlp"),
    ]
    facts = config.inputs[2]
    assert facts.columns == [
        "Age",
        "Positive Feedback Count",
        "Division Name",
        "Department Name",
        "Class Name",
    ]
    assert config.outputs[0].threshold == "auto"
    image_block = re.findall(r"```yaml\n(.*?)```", guide, re.S)[1]
    config = tfmm.config_from_dict(yaml.safe_load(image_block))
    assert [(i.type, i.encoder.type) for i in config.inputs] == [
        ("image", "cnn"),
        ("tabular", "mlp"),
    ]


def test_the_readme_table_example_is_valid_and_trains_with_sgd():
    import yaml

    block = re.search(r"## A table\n\n.*?```yaml\n(.*?)```", _read("README.md"), re.S).group(1)
    config = tfmm.config_from_dict(yaml.safe_load(block))
    assert [(i.type, i.encoder.type) for i in config.inputs] == [
        ("text", "tfidf"),
        ("tabular", "mlp"),
    ]
    assert config.inputs[1].columns == [
        "Age",
        "Positive Feedback Count",
        "Division Name",
        "Department Name",
        "Class Name",
    ]
    # The comment's optimizer, and the image beside the table switching it to AdamW.
    assert (config.training.optimizer, config.training.learning_rate) == ("sgd", 0.03)
    raw = yaml.safe_load(block)
    raw["inputs"].append({"name": "photo", "type": "image", "column": "photo_path"})
    mixed = tfmm.config_from_dict(raw)
    assert (mixed.inputs[2].encoder.type, mixed.training.optimizer) == ("cnn", "adamw")


def quoted_figures(text):
    """The three-decimal figures (0.929, 0.011) a text quotes outside its code blocks."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return set(re.findall(r"(?<![\w.])\d\.\d{3}(?![\w.])", prose))


def test_quoted_figures_are_read_from_prose_only():
    assert quoted_figures("at 0.929 ± 0.011 (1.5x)\n```\nlr: 0.003\n```\n") == {"0.929", "0.011"}


def test_every_figure_the_readme_quotes_is_in_benchmarks_md():
    # In a section a benchmark script wrote (stamped), not in BENCHMARKS.md's prose.
    from tests.benchmarks.test_doc import current_text

    benchmarks = current_text()
    missing = sorted(
        f for f in quoted_figures(_read(os.path.join(ROOT, "README.md"))) if f not in benchmarks
    )
    assert missing == [], (
        f"README.md quotes figures BENCHMARKS.md's sections do not hold: {missing}"
    )
