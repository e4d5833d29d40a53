"""What a training run sets up before `model.fit`: its process's run directory and lock,
the vocabularies, the distributed datasets and their steps, and the fine-tuning phases.
Shared by `tfmm train` (`tfmm.training.loop`) and `tfmm pretrain`."""

import contextlib
import os

from tfmm.data import Manifest, fit_preprocessing, make_dataset
from tfmm.data.pipeline import source_kind
from tfmm.encoders.registry import encoder_name
from tfmm.files import RunDir
from tfmm.training.init_from import ENCODERS_DIR
from tfmm.training.strategy import is_multiworker


def worker_run_dir(strategy, run_dir):
    """(run_dir for this process, is_chief). Under MultiWorkerMirroredStrategy every worker
    trains, but only the chief writes the run directory; the others keep their backups and
    files in `run_dir/worker-N` so that no two processes write one file."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type or strategy.extended.should_checkpoint:
        return run_dir, True
    return os.path.join(run_dir, f"{resolver.task_type}-{resolver.task_id}"), False


@contextlib.contextmanager
def run_lock(run_dir):
    """Holds `run_dir/.lock` (an exclusive `flock`) for as long as a process trains in
    it: a second `tfmm train` on the same run directory is refused, naming the first's
    PID, instead of both writing the same files. The kernel releases the lock when its
    process dies, so a killed run never leaves a stale lock."""
    import fcntl

    path = os.path.join(run_dir, ".lock")
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise RuntimeError(
            f"run directory {run_dir!r} is in use by another tfmm process "
            f"(pid {holder}); wait for it, or give another --out"
        ) from None
    try:
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
    finally:
        f.close()


def fit_vocabularies(config, train_manifest):
    """The text inputs' vocabularies, fitted to the training split, except that a
    `training.init_from` run's TextCNN vocabularies replace them (a pretrained TextCNN's
    embedding rows belong to its own vocabulary). Outputs without `labels` get them from
    the training split, in place (`fit_preprocessing`)."""
    return with_init_from_vocabularies(config, fit_preprocessing(config, train_manifest))


def with_init_from_vocabularies(config, vocabularies):
    """`vocabularies` with the `training.init_from` run's adapted (TextCNN) vocabularies
    in place of the fitted ones, for the inputs it has (in place; also returned)."""
    init_from = config.resolve_path(config.training.init_from)
    if init_from:
        for name, vocab in RunDir(init_from).read_vocabularies().items():
            if name in vocabularies and config.input(name).encoder.vocabulary_source == "adapted":
                vocabularies[name] = vocab
    return vocabularies


def global_batch_size(config, strategy):
    """`data.batch_size` per replica, times the replicas."""
    return config.data.batch_size * strategy.num_replicas_in_sync


def steps_per_epoch(config, rows, global_batch):
    """`training.steps_per_epoch`, or the full batches in `rows` (at least one).

    Training always runs a known number of steps over a repeated dataset: when Keras
    finds the end of a distributed dataset by running out of it, it runs one more (empty)
    step, and Adam's momentum moves the weights on an empty batch."""
    return config.training.steps_per_epoch or max(rows // global_batch, 1)


def distributed_dataset(
    strategy,
    config,
    source,
    vocabularies,
    global_batch,
    training,
    report_dir,
    repeat,
    with_labels=True,
):
    """`make_dataset` per input pipeline of `strategy` (each worker reads its shard)."""

    def fn(ctx):
        return make_dataset(
            config,
            source,
            vocabularies,
            training=training,
            input_context=ctx,
            batch_size=global_batch,
            with_labels=with_labels,
            report_dir=report_dir,
            repeat=repeat,
        )

    return strategy.distribute_datasets_from_function(fn)


def eval_plan(config, source, global_batch, strategy):
    """(steps, repeat) for a validation set.

    On one worker the set is read once per epoch, to its end. With several workers each
    reads its own shard, and all must run the same number of steps (a worker that runs
    out first leaves the others waiting in a collective), so the set is read repeated, in
    `rows // global_batch` full steps (at least one).
    """
    if not is_multiworker(strategy):
        return None, False
    if source_kind(config.resolve_path(source)) != "manifest":
        raise ValueError(
            f"data.val: under the multiworker strategy the validation split "
            f"must be a manifest (its length sets the steps). Received: "
            f"{source!r}"
        )
    rows = len(Manifest(config.resolve_path(source)))
    return max(rows // global_batch, 1), True


def init_from_inputs(source):
    """The input names whose encoders `training.init_from` = `source` provides: a
    pretraining run's `encoders/*.weights.npz`, or a `tfmm train` run's inputs (its
    `config.yaml`); empty when it holds neither."""
    encoders = os.path.join(source, ENCODERS_DIR)
    if os.path.isdir(encoders):
        suffix = ".weights.npz"
        return {f[: -len(suffix)] for f in os.listdir(encoders) if f.endswith(suffix)}
    run = RunDir(source)
    return {i.name for i in run.read_config().inputs} if os.path.exists(run.config) else set()


def pretrained_encoders(config):
    """Names of the encoder sublayers that start from pretrained weights and may train:
    resnet50 with `weights`, bert with a `preset`, hub models marked trainable, and the
    encoders that `training.init_from` provides."""
    init = config.resolve_path(config.training.init_from)
    provided = init_from_inputs(init) if init else set()
    names = []
    for i in config.inputs:
        e = i.encoder
        pretrained = e.pretrained or i.name in provided
        if pretrained and getattr(e, "trainable", True):
            names.append(encoder_name(i))
    return names


def training_phases(config, log):
    """[(first_epoch, end_epoch, learning_rate, frozen encoder names)] of the run."""
    t = config.training
    if not t.freeze_pretrained_epochs:
        return [(0, t.epochs, t.learning_rate, [])]
    frozen = pretrained_encoders(config)
    if not frozen:
        log(
            "tfmm train: training.freeze_pretrained_epochs is set but no encoder has "
            "pretrained weights; training everything from the start"
        )
        return [(0, t.epochs, t.learning_rate, [])]
    n = t.freeze_pretrained_epochs
    finetune_lr = t.finetune_learning_rate or t.learning_rate / 10
    phases = [(0, n, t.learning_rate, frozen)]
    if n < t.epochs:
        phases.append((n, t.epochs, finetune_lr, []))
    return phases
