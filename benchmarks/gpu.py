"""13. One GPU: the fused model's training step in float32, `mixed_float16` and with XLA;
its FLOP/s against the GPU's own matmul peak; the input pipeline against the step's
appetite; the cuDNN-LSTM model's export. Run on a machine with a GPU:

    python -m benchmarks.run --only gpu --gpu
    python -m benchmarks.gpu --device CPU --quick     # the same code path on the CPU

Without a GPU (and without `--device CPU`) it measures nothing and says so: GPU figures
are never estimated.
"""

import argparse
import os
import time

NAME = "gpu"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (0, 10)
IMAGE_SIZE = 224
BATCH = 64


def _config(manifest, audio="cnn"):
    import tfmm

    audio_encoder = (
        {"type": "cnn"} if audio == "cnn" else {"type": "lstm", "num_mel_bins": 40, "units": [64]}
    )
    return tfmm.config_from_dict(
        {
            "name": f"gpu_{audio}",
            "inputs": [
                {
                    "name": "text",
                    "type": "text",
                    "column": "caption",
                    "encoder": {"type": "textcnn", "vocab_size": 3000, "sequence_length": 64},
                },
                {
                    "name": "image",
                    "type": "image",
                    "column": "image_path",
                    "image_size": IMAGE_SIZE,
                    "encoder": {"type": "cnn"},
                },
                {
                    "name": "audio",
                    "type": "audio",
                    "column": "audio_path",
                    "sample_rate": 16000,
                    "clip_seconds": 5.0,
                    "resample": True,
                    "encoder": audio_encoder,
                },
            ],
            "fusion": {"type": "concat", "hidden_units": [128]},
            "outputs": [{"name": "label", "type": "multiclass", "column": "label"}],
            "data": {"train": manifest, "batch_size": BATCH},
        }
    )


def measure(root, device="GPU", quick=True, log=print):
    import keras
    import tensorflow as tf

    import tfmm
    from benchmarks.compute import matmul_peak, step_time, train_step_flops
    from benchmarks.input_pipeline_224 import make_data

    n = 96 if quick else 512
    steps = 5 if quick else 20
    manifest = make_data(os.path.join(root, f"media224_{n}"), n)
    config = _config(manifest)
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(manifest))
    ds = tfmm.data.make_dataset(config, manifest, vocabs, training=True, repeat=True)
    x, y = next(iter(ds))
    out = {
        "device": tf.config.experimental.get_device_details(
            tf.config.list_physical_devices(device)[0]
        ).get("device_name", device)
    }
    with tf.device(f"/{device}:0"):
        out["matmul_peak_gflops"] = {
            "float32": matmul_peak() / 1e9,
            "float16": matmul_peak(4096 if device == "GPU" else 512, dtype=tf.float16) / 1e9,
        }
        for mode in ("float32", "mixed_float16", "xla"):
            keras.utils.clear_session()
            keras.mixed_precision.set_global_policy(
                "mixed_float16" if mode == "mixed_float16" else "float32"
            )
            try:
                keras.utils.set_random_seed(0)
                model = tfmm.build_model(config, vocabs)
                tfmm.compile_model(model, config, jit_compile=mode == "xla")
                seconds = step_time(model, x, y, steps)
                row = {"step_ms": seconds * 1000, "examples_per_s": BATCH / seconds}
                if mode == "float32":
                    flops = train_step_flops(model, x, y)
                    row.update(
                        step_gflop=flops / 1e9,
                        fraction_of_fp32_peak=flops
                        / seconds
                        / 1e9
                        / out["matmul_peak_gflops"]["float32"],
                    )
                out[mode] = row
                log(f"{mode}: {row}")
            finally:
                keras.mixed_precision.set_global_policy("float32")
    # The input pipeline (on the host's CPUs) against the float32 step's appetite.
    it = iter(ds)
    next(it)
    t = time.perf_counter()
    for _ in range(steps):
        next(it)
    pipeline = steps * BATCH / (time.perf_counter() - t)
    out["pipeline_examples_per_s"] = pipeline
    out["pipeline_over_step"] = pipeline / out["float32"]["examples_per_s"]
    out["cudnn_lstm_export"] = cudnn_export(root, manifest, x, y, device)
    log(f"pipeline {pipeline:.0f} examples/s, {out['pipeline_over_step']:.2f}x the step")
    return out


def cudnn_export(root, manifest, x, y, device="GPU"):
    """The LSTM audio encoder (cuDNN's kernel on a GPU) trained one step on `device`,
    exported and checked in both runtimes (the export checks itself against Keras)."""
    import shutil

    import keras
    import tensorflow as tf

    import tfmm

    keras.utils.clear_session()
    config = _config(manifest, audio="lstm")
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(manifest))
    with tf.device(f"/{device}:0"):
        model = tfmm.build_model(config, vocabs)
        tfmm.compile_model(model, config)
        model.train_on_batch(x, y)
    out_dir = os.path.join(root, "gpu_export")
    shutil.rmtree(out_dir, ignore_errors=True)
    t = time.perf_counter()
    paths = tfmm.export.export_model(model, config, vocabs, out_dir, log=lambda *a: None)
    return {
        "seconds": time.perf_counter() - t,
        "formats": sorted(k for k in paths if k in ("savedmodel", "onnx")),
    }


def run(root, quick=True, log=print, gpu=False):
    import tensorflow as tf

    if not (gpu and tf.config.list_physical_devices("GPU")):
        log("gpu: no GPU on this machine (or --gpu not given): nothing measured")
        return {"ratio": float("nan"), "goal": "measured on a GPU only", "skipped": "no GPU"}
    out = measure(root, "GPU", quick, log)
    ratio = out["mixed_float16"]["examples_per_s"] / out["float32"]["examples_per_s"]
    return {**out, "ratio": ratio, "goal": "mixed_float16 over float32 examples/s"}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/tfmm-bench224")
    p.add_argument("--device", default="GPU", choices=["GPU", "CPU"])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    print(measure(args.work, args.device, args.quick))


if __name__ == "__main__":
    main()
