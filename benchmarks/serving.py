"""4. Serving: batch-1 p50/p99 latency and batch-32 throughput of Keras `predict`, the
SavedModel's `predict_tensors` signature, onnxruntime and the TFLite interpreter (float32
and float16 files), on the same exported model, and each file's size."""

import os
import time

import keras
import tensorflow as tf

import tfmm
from benchmarks.common import config_for, demo_data, percentile_ms
from tfmm.export import export_model, onnx_predict, onnx_session
from tfmm.export.tflite import tflite_predict, tflite_runner

NAME = "serving"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (1, 2)


def latencies(fn, n):
    fn()
    fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _size(path):
    """MB on disk of a file, or of every file under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path) / 1e6
    return (
        sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
        / 1e6
    )


def run(root, quick=True, log=print):
    data = demo_data(root, 600)
    config, vocabs = config_for(data, image_size=32)
    keras.utils.set_random_seed(0)
    model = tfmm.build_model(config, vocabs)
    paths = export_model(
        model,
        config,
        vocabs,
        f"{root}/serving_export",
        formats=("savedmodel", "onnx", "tflite"),
        log=lambda *a: None,
    )
    ds = tfmm.data.make_dataset(
        config, data + "/test.csv", vocabs, with_labels=False, batch_size=32
    )
    x32 = {k: v.numpy() for k, v in next(iter(ds)).items()}
    x1 = {k: v[:1] for k, v in x32.items()}
    signature = tf.saved_model.load(paths["savedmodel"]).signatures["predict_tensors"]
    session = onnx_session(paths["onnx"])
    runners = {
        "keras": lambda x: model.predict(x, verbose=0),
        "savedmodel": lambda x: signature(**{k: tf.constant(v) for k, v in x.items()}),
        "onnxruntime": lambda x: onnx_predict(session, config, x),
        "tflite": lambda x, r=tflite_runner(paths["tflite"]): tflite_predict(r, x),
        "tflite_fp16": lambda x, r=tflite_runner(paths["tflite_fp16"]): tflite_predict(r, x),
    }
    sizes = {
        "keras": None,
        "savedmodel": sum(
            _size(os.path.join(paths["savedmodel"], p)) for p in ("saved_model.pb", "variables")
        ),
        "onnxruntime": _size(paths["onnx"]),
        "tflite": _size(paths["tflite"]),
        "tflite_fp16": _size(paths["tflite_fp16"]),
    }
    n = 30 if quick else 200
    results = {}
    for name, fn in runners.items():
        lat = latencies(lambda: fn(x1), n)
        batch_time = min(latencies(lambda: fn(x32), 3 if quick else 10))
        results[name] = {
            "p50_ms": percentile_ms(lat, 50),
            "p99_ms": percentile_ms(lat, 99),
            "batch32_examples_per_s": 32 / batch_time,
        }
        if sizes[name] is not None:
            results[name]["mb"] = sizes[name]
        r = results[name]
        size = f"   {sizes[name]:6.2f} MB" if sizes[name] is not None else ""
        log(
            f"{name:<12} batch-1 p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms   "
            f"batch-32 {r['batch32_examples_per_s']:8.1f} examples/s{size}"
        )
    ratio = results["onnxruntime"]["p50_ms"] / results["savedmodel"]["p50_ms"]
    log(
        f"onnxruntime / SavedModel batch-1 p50: {ratio:.2f}; Keras predict / SavedModel: "
        f"{results['keras']['p50_ms'] / results['savedmodel']['p50_ms']:.2f}"
    )
    log(f"{NAME}: ratio={ratio:.3f}")
    return {**results, "ratio": ratio, "goal": "<= 0.5"}
