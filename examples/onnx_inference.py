"""Running a tfmm ONNX export with onnxruntime, from raw files.

    tfmm demo                       # writes savedmodels/demo/N/model.onnx
    python examples/onnx_inference.py savedmodels/demo/1 demo_run/data/test.csv

The ONNX model is the core tensor model; `tfmm/` beside it holds the config, the text
vocabularies and the labels. `OnnxInputs` turns raw inputs (text, image bytes, WAV bytes)
into the ONNX inputs with exactly the training run's preprocessing.
"""

import argparse
import json
import os

import numpy as np

from tfmm.export import OnnxInputs, onnx_predict, onnx_session
from tfmm.export.runtime import load_export, read_raw


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version_dir", help="an export's version directory")
    parser.add_argument("manifest", help="CSV/JSONL with the config's input columns")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)

    onnx_path = os.path.join(args.version_dir, "model.onnx")
    config, vocabularies, _ = load_export(onnx_path)
    with open(os.path.join(args.version_dir, "tfmm", "labels.json")) as f:
        labels = json.load(f)
    session = onnx_session(onnx_path)
    print("ONNX inputs:", [(i.name, i.shape, i.type) for i in session.get_inputs()])

    make_inputs = OnnxInputs(config, vocabularies)
    raw = read_raw(config, args.manifest)  # text strings and the files' bytes
    n = len(next(iter(raw.values())))
    for start in range(0, n, args.batch):
        feed = make_inputs({k: v[start:start + args.batch] for k, v in raw.items()})
        probabilities = onnx_predict(session, config, feed)
        for name, p in probabilities.items():
            for row, dist in enumerate(p, start=start + 1):
                k = int(np.argmax(dist))
                print(f"row {row}: {name} = {labels[name][k]} (p={dist[k]:.3f})")
    return 0


if __name__ == "__main__":
    main()
