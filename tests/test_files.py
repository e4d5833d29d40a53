"""Atomic writes: the target is the old file or the whole new one, never half of one."""

import json

import pytest

from tfmm.files import atomic_path, temporary_name, write_json


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    write_json(str(target), {"epoch": 1})
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "w") as f:
                f.write('{"epoch": 2, "weights": "half')
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_leftover_temporary_is_overwritten_and_the_folder_made(tmp_path):
    target = tmp_path / "new" / "model.weights.h5"
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "model.tmp.weights.h5").write_text("a kill's leftover")
    with atomic_path(str(target)) as tmp:
        assert tmp == temporary_name(str(target)) and tmp.endswith(".tmp.weights.h5")
        with open(tmp, "w") as f:
            f.write("whole")
    assert target.read_text() == "whole"
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["model.weights.h5"]
    write_json(str(tmp_path / "deeper" / "x.json"), [1, 2])
    assert json.loads((tmp_path / "deeper" / "x.json").read_text()) == [1, 2]
