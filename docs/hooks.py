"""MkDocs hooks: pages generated at build time, so they cannot drift from the code.

- `reference/config.md` and `reference/cli.md` from the config classes and the `tfmm`
  parser (`tfmm._reference`);
- `benchmarks.md` and `changelog.md` from the repository's BENCHMARKS.md and CHANGELOG.md;
- `examples/*`, the repository's examples, so the guides can link to them.
"""

import os

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def on_files(files, config):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tfmm._reference import cli_reference, config_reference

    pages = {
        "reference/config.md": config_reference(),
        "reference/cli.md": cli_reference(),
        "benchmarks.md": _read("BENCHMARKS.md"),
        "changelog.md": _read("CHANGELOG.md"),
    }
    for name in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if not name.startswith((".", "__")):
            pages[f"examples/{name}"] = _read("examples", name)
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files
