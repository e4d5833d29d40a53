"""BENCHMARKS.md holds only figures its scripts wrote: every table inside a marked
section, every section that holds figures starting with its script's stamp line."""

import os
import re

from benchmarks.common import STAMP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARKER = re.compile(r"<!-- (\S+):(begin|end) -->")


def sections(text):
    """{name: body} of the `<!-- NAME:begin -->` ... `<!-- NAME:end -->` sections."""
    out = {}
    for m in re.finditer(r"<!-- (\S+):begin -->\n(.*?)<!-- \1:end -->", text, re.S):
        out[m.group(1)] = m.group(2)
    return out


def current_text(path=None):
    """The text of BENCHMARKS.md's marked sections: where a quoted figure must be."""
    with open(path or os.path.join(ROOT, "BENCHMARKS.md"), encoding="utf-8") as f:
        return "\n".join(sections(f.read()).values())


def problems(text):
    """What breaks the rule in a BENCHMARKS.md text, in words."""
    found, inside = [], None
    for number, line in enumerate(text.splitlines(), 1):
        m = MARKER.fullmatch(line.strip())
        if m:
            inside = m.group(1) if m.group(2) == "begin" else None
        elif line.startswith("|") and inside is None:
            found.append(f"line {number}: a table outside the marked sections")
    for name, body in sections(text).items():
        figures = "|" in body or re.search(r"\d\.\d{3}", body)
        first = body.strip().splitlines()[0] if body.strip() else ""
        if figures and not STAMP.match(first):
            found.append(f"section {name!r}: figures without the stamp line, begins {first!r}")
    return found


def test_benchmarks_md_keeps_its_figures_in_stamped_sections():
    with open(os.path.join(ROOT, "BENCHMARKS.md"), encoding="utf-8") as f:
        assert problems(f.read()) == []


STAMPED = (
    "Written 2026-12-05 by `python -m x` at commit abc1234 on x86_64, 2 CPUs.\n\n"
    "| a | b |\n|---|---|\n| 1 | 0.123 |\n"
)


def test_the_rule_catches_a_loose_table_and_an_unstamped_section():
    ok = f"# B\n\n<!-- q:begin -->\n{STAMPED}<!-- q:end -->\n\n<!-- e:begin -->\n<!-- e:end -->\n"
    assert problems(ok) == []
    loose = ok + "\n| hand | made |\n"
    assert problems(loose) == [
        f"line {len(ok.splitlines()) + 2}: a table outside the marked sections"
    ]
    unstamped = ok.replace(
        "Written 2026-12-05 by `python -m x` at commit abc1234 on x86_64, 2 CPUs.", "Run by hand."
    )
    assert problems(unstamped) == [
        "section 'q': figures without the stamp line, begins 'Run by hand.'"
    ]
    prose = "# B\n<!-- p:begin -->\nIt reached 0.912 by hand.\n<!-- p:end -->\n"
    assert len(problems(prose)) == 1
