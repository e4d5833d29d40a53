"""`tfmm.outputs`: one object per output type, the only place that branches on it."""

import typing

import numpy as np
import pytest

from tfmm.config import OutputConfig
from tfmm.outputs import OUTPUT_TYPES, output_type


def test_every_config_type_has_an_output_type():
    allowed = typing.get_args(typing.get_type_hints(OutputConfig)["type"])
    assert sorted(allowed) == sorted(OUTPUT_TYPES)
    with pytest.raises(
        ValueError,
        match=r"unknown output type; allowed: \['binary', "
        r".*Received: type='ordinal'",
    ):
        output_type("ordinal")


@pytest.mark.parametrize(
    "kind, labels, cell, units, row",
    [
        (
            "multiclass",
            ["a", "b", "c"],
            "b",
            3,
            {"y": "c", "y_p_a": 0.1, "y_p_b": 0.3, "y_p_c": 0.6},
        ),
        ("binary", ["no", "yes"], "yes", 1, {"y": "yes", "y_p_yes": 0.6}),
        ("multilabel", ["a", "b", "c"], "a|c", 3, {"y": "b|c"}),
    ],
)
def test_label_outputs_read_cells_and_write_rows(kind, labels, cell, units, row):
    o = OutputConfig("y", type=kind, labels=labels)
    t = output_type(o)
    assert t.units(o) == units and t.num_labels(units) == len(labels)
    assert t.cell_problem(o, cell, set(labels)) is None
    assert "label 'z' was not seen in training" in t.cell_problem(o, "z", set(labels))
    p = [0.6] if kind == "binary" else [0.1, 0.3, 0.6] if kind == "multiclass" else [0.2, 0.7, 0.9]
    got = t.prediction_row(o, np.array(p, "float32"))
    assert got.keys() == row.keys()
    assert all(
        got[k] == pytest.approx(v) if isinstance(v, float) else got[k] == v for k, v in row.items()
    )


def test_label_vocabularies_from_training_cells():
    multi = OutputConfig("tags", type="multilabel")
    assert output_type(multi).infer_labels(multi, ["b|a", None, "c", "a"]) == ["a", "b", "c"]
    binary = OutputConfig("ok", type="binary")
    with pytest.raises(
        ValueError,
        match=r"output 'ok': a binary output needs exactly 2 "
        r"distinct labels in the training data\. "
        r"Received: \['n', 'x', 'y'\]",
    ):
        output_type(binary).infer_labels(binary, ["y", "n", "x"])


def test_regression_cells_are_numbers_of_the_output_width():
    o = OutputConfig("v", type="regression", num_targets=2)
    t = output_type(o)
    assert not t.has_labels and t.units(o) == 2
    assert t.cell_problem(o, "1.5|-2", None) is None
    assert t.cell_problem(o, "1.5|x", None) == "target '1.5|x' is not a number"
    assert t.cell_problem(o, "1.5", None) == "expected 2 targets, found 1"
    assert t.prediction_row(o, np.array([1.5, -2.0])) == {"v": "1.5|-2"}
    report = t.report(o, np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]))
    assert report == {"mae": 1.5, "rmse": pytest.approx(np.sqrt(2.5)), "n": 1}
