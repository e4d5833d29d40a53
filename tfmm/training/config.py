"""`training:` in a config: the `model.fit` settings and the training recipes."""

from dataclasses import dataclass
from typing import Literal, Optional, Union

from tfmm.schema import ConfigError, positive


@dataclass(frozen=True)
class TrainingConfig:
    """`model.fit` settings."""

    # Passes over the training split.
    epochs: int = 10
    # The optimizer ("adamw": Adam with decoupled weight decay; "sgd": with momentum
    # 0.9). "auto": sgd when the model reads text as a bag of n-grams (`tfidf`), its
    # other encoders train as well under either (the table's `mlp`) and `learning_rate`
    # is auto too (validation ROC-AUC 0.925 against AdamW's 0.901 on the real table:
    # AdamW's per-weight steps let the rare n-grams memorise the training rows;
    # BENCHMARKS.md, tables); else adamw. Each encoder says which (`trains_with`).
    optimizer: Literal["auto", "adamw", "adam", "sgd"] = "auto"
    # "auto": 3e-3 for adamw and adam, 0.03 for sgd (chosen on validation rows). 3e-3,
    # not Keras's usual 1e-3: from-scratch encoders of a fused model on a few hundred
    # rows learn the slower modalities' parts of the label only at the higher rate within
    # a short run (BENCHMARKS.md, quality).
    learning_rate: Union[float, Literal["auto"]] = "auto"
    # AdamW's decoupled weight decay.
    weight_decay: float = 1e-4
    # "constant", or "cosine" decay to 0 over the epochs after warmup.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    # The tf.distribute strategy; "auto": a TPU if one is found, else MirroredStrategy over several
    # GPUs, else the default.
    strategy: Literal["auto", "default", "one_device", "mirrored", "multiworker", "tpu"] = "auto"
    # mixed_float16 on GPUs, mixed_bfloat16 on TPUs and CPUs; heads and the log-mel front end stay
    # float32.
    mixed_precision: bool = False
    # Compile the train step with XLA.
    jit_compile: bool = False
    # Linear warmup from 0 to learning_rate over this many epochs (fractions allowed),
    # then the lr_schedule. "auto": 1 epoch for the token-level fusions (single_stream,
    # cross_attention), whose attention blocks stayed at chance on hard data at AdamW
    # 3e-3 without it, else 0 (BENCHMARKS.md, quality).
    warmup_epochs: Union[float, Literal["auto"]] = "auto"
    # Multiclass targets become (1 - s) one-hot + s / classes; binary and multilabel
    # targets move s / 2 towards 0.5. Regression heads ignore it.
    label_smoothing: float = 0.0
    # The value whose best epoch `restore_best`, early stopping and LR reduction follow.
    # "auto": the validation accuracy of the first multiclass or binary output (val_loss
    # when there is none). On small data a model that memorises its training rows sees
    # its val_loss rise for its overconfident misses while its val accuracy still climbs:
    # the best val_loss epoch came 3-6 epochs before the best accuracy on the hard data
    # (BENCHMARKS.md, quality).
    monitor: str = "auto"
    # At the end of training the model takes the weights of its best epoch on `monitor`
    # (best.keras), so model.keras, the test metrics, evaluate and export use them.
    restore_best: bool = True
    # Stop after this many epochs without a better monitor value; null: never.
    early_stopping_patience: Optional[int] = None
    # Halve the learning rate after this many epochs without a better monitor value; null: never.
    reduce_lr_patience: Optional[int] = None
    # Steps per epoch; null: the whole training split.
    steps_per_epoch: Optional[int] = None
    # Fine-tuning recipe: encoders with pretrained weights (resnet50 `weights`, bert
    # `preset`, trainable hub models) are frozen for the first N epochs, then unfrozen and
    # trained on at `finetune_learning_rate` (default: learning_rate / 10).
    freeze_pretrained_epochs: int = 0
    # The learning rate after the pretrained encoders are unfrozen; null: learning_rate / 10.
    finetune_learning_rate: Optional[float] = None
    # A `tfmm pretrain` run directory (or a finished `tfmm train` run): its encoders'
    # weights initialise the encoders of the same names, and its textcnn vocabularies
    # replace adapting new ones.
    init_from: Optional[str] = None

    def validate(self, path):
        positive(self, path, "epochs")
        if self.learning_rate != "auto":
            positive(self, path, "learning_rate")
        if self.warmup_epochs != "auto" and not 0 <= self.warmup_epochs <= self.epochs:
            raise ConfigError(
                f"{path}.warmup_epochs: must be between 0 and epochs "
                f"({self.epochs}). Received: warmup_epochs={self.warmup_epochs}"
            )
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(
                f"{path}.label_smoothing: must be in [0, 1). Received: "
                f"label_smoothing={self.label_smoothing}"
            )
        if not 0 <= self.freeze_pretrained_epochs <= self.epochs:
            raise ConfigError(
                f"{path}.freeze_pretrained_epochs: must be between 0 and "
                f"epochs ({self.epochs}). Received: "
                f"freeze_pretrained_epochs={self.freeze_pretrained_epochs}"
            )
        if self.finetune_learning_rate is not None and self.finetune_learning_rate <= 0:
            raise ConfigError(
                f"{path}.finetune_learning_rate: must be > 0. Received: "
                f"finetune_learning_rate={self.finetune_learning_rate}"
            )


# `training.learning_rate: auto` per optimizer.
DEFAULT_LEARNING_RATE = {"adamw": 3e-3, "adam": 3e-3, "sgd": 0.03}


def resolve_training(training, encoders):
    """`training` with `optimizer` and `learning_rate` "auto" made concrete for a model
    whose inputs' encoder configs are `encoders` (see `TrainingConfig.optimizer`).

    Example:

    >>> from tfmm.encoders.tfidf import TfidfConfig
    >>> from tfmm.encoders.textcnn import TextCNNConfig
    >>> t = resolve_training(TrainingConfig(), [TfidfConfig()])
    >>> t.optimizer, t.learning_rate
    ('sgd', 0.03)
    >>> t = resolve_training(TrainingConfig(), [TfidfConfig(), TextCNNConfig()])
    >>> t.optimizer, t.learning_rate
    ('adamw', 0.003)
    >>> t = resolve_training(TrainingConfig(learning_rate=1e-3), [TfidfConfig()])
    >>> t.optimizer, t.learning_rate
    ('adamw', 0.001)
    """
    import dataclasses

    optimizer = training.optimizer
    if optimizer == "auto":
        wants = {getattr(e, "trains_with", "adamw") for e in encoders} - {None}
        optimizer = "sgd" if wants == {"sgd"} and training.learning_rate == "auto" else "adamw"
    learning_rate = training.learning_rate
    if learning_rate == "auto":
        learning_rate = DEFAULT_LEARNING_RATE[optimizer]
    return dataclasses.replace(training, optimizer=optimizer, learning_rate=learning_rate)
