"""tf.distribute strategy selection."""

import tensorflow as tf

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multiworker", "tpu")


def get_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` that `name` asks for.

    - auto: a TPU if a cluster resolver finds one; else MirroredStrategy over the GPUs when
      there are several; else the default strategy.
    - mirrored: MirroredStrategy over the local GPUs (or the logical CPU devices when there
      is no GPU and the CPU was split, as the tests do).
    - multiworker: MultiWorkerMirroredStrategy; reads `TF_CONFIG`.
    - tpu: TPUStrategy through `TPUClusterResolver`; fails clearly without a TPU.
    - one_device: the first GPU, else the CPU.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; allowed: {list(STRATEGIES)}")
    if name == "auto":
        tpu = _try_tpu()
        if tpu is not None:
            return tpu
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    tpu = _try_tpu()
    if tpu is None:
        raise RuntimeError(
            "strategy 'tpu': no TPU found by TPUClusterResolver (run on a TPU VM, or set TPU_NAME)."
        )
    return tpu


def _try_tpu():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError, KeyError):
        return None


def describe(strategy):
    return f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s)"


def is_multiworker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
