"""CLIP-style contrastive pretraining of the encoders on paired modalities."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmm.encoders import build_encoder
from tfmm.layers.augment import input_augmenter


def info_nce(anchor, other, logit_scale, anchor_all=None, other_all=None, labels=None):
    """Symmetric InfoNCE (CLIP) loss of L2-normalised embeddings.

    Row k of `anchor` and row k of `other` are a pair. Each anchor is classified among
    all rows of `other_all`, and each `other` row among all rows of `anchor_all`; every
    row but the pair's is a negative.

    Args:
        anchor, other: [n, dim] this replica's embeddings (normalised).
        logit_scale: scalar. Multiplies the cosine similarities (1 / temperature).
        anchor_all, other_all: [m, dim], the embeddings of the whole global batch (all
            replicas); default: `anchor`, `other`.
        labels: int [n], the row of this replica's pairs in the global batch; default
            `range(n)`.

    Returns:
        [n] per-example loss (mean of the two directions).

    Example:

    >>> import numpy as np
    >>> e = np.eye(4, dtype="float32")
    >>> aligned = float(info_nce(e, e, 10.0).numpy().mean())
    >>> shuffled = float(info_nce(e, e[[1, 2, 3, 0]], 10.0).numpy().mean())
    >>> aligned < shuffled
    True
    """
    anchor_all = anchor if anchor_all is None else anchor_all
    other_all = other if other_all is None else other_all
    if labels is None:
        labels = ops.arange(ops.shape(anchor)[0])
    a2o = logit_scale * ops.matmul(anchor, ops.transpose(other_all))
    o2a = logit_scale * ops.matmul(other, ops.transpose(anchor_all))
    loss_a = keras.losses.sparse_categorical_crossentropy(labels, a2o, from_logits=True)
    loss_o = keras.losses.sparse_categorical_crossentropy(labels, o2a, from_logits=True)
    return 0.5 * (loss_a + loss_o)


@keras.saving.register_keras_serializable(package="tfmm")
class ContrastivePretrainer(keras.Model):
    """Encoders with projection heads, trained to align paired modalities (CLIP).

    Each input's encoder output goes through its projection head (Dense to
    `projection_dim`) and is L2-normalised. The loss is the symmetric InfoNCE between the
    `anchor` input and each other input, with a learnable temperature (its log is a
    weight, clipped so the scale stays <= 100) and in-batch negatives. Under a
    `tf.distribute` strategy the negatives are the whole global batch: embeddings are
    all-gathered across replicas (the gradient flows back through the gather).

    Args:
        encoders: dict of input name -> `Encoder` (vector outputs).
        input_names: dict of input name -> {inner input: model input name}.
        anchor: str. The input every other input is paired with (text, by default).
        projection_dim: int.
        init_temperature: float.
        augmenters: dict of input name -> training-only layer applied to that input's
            encoder's primary input (`inputs[].augment`: image flips and shifts, text
            token dropout), so that each pass sees another view; identity outside
            training, so embeddings and exports never see it.

    Example:

    ```python
    pretrainer = ContrastivePretrainer(encoders, input_names, anchor="text")
    pretrainer.compile(optimizer="adam")
    pretrainer.fit(dataset_of_x_only, epochs=3)
    ```
    """

    def __init__(
        self,
        encoders,
        input_names,
        anchor,
        projection_dim=64,
        init_temperature=0.07,
        augmenters=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if anchor not in encoders or len(encoders) < 2:
            raise ValueError(
                f"ContrastivePretrainer: needs at least two inputs and the "
                f"anchor among them. Received: anchor={anchor!r}, inputs="
                f"{sorted(encoders)}"
            )
        self.encoders = dict(encoders)
        self.input_names = {k: dict(v) for k, v in input_names.items()}
        self.anchor = anchor
        self.projection_dim = projection_dim
        self.init_temperature = init_temperature
        unknown = set(augmenters or {}) - set(encoders)
        if unknown:
            raise ValueError(
                f"ContrastivePretrainer: augmenters for inputs it has no encoder for: "
                f"{sorted(unknown)}; inputs: {sorted(encoders)}"
            )
        self.augmenters = dict(augmenters or {})
        self.projections = {
            name: keras.layers.Dense(projection_dim, use_bias=False, name=f"{name}_projection")
            for name in encoders
        }
        self.log_scale = self.add_weight(
            shape=(),
            name="log_scale",
            initializer=keras.initializers.Constant(float(np.log(1.0 / init_temperature))),
        )
        # Built here, from the encoders' output widths, not on the first batch: resuming
        # from a backup loads weights before `fit` has seen any data.
        for name, encoder in self.encoders.items():
            self.projections[name].build(tuple(encoder.output.shape))
        self.built = True

    def call(self, x, training=False):
        out = {}
        for name, encoder in self.encoders.items():
            names = self.input_names[name]
            inner = {k: x[v] for k, v in names.items()}
            if name in self.augmenters:
                key = encoder.primary_input
                inner[key] = self.augmenters[name](inner[key], training=training)
            value = encoder(
                next(iter(inner.values())) if len(inner) == 1 else inner, training=training
            )
            z = self.projections[name](value)
            out[name] = ops.cast(z, "float32") / ops.maximum(
                ops.norm(ops.cast(z, "float32"), axis=-1, keepdims=True), 1e-6
            )
        return out

    @property
    def logit_scale(self):
        return ops.exp(ops.minimum(self.log_scale, float(np.log(100.0))))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        anchor = y_pred[self.anchor]
        total = 0.0
        for name, emb in y_pred.items():
            if name == self.anchor:
                continue
            if replicas > 1:
                # Global in-batch negatives: every replica's rows are candidates.
                local = tf.shape(anchor)[0]
                labels = tf.range(local) + local * ctx.replica_id_in_sync_group
                loss = info_nce(
                    anchor,
                    emb,
                    self.logit_scale,
                    anchor_all=ctx.all_gather(anchor, axis=0),
                    other_all=ctx.all_gather(emb, axis=0),
                    labels=labels,
                )
            else:
                loss = info_nce(anchor, emb, self.logit_scale)
            total = total + ops.mean(loss)
        loss = total / (len(y_pred) - 1)
        # Keras sums the replicas' gradients, and expects the loss scaled for it.
        return loss / replicas

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoders": {k: keras.layers.serialize(v) for k, v in self.encoders.items()},
                "input_names": self.input_names,
                "anchor": self.anchor,
                "projection_dim": self.projection_dim,
                "init_temperature": self.init_temperature,
                "augmenters": {k: keras.layers.serialize(v) for k, v in self.augmenters.items()},
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoders"] = {k: keras.layers.deserialize(v) for k, v in config["encoders"].items()}
        config["augmenters"] = {
            k: keras.layers.deserialize(v) for k, v in config.get("augmenters", {}).items()
        }
        return cls(**config)


def build_pretrainer(config, vocabularies, projection_dim=64, anchor=None):
    """The `ContrastivePretrainer` over every input of `config` (anchor: the first text
    input unless given)."""
    if len(config.inputs) < 2:
        raise ValueError(
            f"contrastive pretraining pairs two or more modalities; the config "
            f"has inputs {[i.name for i in config.inputs]}."
        )
    if anchor is None:
        texts = [i.name for i in config.inputs if i.type == "text"]
        anchor = (texts or [config.inputs[0].name])[0]
    encoders, names, augmenters = {}, {}, {}
    for i in config.inputs:
        encoder = build_encoder(i, vocabulary=vocabularies.get(i.name))
        encoders[i.name] = encoder
        names[i.name] = encoder.input_names_for(i.name)
        augmenter = input_augmenter(i, config.data.seed)
        if augmenter is not None:
            augmenters[i.name] = augmenter
    return ContrastivePretrainer(
        encoders,
        names,
        anchor=anchor,
        projection_dim=projection_dim,
        augmenters=augmenters,
        name="pretrainer",
    )


def retrieval_recall(queries, candidates, ks=(1, 5)):
    """Recall@k of retrieving row i of `candidates` for row i of `queries` (cosine
    similarity of normalised embeddings), as {"recall@k": fraction}."""
    sims = np.asarray(queries) @ np.asarray(candidates).T
    rank = (sims > np.diag(sims)[:, None]).sum(axis=1)  # 0 = the pair ranks first
    return {f"recall@{k}": float((rank < k).mean()) for k in ks}
