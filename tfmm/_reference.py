"""The documentation site's generated references: every config key (from the config
classes) and every command and option (from the `tfmm` parser), as Markdown.

`docs/hooks.py` adds both pages to the MkDocs build, so they cannot drift from the code.
A key's description is read where its class documents it: the `Args:` section of the
class docstring, or the `#` comment lines right above the field.

Example:

>>> text = config_reference()
>>> '| `learning_rate` | number or "auto" | `"auto"` |' in text
True
>>> "tfmm train" in cli_reference()
True
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
import typing
from typing import Literal, Union

__all__ = ["cli_reference", "config_reference", "field_descriptions"]


# --- config ---------------------------------------------------------------------------


def _args_section(doc: str) -> dict[str, str]:
    """`name: text` entries of a Google-style `Args:` section, continuation lines joined."""
    out: dict[str, str] = {}
    doc = inspect.cleandoc(doc or "")
    match = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)*)", doc, re.M)
    if not match:
        return out
    body = textwrap.dedent(match.group(1))
    names: list[str] = []
    for line in body.splitlines():
        entry = re.match(r"^(\w+(?:, \w+)*): ?(.*)$", line)  # `a, b: text` is both
        if entry:
            names = entry.group(1).split(", ")
            for name in names:
                out[name] = entry.group(2).strip()
        elif names and line.strip():
            for name in names:
                out[name] += " " + line.strip()
    return out


def _comments_above_fields(cls) -> dict[str, str]:
    """The `#` comment block right above each annotated field of `cls`'s own source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    block: list[str] = []
    depth = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            if tok.start[1] == 0:
                continue
            block.append(tok.string.lstrip("#").strip())
        elif (
            tok.type == tokenize.NAME and tok.start[1] > 0 and not tok.line[: tok.start[1]].strip()
        ):  # a name that starts a body line
            depth = depth or tok.start[1]
            line = tok.line
            field = re.match(r"\s*(\w+)\s*:", line)
            if tok.start[1] == depth and field and field.group(1) == tok.string and block:
                out[tok.string] = " ".join(block)
            block = []
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            block = []
    return out


def field_descriptions(cls) -> dict[str, str]:
    """Each field's description, read from `cls` and its bases (the nearest wins)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        out.update(_args_section(klass.__dict__.get("__doc__") or ""))
        out.update(_comments_above_fields(klass))
    # An `Args:` entry may open with its type ("int. Hz the model expects"): the table has
    # a type column.
    return {k: re.sub(r"^(str|int|float|bool|list of str)\. ", "", v) for k, v in out.items()}


def _type_text(hint) -> str:
    from tfmm.schema import TAGGED

    if hint in TAGGED:
        return "mapping (`type` picks)"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union:
        parts = [_type_text(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin is list:
        return f"list of {_type_text(args[0])}"
    if origin is dict:
        return f"mapping {_type_text(args[0])} → {_type_text(args[1])}"
    if dataclasses.is_dataclass(hint):
        return "mapping"
    return {int: "int", float: "number", str: "string", bool: "bool"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        if dataclasses.is_dataclass(value):
            kind = getattr(value, "type", None)
            return f"`{kind}`" if kind else "(see below)"
    else:
        return "**required**"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value!r}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fields_table(cls, skip=()) -> str:
    """A Markdown table of `cls`'s config keys: key, type, default, description."""
    hints = typing.get_type_hints(cls)
    docs = field_descriptions(cls)
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or f.name in skip:
            continue
        rows.append(
            f"| `{f.name}` | {_escape(_type_text(hints[f.name]))} | "
            f"{_escape(_default_text(f))} | {_escape(docs.get(f.name, ''))} |"
        )
    return "\n".join(rows) + "\n"


def _summary(cls) -> str:
    doc = inspect.cleandoc(cls.__doc__ or "")
    return doc.split("\n\n")[0].replace("\n", " ") if doc else ""


def config_reference() -> str:
    """The config reference page: every key of every section and registered component,
    with its type, default, allowed values and description."""
    from tfmm import config as C
    from tfmm.encoders import ENCODER_CONFIGS, ENCODER_MODALITIES
    from tfmm.fusion.registry import FUSION_CONFIGS
    from tfmm.input_types import INPUT_TYPES
    from tfmm.outputs import OUTPUT_TYPES

    out = [
        "# Config reference",
        "",
        "Generated from the config classes (`tfmm/_reference.py`); every key below is "
        "validated when a config is loaded, and `--set KEY=VALUE` overrides any of "
        "them (`--set inputs.text.encoder.filters=32`). An unknown key, a wrong type or "
        "a value outside the allowed ones is an error naming the key path.",
        "",
        "## Top level",
        "",
        fields_table(C.Config),
        "## `inputs[]`",
        "",
        "One entry per model input. Keys that only some input types read are listed "
        "under those types below; an input of another type must leave them out.",
        "",
        fields_table(C.InputConfig),
        "### Input types",
        "",
        "| `type` | default encoder | encoders | keys only it reads |",
        "|---|---|---|---|",
    ]
    for name, kind in INPUT_TYPES.items():
        encoders = [e for e, kinds in ENCODER_MODALITIES.items() if name in kinds]
        out.append(
            f"| `{name}` | `{kind.default_encoder}` | "
            f"{', '.join(f'`{e}`' for e in encoders)} | "
            f"{', '.join(f'`{f}`' for f in kind.fields) or '—'} |"
        )
    out += [
        "",
        "## `inputs[].encoder`",
        "",
        "`encoder: NAME` is short for `encoder: {type: NAME}`.",
        "",
    ]
    for name, cls in sorted(ENCODER_CONFIGS.items()):
        kinds = ", ".join(ENCODER_MODALITIES.get(name, ()))
        out += [
            f"### `{name}`",
            "",
            f"{_summary(cls)} Reads: {kinds}.",
            "",
            fields_table(cls, skip=("type",)),
        ]
    out += ["## `fusion`", "", "`fusion.type` picks the strategy; default `concat`.", ""]
    for name, cls in sorted(FUSION_CONFIGS.items()):
        out += [f"### `{name}`", "", _summary(cls), "", fields_table(cls, skip=("type",))]
    out += [
        "## `outputs[]`",
        "",
        f"`type` is one of {', '.join(f'`{t}`' for t in OUTPUT_TYPES)}.",
        "",
        fields_table(C.OutputConfig),
        "## `data`",
        "",
        fields_table(C.DataConfig),
        "## `training`",
        "",
        fields_table(C.TrainingConfig),
        "## `tracking`",
        "",
        fields_table(C.TrackingConfig),
    ]
    return "\n".join(out)


# --- CLI ------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for a in parser._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = ", ".join(f"`{s}`" for s in a.option_strings) or f"`{a.dest.upper()}`"
        if a.option_strings and a.nargs != 0:
            name += f" {a.metavar or a.dest.upper()}"
        default = (
            ""
            if a.default in (None, argparse.SUPPRESS, False)
            or isinstance(a, argparse._VersionAction)
            else f"`{a.default}`"
        )
        choices = f" One of: {', '.join(f'`{c}`' for c in a.choices)}." if a.choices else ""
        text = (
            (a.help or "") % {"default": a.default, "prog": parser.prog}
            if a.help and "%(" in a.help
            else (a.help or "")
        )
        rows.append(f"| {_escape(name)} | {_escape(text + choices)} | {default} |")
    return rows


def _command_section(prog: str, help_text: str, parser, level: int) -> list[str]:
    out = [f"{'#' * level} `{prog}`", ""]
    if help_text:
        out += [help_text[:1].upper() + help_text[1:] + ".", ""]
    formatter = argparse.HelpFormatter(prog, width=88)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    out += ["```", formatter.format_help().strip(), "```", ""]
    rows = _option_rows(parser)
    if rows:
        out += ["| argument | what it does | default |", "|---|---|---|", *rows, ""]
    for name, sub_help, sub in _subcommands(parser):
        out += _command_section(f"{prog} {name}", sub_help or "", sub, min(level + 1, 4))
    return out


def cli_reference() -> str:
    """The CLI reference page: every command, its usage and every option, from the
    parser `tfmm` runs."""
    from tfmm.cli import build_parser

    parser = build_parser()
    out = [
        "# CLI reference",
        "",
        "Generated from the `tfmm` command's parser (`tfmm/_reference.py`); every command "
        "also prints this with `--help`. Errors are one line, `tfmm COMMAND: error: ...`; "
        "`TFMM_DEBUG=1` shows the full traceback.",
        "",
    ]
    out += _command_section("tfmm", parser.description or "", parser, 2)
    return "\n".join(out)
