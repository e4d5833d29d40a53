"""3. Compute efficiency: achieved training FLOP/s of the fused demo model (FLOPs counted
from the traced training step, forward and backward) divided by the fp32 matmul peak
measured in the same run; and what fusion costs: the fused model's step time divided by
its image branch's alone (the demo's `cnn` image encoder)."""

import time

import keras
import tensorflow as tf

import tfmm
from benchmarks.common import config_for, demo_data

NAME = "compute"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (1, 2)


def matmul_peak(n=2048, repeats=10, dtype=tf.float32):
    """Best matmul FLOP/s (float32 unless told) of this machine's default device, now."""
    a = tf.cast(tf.random.normal([n, n]), dtype)
    b = tf.cast(tf.random.normal([n, n]), dtype)

    @tf.function
    def mm(a, b):
        return tf.matmul(a, b)

    mm(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        mm(a, b).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def train_step_flops(model, x, y):
    """FLOPs of one training step (forward, loss, gradients) from TF's op statistics."""
    loss_fns = {
        o: keras.losses.get(model.loss[o]) if isinstance(model.loss, dict) else None for o in y
    }
    specs = tf.nest.map_structure(lambda v: tf.TensorSpec(v.shape, v.dtype), (x, y))

    @tf.function(input_signature=specs)
    def step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = tf.add_n([tf.reduce_mean(loss_fns[k](y[k], out[k])) for k in y])
        return tape.gradient(loss, model.trainable_variables)

    graph = step.get_concrete_function().graph
    from tensorflow.python.profiler import model_analyzer, option_builder

    opts = option_builder.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    info = model_analyzer.profile(graph, options=opts)
    return info.total_float_ops


def step_time(model, x, y, steps):
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    t = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.perf_counter() - t) / steps


def _model(config, vocabs):
    keras.utils.set_random_seed(0)
    model = tfmm.build_model(config, vocabs)
    tfmm.compile_model(model, config)
    return model


def run(root, quick=True, log=print):
    data = demo_data(root, 600)
    image_size = 64 if quick else 224
    batch, steps = 32, (3 if quick else 10)
    config, vocabs = config_for(data, image_size=image_size)
    ds = tfmm.data.make_dataset(config, data + "/train.csv", vocabs, training=True, repeat=True)
    x, y = next(iter(ds))
    peak = matmul_peak()
    fused = _model(config, vocabs)
    flops = train_step_flops(fused, x, y)
    fused_time = step_time(fused, x, y, steps)
    achieved = flops / fused_time
    image_config, image_vocabs = config_for(data, modalities=("image",), image_size=image_size)
    image_model = _model(image_config, image_vocabs)
    xi = {"image": x["image"]}
    image_time = step_time(image_model, xi, y, steps)
    ratio = achieved / peak
    log(f"fp32 matmul peak (2048^3, this run): {peak / 1e9:7.1f} GFLOP/s")
    log(
        f"fused model at {image_size}x{image_size}, batch {batch}: {flops / 1e9:.2f} GFLOP "
        f"per training step, {fused_time * 1000:.0f} ms/step -> {achieved / 1e9:.1f} GFLOP/s"
    )
    log(
        f"image branch alone: {image_time * 1000:.0f} ms/step; fused/image step time "
        f"{fused_time / image_time:.2f}"
    )
    log(f"{NAME}: ratio={ratio:.3f}")
    return {
        "peak_gflops": peak / 1e9,
        "step_gflop": flops / 1e9,
        "achieved_gflops": achieved / 1e9,
        "image_size": image_size,
        "fused_over_image_step_time": fused_time / image_time,
        "ratio": ratio,
        "goal": ">= 0.5",
    }
