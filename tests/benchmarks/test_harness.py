"""The benchmark harness (not the figures: those live in BENCHMARKS.md, never in tests)."""

from benchmarks import run as bench


def test_table_rewrites_only_between_the_markers(tmp_path):
    doc = tmp_path / "B.md"
    doc.write_text(f"# keep\n{bench.BEGIN}\nold table\n{bench.END}\nkeep too\n")
    text = bench.table({"serving": {"p50_ms": 1.5, "ratio": 0.36, "goal": "<= 0.5"},
                        "scale": {"error": "RuntimeError: boom"}}, quick=True, seconds=12)
    bench.write_markdown(text, path=str(doc))
    out = doc.read_text()
    assert out.startswith("# keep\n") and out.endswith(f"{bench.END}\nkeep too\n")
    assert "old table" not in out
    assert "| serving | 0.360 | <= 0.5 | p50_ms=1.5 |" in out
    assert "| scale | failed | | RuntimeError: boom |" in out
    assert "(--quick, 12 s)" in out and "tensorflow 2." in out


def test_every_benchmark_module_has_a_name_and_run():
    import importlib

    for name in bench.BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        assert module.NAME == name and callable(module.run)
