"""13. One GPU: the fused model's training step in float32, `mixed_float16` and with XLA;
its FLOP/s against the GPU's own matmul peak; the input pipeline against the step's
appetite; the cuDNN-LSTM model's export. Three models (`MODELS`): `compact` (the demo's
`cnn` encoders, too small to load a GPU), `mission` (ResNet50 at 224 px + an LSTM over
the log-mel frames + TextCNN: the mission's model) and `mission_bert` (the same with a
BERT-base-sized text encoder from scratch: 12 layers, width 768, 128 tokens; last, and
left out when the run has used its time). Run on a machine with a GPU:

    python -m benchmarks.run --only gpu --gpu
    python -m benchmarks.gpu --device CPU --quick     # the same code path on the CPU

Without a GPU (and without `--device CPU`) it measures nothing and says so: GPU figures
are never estimated.
"""

import argparse
import dataclasses
import os
import time

NAME = "gpu"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (0, 10)
IMAGE_SIZE = 224
BATCH = 64
# name -> (image encoder, audio encoder, text encoder); "bert" is sized below.
MODELS = {
    "compact": ({"type": "cnn"}, "cnn", "textcnn"),
    "mission": ({"type": "resnet50"}, "lstm", "textcnn"),
    "mission_bert": ({"type": "resnet50"}, "lstm", "bert"),
}
# The full run leaves out the models not yet started after this many seconds (the device
# time of a session is short).
TIME_BUDGET_S = 360


def _bert(manifest):
    """A BERT-base-sized encoder from scratch, with a WordPiece vocabulary of the manifest's
    words written beside it (nothing downloaded)."""
    import csv

    vocab = os.path.join(os.path.dirname(manifest), "bert_vocab.txt")
    with open(manifest, newline="", encoding="utf-8") as f:
        words = sorted({w for r in csv.DictReader(f) for w in r["caption"].lower().split()})
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    return {
        "type": "bert",
        "vocabulary": vocab,
        "num_layers": 12,
        "num_heads": 12,
        "hidden_dim": 768,
        "intermediate_dim": 3072,
        "sequence_length": 128,
        "max_sequence_length": 128,
    }


def _config(manifest, audio="cnn", model=None):
    import tfmm

    image_encoder, audio, text = MODELS[model] if model else ({"type": "cnn"}, audio, "textcnn")
    audio_encoder = (
        {"type": "cnn"} if audio == "cnn" else {"type": "lstm", "num_mel_bins": 40, "units": [64]}
    )
    text_encoder = (
        _bert(manifest)
        if text == "bert"
        else {"type": "textcnn", "vocab_size": 3000, "sequence_length": 64}
    )
    return tfmm.config_from_dict(
        {
            "name": f"gpu_{model or audio}",
            "inputs": [
                {
                    "name": "text",
                    "type": "text",
                    "column": "caption",
                    "encoder": text_encoder,
                },
                {
                    "name": "image",
                    "type": "image",
                    "column": "image_path",
                    "image_size": IMAGE_SIZE,
                    "encoder": image_encoder,
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


def measure(
    root, device="GPU", quick=True, log=print, models=("compact", "mission", "mission_bert")
):
    import keras
    import tensorflow as tf

    from benchmarks.compute import matmul_peak
    from benchmarks.input_pipeline_224 import make_data

    global BATCH
    n = 32 if quick else 512
    steps = 2 if quick else 20
    saved, BATCH = BATCH, (8 if quick else BATCH)
    start = time.perf_counter()
    try:
        manifest = make_data(os.path.join(root, f"media224_{n}"), n)
        out = {
            "device": tf.config.experimental.get_device_details(
                tf.config.list_physical_devices(device)[0]
            ).get("device_name", device),
            "batch": BATCH,
        }
        with tf.device(f"/{device}:0"):
            half = tf.float16 if device == "GPU" else tf.bfloat16
            out["matmul_peak_gflops"] = {
                "float32": matmul_peak() / 1e9,
                half.name: matmul_peak(4096 if device == "GPU" else 1024, dtype=half) / 1e9,
            }
        for k, name in enumerate(models):
            if k and not quick and time.perf_counter() - start > TIME_BUDGET_S:
                out[name] = {"skipped": f"the run had used {TIME_BUDGET_S} s"}
                log(f"{name}: skipped (time)")
                continue
            out[name] = _measure_model(name, manifest, device, steps, out, log)
            keras.utils.clear_session()
        first = out[models[0]]
        out["cudnn_lstm_export"] = cudnn_export(root, manifest, first["_x"], first["_y"], device)
        for name in models:
            out[name].pop("_x", None), out[name].pop("_y", None)
        return out
    finally:
        BATCH = saved


def _measure_model(name, manifest, device, steps, out, log):
    """One model's float32, mixed-precision (float16 on a GPU, bfloat16 on a CPU) and XLA
    steps, FLOP/s and the pipeline's appetite."""
    import keras
    import tensorflow as tf

    import tfmm
    from benchmarks.compute import step_time, train_step_flops

    config = _config(manifest, model=name)
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(manifest))
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, batch_size=BATCH))
    ds = tfmm.data.make_dataset(config, manifest, vocabs, training=True, repeat=True)
    x, y = next(iter(ds))
    result = {"_x": x, "_y": y}
    with tf.device(f"/{device}:0"):
        # On a CPU (the code path's check) float16 is emulated and takes minutes a step;
        # the CPU's mixed policy is bfloat16, as tfmm's `mixed_precision` picks there.
        mixed = "mixed_float16" if device == "GPU" else "mixed_bfloat16"
        for mode in ("float32", mixed, "xla"):
            keras.utils.clear_session()
            keras.mixed_precision.set_global_policy(mode if mode == mixed else "float32")
            try:
                keras.utils.set_random_seed(0)
                model = tfmm.build_model(config, vocabs)
                tfmm.compile_model(model, config, jit_compile=mode == "xla")
                seconds = step_time(model, x, y, steps)
                row = {"step_ms": seconds * 1000, "examples_per_s": BATCH / seconds}
                if mode == "float32":
                    flops = train_step_flops(model, x, y)
                    row.update(
                        params=model.count_params(),
                        step_gflop=flops / 1e9,
                        fraction_of_fp32_peak=flops
                        / seconds
                        / 1e9
                        / out["matmul_peak_gflops"]["float32"],
                    )
                if mode == mixed:
                    # Against the half-precision peak: what tensor cores allow.
                    half = "float16" if device == "GPU" else "bfloat16"
                    row[f"fraction_of_{half}_peak"] = (
                        result["float32"]["step_gflop"] / seconds / out["matmul_peak_gflops"][half]
                    )
                result[mode] = row
                log(f"{name} {mode}: {row}")
            finally:
                keras.mixed_precision.set_global_policy("float32")
    # The input pipeline (on the host's CPUs) against the float32 step's appetite.
    it = iter(ds)
    next(it)
    t = time.perf_counter()
    for _ in range(steps):
        next(it)
    pipeline = steps * BATCH / (time.perf_counter() - t)
    result["pipeline_examples_per_s"] = pipeline
    result["pipeline_over_step"] = pipeline / result["float32"]["examples_per_s"]
    log(f"{name}: pipeline {pipeline:.0f} examples/s, {result['pipeline_over_step']:.2f}x the step")
    return result


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
    m = out["mission"]
    ratio = m["mixed_float16"]["examples_per_s"] / m["float32"]["examples_per_s"]
    return {**out, "ratio": ratio, "goal": "mixed_float16 over float32 examples/s (mission)"}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/tfmm-bench224")
    p.add_argument("--device", default="GPU", choices=["GPU", "CPU"])
    p.add_argument("--quick", action="store_true", help="batch 8, 2 steps: the code path")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    print(measure(args.work, args.device, args.quick, models=tuple(args.models)))


if __name__ == "__main__":
    main()
