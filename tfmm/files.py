"""Files a run writes: every one through a temporary name and `os.replace`, so a reader
(or a run resumed after a kill) finds the old file or the whole new one, never half of
one; and the two files that make a folder loadable (`config.yaml`, `vocabularies.json`).
"""

import contextlib
import dataclasses
import json
import os


def temporary_name(path):
    """`dir/name.tmp.ext` for `dir/name.ext` (every suffix kept: `.keras`, `.weights.h5`
    and `.npz` writers check them). The same name each time, so a kill's leftover is
    overwritten by the next write.

    >>> temporary_name("run/model.keras")
    'run/model.tmp.keras'
    >>> temporary_name("backup/epoch-0003.weights.h5")
    'backup/epoch-0003.tmp.weights.h5'
    """
    folder, base = os.path.split(path)
    stem, dot, rest = base.partition(".")
    return os.path.join(folder, f"{stem}.tmp{dot}{rest}")


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write `path`'s content to; on success the file is
    flushed to disk and moved over `path` in one step; on an error it is removed.

    Example:

    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("whole")
    >>> open(target).read()
    'whole'
    """
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_json(path, data, indent=None):
    """`json.dump(data)` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=indent)


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


class RunDir:
    """A run directory's layout and its small files, for every command that writes or
    reads one (`train`, `pretrain`, `evaluate`, `predict`, `export`, `init_from`).

    `config.yaml` (the resolved config) and `vocabularies.json` make a folder loadable;
    `model.keras` is a finished run's model, `best.keras` / `best.json` its best epoch,
    `metrics.json` the test metrics, `history.csv` the epochs' logs, `backup/` the state a
    killed run resumes from, `logs/` TensorBoard's.

    Example:

    >>> import tempfile
    >>> run = RunDir(tempfile.mkdtemp())
    >>> run.write_metrics({"label": {"accuracy": 0.5}})
    >>> run.read_metrics()["label"]["accuracy"], os.path.basename(run.model)
    (0.5, 'model.keras')
    >>> os.path.relpath(run.phase_done(2), run.path)
    'backup/phase2.done.weights.h5'
    """

    def __init__(self, path):
        self.path = str(path)

    def __repr__(self):
        return f"RunDir({self.path!r})"

    def file(self, *parts):
        return os.path.join(self.path, *parts)

    config = property(lambda self: self.file("config.yaml"))
    vocabularies = property(lambda self: self.file("vocabularies.json"))
    model = property(lambda self: self.file("model.keras"))
    best = property(lambda self: self.file("best.keras"))
    best_json = property(lambda self: self.file("best.json"))
    metrics = property(lambda self: self.file("metrics.json"))
    history = property(lambda self: self.file("history.csv"))
    backup = property(lambda self: self.file("backup"))
    logs = property(lambda self: self.file("logs"))
    # A contrastive pretraining run's whole model: encoders and projections (`tfmm embed`).
    pretrainer = property(lambda self: self.file("pretrainer.keras"))

    def phase_done(self, phase):
        """The weights a finished fine-tuning phase (1-based) hands to the next."""
        return self.file("backup", f"phase{phase}.done.weights.h5")

    def phase_backup(self, phase, phases):
        """The backup folder of one phase (`backup/` when there is one phase)."""
        return self.file("backup", f"phase{phase}") if phases > 1 else self.backup

    def is_finished(self):
        return os.path.exists(self.model)

    @classmethod
    def load(cls, path):
        """(model, config, vocabularies) of a finished run: a run directory, or a `.keras`
        file beside its `config.yaml` (`tfmm.training.load_run`)."""
        import keras

        from tfmm.data import vocabularies_from_model

        run = cls(path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path)))
        model_path = run.model if os.path.isdir(path) else path
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"no model.keras in {path!r} (is it a finished run?)")
        if not os.path.exists(run.config):
            raise FileNotFoundError(f"no config.yaml beside {model_path!r}")
        config = run.read_config()
        model = keras.saving.load_model(model_path, safe_mode=True)
        return model, config, vocabularies_from_model(model)

    def write_config(self, config, vocabularies, absolute_paths=True):
        """`config.yaml` (data paths absolute unless told otherwise) and
        `vocabularies.json`: what `load_run`, the exports' sidecar and
        `training.init_from` read back."""
        import yaml

        write_text(
            self.config,
            yaml.safe_dump(config.to_dict(absolute_paths=absolute_paths), sort_keys=False),
        )
        write_json(self.vocabularies, vocabularies)

    def read_config(self):
        """The run's `tfmm.Config` (relative paths resolve against the run)."""
        import yaml

        from tfmm.config import config_from_dict

        if not os.path.exists(self.config):
            raise FileNotFoundError(f"no config.yaml in {self.path!r}")
        with open(self.config) as f:
            config = config_from_dict(yaml.safe_load(f), source=self.config)
        return dataclasses.replace(config, base_dir=self.path)

    def read_vocabularies(self):
        """{text input: vocabulary}; {} when the run has none."""
        if not os.path.exists(self.vocabularies):
            return {}
        with open(self.vocabularies) as f:
            return json.load(f)

    def write_metrics(self, metrics):
        write_json(self.metrics, metrics, indent=2)

    def read_metrics(self):
        with open(self.metrics) as f:
            return json.load(f)
