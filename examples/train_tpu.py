"""Training a tfmm model on a Cloud TPU with TPUStrategy.

    python examples/train_tpu.py examples/tri_modal.yaml            # on a TPU VM
    TPU_NAME=my-tpu python examples/train_tpu.py examples/tri_modal.yaml

The TPU is found by `TPUClusterResolver` (a TPU VM, or TPU_NAME). The datasets come
through `distribute_datasets_from_function`, so each host reads its own shard at the
per-replica batch size, and the model, optimizer and metrics are created inside the
strategy's scope. TPUs want static shapes: tfmm's pipelines already pad text and audio to
fixed lengths and resize images, and training drops the last partial batch.
Data on a TPU VM is read by the TPU hosts: put manifests and media on GCS (gs://...).

On a machine without a TPU this says so and exits with status 1.
"""

import argparse
import sys

import keras

import tfmm
from tfmm.training.strategy import get_strategy


def connect_tpu():
    """TPUStrategy through TPUClusterResolver, or None when no TPU can be found."""
    try:
        return get_strategy("tpu")
    except RuntimeError as e:
        print(f"train_tpu: {e}", file=sys.stderr)
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)

    strategy = connect_tpu()
    if strategy is None:
        return 1
    print(f"TPU replicas: {strategy.num_replicas_in_sync}")
    config = tfmm.load_config(args.config)
    # bfloat16 is the TPU's native type; the heads stay float32.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    vocabularies = tfmm.data.fit_preprocessing(
        config, tfmm.data.Manifest(config.resolve_path(config.data.train))
    )
    global_batch = config.data.batch_size * strategy.num_replicas_in_sync

    def dataset(source, training):
        return strategy.distribute_datasets_from_function(
            lambda ctx: tfmm.data.make_dataset(
                config,
                source,
                vocabularies,
                training=training,
                input_context=ctx,
                batch_size=global_batch,
                repeat=training,
            )
        )

    rows = len(tfmm.data.Manifest(config.resolve_path(config.data.train)))
    with strategy.scope():
        model = tfmm.build_model(config, vocabularies)
        tfmm.compile_model(model, config)
    model.fit(
        dataset(config.data.train, True),
        epochs=args.epochs,
        steps_per_epoch=max(rows // global_batch, 1),
        validation_data=dataset(config.data.val, False),
    )
    model.save("model.keras")
    return 0


if __name__ == "__main__":
    sys.exit(main())
