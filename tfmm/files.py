"""Files a run writes: every one through a temporary name and `os.replace`, so a reader
(or a run resumed after a kill) finds the old file or the whole new one, never half of
one; and the two files that make a folder loadable (`config.yaml`, `vocabularies.json`).
"""

import contextlib
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


def write_run_files(folder, config, vocabularies, absolute_paths=True):
    """`config.yaml` (the resolved config; data paths absolute unless told otherwise)
    and `vocabularies.json`: what `tfmm.training.load_run`, the exports' sidecar and
    `training.init_from` read back."""
    import yaml

    write_text(os.path.join(folder, "config.yaml"),
               yaml.safe_dump(config.to_dict(absolute_paths=absolute_paths),
                              sort_keys=False))
    write_json(os.path.join(folder, "vocabularies.json"), vocabularies)
