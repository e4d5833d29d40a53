"""tfmm in a plain Keras script: a config, tfmm's datasets and model, `model.fit`.

    tfmm data demo --out demo_data
    python examples/train_with_fit.py examples/tri_modal.yaml

Everything tfmm does here is three calls: `load_config`, `fit_preprocessing` +
`make_dataset` (tf.data from the manifests, decoding and preprocessing in the graph) and
`build_model` (a functional Keras model with named inputs and outputs). The rest is
Keras: compile, fit, evaluate, save.
"""

import argparse

import keras

import tfmm
from tfmm.models.heads import loss_for, metrics_for


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs (default: the config's training.epochs)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--save", default="model.keras")
    args = parser.parse_args(argv)

    config = tfmm.load_config(args.config, overrides=args.set)
    # Labels and text vocabularies come from the training split.
    vocabularies = tfmm.data.fit_preprocessing(
        config, tfmm.data.Manifest(config.resolve_path(config.data.train))
    )
    train_ds = tfmm.data.make_dataset(config, config.data.train, vocabularies, training=True)
    val_ds = tfmm.data.make_dataset(config, config.data.val, vocabularies)

    model = tfmm.build_model(config, vocabularies)
    # One loss and metric list per named output (for the example config: `label`,
    # softmax over its classes -> sparse categorical cross-entropy and accuracy).
    model.compile(
        optimizer=keras.optimizers.AdamW(config.training.learning_rate),
        loss={o.name: loss_for(o) for o in config.outputs},
        metrics={o.name: metrics_for(o) for o in config.outputs},
    )
    # The pipeline already shuffles (a fresh permutation of the rows every epoch); Keras
    # 3.15 warns that its own `shuffle=True` default cannot apply to a dataset.
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args.epochs or config.training.epochs,
        shuffle=False,
    )
    results = model.evaluate(
        tfmm.data.make_dataset(config, config.data.test, vocabularies), return_dict=True
    )
    print("test:", {k: round(float(v), 4) for k, v in results.items()})
    model.save(args.save)
    print(f"saved {args.save}")


if __name__ == "__main__":
    main()
