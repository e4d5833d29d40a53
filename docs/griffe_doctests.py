"""A griffe extension for the API reference: tfmm's docstrings write their doctests
unindented after `Example:` (as the standard library does); fence each doctest block as
`pycon` so that Markdown shows it as code, not as nested quotes."""

import griffe


def fence_doctests(text: str) -> str:
    """Each run of `>>>` lines (with their `...` continuations and output, up to a blank
    line) inside no other fence becomes a ```pycon block.

    >>> fence_doctests("Example:\\n\\n>>> 1 + 1\\n2\\n")
    'Example:\\n\\n```pycon\\n>>> 1 + 1\\n2\\n```\\n'
    """
    out, block, fenced = [], [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and not block and line.lstrip().startswith(">>>"):
            block = [line]
            continue
        if block:
            if line.strip():
                block.append(line)
                continue
            out += ["```pycon", *block, "```"]
            block = []
        out.append(line)
    if block:
        out += ["```pycon", *block, "```"]
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
