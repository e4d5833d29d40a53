"""Running a tfmm ONNX export from raw files, without TensorFlow.

    tfmm demo                       # writes savedmodels/demo/N/model.onnx
    python examples/onnx_inference.py savedmodels/demo/1 demo_run/data/test.csv

Needs only onnxruntime, numpy and Pillow (`pip install --no-deps tfmm && pip install
onnxruntime numpy pillow`): `tfmm.client.OnnxClient` reads the vocabularies, image sizes,
sample rates and labels from the ONNX file's metadata and turns raw inputs (text, image
and WAV files) into the model's inputs with the training run's preprocessing.
"""

import argparse
import csv
import os

from tfmm.client import OnnxClient


def read_manifest(path, client):
    """{input name: raw values} from a CSV manifest: the text as is, media paths resolved
    against the manifest's folder."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    base = os.path.dirname(os.path.abspath(path))
    raw = {}
    for i in client.inputs:
        values = [row[i["column"]] for row in rows]
        if i["type"] != "text":
            values = [os.path.join(base, v) if v else "" for v in values]
        raw[i["name"]] = values
    return raw


def print_predictions(client, raw, batch):
    """One line per row and output: the label (and its probability) or the value."""
    n = len(next(iter(raw.values())))
    for start in range(0, n, batch):
        out = client.predict({k: v[start : start + batch] for k, v in raw.items()})
        for o in client.outputs:
            name = o["name"]
            if o["type"] == "multiclass":
                for row, (label, p) in enumerate(
                    zip(out[f"{name}_label"], out[f"{name}_probabilities"]), start=start + 1
                ):
                    print(f"row {row}: {name} = {label} (p={p.max():.3f})")
            else:
                key = next(k for k in out if k.startswith(name + "_"))
                for row, value in enumerate(out[key], start=start + 1):
                    print(f"row {row}: {key} = {value}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version_dir", help="an export's version directory (or model.onnx)")
    parser.add_argument("manifest", help="CSV with the config's input columns")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)

    client = OnnxClient(args.version_dir)
    print("ONNX inputs:", [(i.name, i.shape, i.type) for i in client.session.get_inputs()])
    print_predictions(client, read_manifest(args.manifest, client), args.batch)
    return 0


if __name__ == "__main__":
    main()
