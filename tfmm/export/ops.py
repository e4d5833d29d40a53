"""Which TensorFlow ops a SavedModel needs: for telling whether a stock TF Serving build
(core TensorFlow ops only) can run it.

Run it in a process that has not imported tensorflow_text (keras-hub imports it): then
the op registry holds exactly core TensorFlow's ops.

    python -m tfmm.export.ops savedmodels/demo/1
"""

import json
import os
import sys

PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def saved_model_ops(path):
    """Sorted op types used by the SavedModel at `path`, its function library included."""
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    ops = set()
    for mg in sm.meta_graphs:
        ops.update(n.op for n in mg.graph_def.node)
        for fn in mg.graph_def.library.function:
            ops.update(n.op for n in fn.node_def)
        # Calls of library functions are not ops.
        ops -= {fn.signature.name for fn in mg.graph_def.library.function}
    return sorted(ops)


def non_core_ops(path):
    """(ops not registered in core TensorFlow, Python-function ops) of the SavedModel."""
    from tfmm._keras_compat import op_def_registry

    registry = op_def_registry()
    ops = saved_model_ops(path)
    return ([op for op in ops if registry.get(op) is None], [op for op in ops if op in PYTHON_OPS])


def main(argv=None):
    path = (argv or sys.argv[1:])[0]
    missing, python = non_core_ops(path)
    print(
        json.dumps(
            {
                "ops": len(saved_model_ops(path)),
                "not_in_core_tensorflow": missing,
                "python_ops": python,
            }
        )
    )
    return 1 if missing or python else 0


if __name__ == "__main__":
    sys.exit(main())
