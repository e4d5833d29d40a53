"""Running a tfmm TFLite export from raw files, with LiteRT and no TensorFlow.

    tfmm export runs/demo/fused --out savedmodels/demo --format tflite
    python examples/tflite_inference.py savedmodels/demo/2 demo_run/data/test.csv

Needs numpy, Pillow and a TFLite runtime (`pip install --no-deps tfmm && pip install
ai-edge-litert numpy pillow`; TensorFlow's `tf.lite.Interpreter` is used where LiteRT is
missing). `tfmm.client.TFLiteClient` reads the vocabularies, image sizes, sample rates and
labels from `tfmm/client.json` in the version folder and turns raw inputs (text, image
and WAV files) into the model's inputs with the training run's preprocessing, the same
as `examples/onnx_inference.py` does for ONNX. `--fp16` runs `model.fp16.tflite` (float16
weights, about half the size).
"""

import argparse
import os
import sys

from tfmm.client import TFLiteClient

# The manifest reading and printing are onnx_inference.py's, beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_inference import print_predictions, read_manifest  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version_dir", help="an export's version directory")
    parser.add_argument("manifest", help="CSV with the config's input columns")
    parser.add_argument("--fp16", action="store_true", help="run model.fp16.tflite")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)

    name = "model.fp16.tflite" if args.fp16 else "model.tflite"
    client = TFLiteClient(os.path.join(args.version_dir, name))
    print("TFLite inputs:", sorted(client.runner.get_input_details()))
    print_predictions(client, read_manifest(args.manifest, client), args.batch)
    return 0


if __name__ == "__main__":
    main()
