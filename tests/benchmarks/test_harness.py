"""The benchmark harness (not the figures: those live in BENCHMARKS.md, never in tests)."""

from benchmarks import run as bench


def test_table_rewrites_only_between_the_markers(tmp_path):
    doc = tmp_path / "B.md"
    doc.write_text(f"# keep\n{bench.BEGIN}\nold table\n{bench.END}\nkeep too\n")
    text = bench.table(
        {
            "serving": {"p50_ms": 1.5, "ratio": 0.36, "goal": "<= 0.5", "seconds": 41.2},
            "scale": {"error": "RuntimeError: boom"},
        },
        quick=True,
        seconds=12,
        rev="abc1234",
    )
    bench.write_markdown(text, path=str(doc))
    out = doc.read_text()
    assert out.startswith("# keep\n") and out.endswith(f"{bench.END}\nkeep too\n")
    assert "old table" not in out
    assert "| serving | 0.360 | <= 0.5 | 41 | p50_ms=1.5 |" in out
    assert "| scale | failed | |  | RuntimeError: boom |" in out
    assert "by `python -m benchmarks.run --quick` at commit abc1234 on " in out
    assert "(--quick, 12 s)." in out
    assert "tensorflow 2." in out


def test_every_benchmark_module_has_a_name_run_and_its_expected_minutes():
    for name in bench.BENCHMARKS:
        module = bench.module(name)
        assert module.NAME == name and callable(module.run)
        quick, full = module.MINUTES
        assert 0 <= quick <= full, name


def test_quick_leaves_out_the_long_benchmarks_and_fits_its_budget():
    quick = bench.selected(quick=True)
    assert "quality" not in quick and "tables" not in quick and "demo" in quick
    assert bench.selected() == list(bench.BENCHMARKS)
    assert bench.selected(["quality"], quick=True) == ["quality"]
    assert bench.expected_minutes(quick, quick=True) <= bench.QUICK_BUDGET_MINUTES


def test_a_benchmark_section_is_added_once_then_rewritten(tmp_path):
    import datetime

    from benchmarks.common import STAMP, write_section

    doc = tmp_path / "B.md"
    doc.write_text("# top\n")
    write_section("fusion", "table one", path=str(doc))
    write_section("fusion", "table two", path=str(doc))
    assert doc.read_text() == "# top\n\n<!-- fusion:begin -->\ntable two\n<!-- fusion:end -->\n"
    write_section("fusion", "table three", path=str(doc), command="python -m x", rev="abc")
    first = doc.read_text().split("\n")[3]
    m = STAMP.match(first)
    assert m and m.group(2) == "python -m x" and m.group(3) == "abc", first
    assert m.group(1) == datetime.date.today().isoformat() and "CPUs" in m.group(4)


def test_labelled_subset_keeps_a_fraction_of_rows_beside_the_manifest(tmp_path):
    from benchmarks.pretraining import labelled_subset

    train = tmp_path / "train.csv"
    train.write_text("caption,label\n" + "".join(f"t{k},l{k % 3}\n" for k in range(100)))
    path = labelled_subset(str(train), 0.1, seed=0)
    rows = open(path).read().splitlines()
    assert rows[0] == "caption,label" and len(rows) == 11
    assert set(rows[1:]) <= set(train.read_text().splitlines()[1:])
    assert labelled_subset(str(train), 0.1, seed=0) == path
    assert open(path).read().splitlines() == rows  # same seed, same rows
