"""tfmm's modules import each other without a circle, counting the imports inside
functions too (a lazy import hides a circle from Python, not from a reader)."""

import ast
import os

import tfmm

ROOT = os.path.dirname(tfmm.__file__)


def _modules():
    out = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = "tfmm." + os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                out[name.removesuffix(".__init__")] = path
    return out


def import_graph():
    """{module: the tfmm modules it imports}; `from package import module` is an edge to
    the module, `from package import name` one to the package."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfmm"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules)
        edges.discard(name)
        graph[name] = edges & set(modules)
    return graph


def circles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_finder_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle():
    graph = import_graph()
    assert "tfmm.data.manifest" in graph["tfmm.data.check"]  # the graph is read
    assert circles(graph) == []


def test_nothing_below_training_imports_it():
    """The layers, encoders, fusions, outputs and data never reach up to training."""
    graph = import_graph()
    low = [
        m
        for m in graph
        if m.startswith(
            ("tfmm.layers", "tfmm.encoders", "tfmm.fusion", "tfmm.data", "tfmm.input_types")
        )
        or m in ("tfmm.outputs", "tfmm.losses", "tfmm.metrics")
    ]
    upward = {
        m: sorted(
            e for e in graph[m] if e.startswith(("tfmm.training", "tfmm.models", "tfmm.export"))
        )
        for m in low
    }
    assert {m: e for m, e in upward.items() if e} == {}
