"""Finds every bad cell of a manifest before training: files, decoding, text, labels."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfmm.data.audio import decode_audio, diagnose_audio
from tfmm.data.errors import Problem, file_problem
from tfmm.input_types import input_type
from tfmm.data.image import decode_image, diagnose_image
from tfmm.outputs import output_type
from tfmm.progress import Progress


def check_manifest(config, manifest, with_labels=True, progress_stream=None):
    """Returns a list of `Problem`s, one per bad cell (empty when the manifest is clean).

    Media files are first decoded by a parallel tf.data pass that only records which rows
    fail; just those rows are then diagnosed one by one for a precise message.

    Args:
        config: `tfmm.Config`. Output labels, when known, are used to find unknown labels.
        manifest: `tfmm.data.Manifest`.
        with_labels: bool. Check the label columns too.
        progress_stream: text stream for the progress bar (default stderr).
    """
    manifest.require([c for i in config.inputs for c in i.columns], what="input column")
    if with_labels:
        manifest.require([o.column for o in config.outputs], what="label column")
    # Read the columns checked (a Parquet file's are read on first use) so that their
    # unreadable cells are in `manifest.problems`.
    manifest.load([c for i in config.inputs for c in i.columns])
    if with_labels:
        manifest.load([o.column for o in config.outputs])
    media = {i.column for i in config.inputs if input_type(i).media}
    # A cell that is not UTF-8 is read as missing; in a media column it is a path.
    problems = [
        dataclasses.replace(
            p, message="path is not valid UTF-8 (save the manifest as UTF-8, or rename the file)"
        )
        if p.column in media
        else p
        for p in manifest.problems
    ]
    bad_utf8 = {(p.row, p.column) for p in problems}
    src = manifest.path
    for i in config.inputs:
        own = input_type(i).cell_problems(i, manifest)
        if own is not None:
            problems.extend(own)
            continue
        values = manifest.columns[i.column]
        if i.type == "text":
            for row, v in enumerate(values, start=1):
                if i.optional and (v is None or not v.strip()):
                    continue
                if v is None and (row, i.column) not in bad_utf8:
                    problems.append(Problem(src, row, i.column, "empty text"))
                elif v is not None and not v.strip():
                    problems.append(Problem(src, row, i.column, "empty text (whitespace only)"))
            continue
        if not input_type(i).media:
            continue  # a registered type without checks of its own
        paths = [manifest.resolve(v) for v in values]
        root = config.resolve_path(config.data.media_root)
        for row, p in enumerate(paths, start=1):
            if p is None and not i.optional:
                if (row, i.column) not in bad_utf8:
                    problems.append(Problem(src, row, i.column, "empty path"))
            elif p is not None:
                reason = (
                    outside_root(p, root)
                    or file_problem(p, config.data.max_file_mb)
                    or header_problem(i.type, p, config.data)
                )
                if reason is not None:
                    # Not decoded at all: a FIFO would block the reader, a device or a
                    # huge file would fill memory.
                    problems.append(Problem(src, row, i.column, reason, values[row - 1]))
                    paths[row - 1] = None
        for row in _failing_rows(i, paths, progress_stream):
            reason, file = (
                diagnose_image(paths[row - 1])
                if i.type == "image"
                else diagnose_audio(paths[row - 1], i.sample_rate, i.resample)
            )
            if reason is None:
                reason = "cannot be decoded"
            problems.append(Problem(src, row, i.column, reason, values[row - 1]))
    if with_labels:
        for o in config.outputs:
            problems.extend(_label_problems(o, manifest))
    problems.sort(key=lambda p: (p.row, p.column))
    return problems


def _failing_rows(input_config, paths, progress_stream=None):
    """1-based rows whose file fails to read or decode, found in one parallel pass."""
    rows = [r for r, p in enumerate(paths, start=1) if p is not None]
    if not rows:
        return []
    files = [paths[r - 1] for r in rows]

    def try_decode(row, path):
        data = tf.io.read_file(path)
        if input_config.type == "image":
            # At the smallest DCT scale: a JPEG's every coefficient is still read (a
            # truncated or corrupt file fails the same way), its pixels mostly not made.
            out = decode_image(data, (8, 8), name=input_config.name, jpeg_scale_mode="auto")
        else:
            out, _ = decode_audio(
                data,
                input_config.sample_rate,
                8,
                resample=input_config.resample,
                name=input_config.name,
            )
        # Return a value computed from the decoded tensor, so the decode cannot be pruned.
        return row, tf.reduce_sum(out)

    ds = (
        tf.data.Dataset.from_tensor_slices((np.array(rows, np.int64), files))
        .map(try_decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors()
    )
    progress = Progress(
        len(rows),
        f"checking {input_config.type} column {input_config.column!r}",
        stream=progress_stream,
    )
    ok = set()
    for r, _ in ds.as_numpy_iterator():
        ok.add(int(r))
        progress.update()
    progress.done = len(rows)  # the failing rows were skipped by ignore_errors
    progress.close()
    return [r for r in rows if r not in ok]


def _label_problems(output_config, manifest):
    out = []
    src, col = manifest.path, output_config.column
    known = None if output_config.labels is None else set(output_config.labels)
    kind = output_type(output_config)
    for row, v in enumerate(manifest.columns[col], start=1):
        if v is None:
            out.append(Problem(src, row, col, "empty label"))
            continue
        problem = kind.cell_problem(output_config, v, known)
        if problem:
            out.append(Problem(src, row, col, problem))
    return out


def outside_root(path, root):
    """Why `path` may not be read under `data.media_root` (it resolves, symlinks
    followed, outside `root`), or None (inside, or no root set)."""
    if root is None:
        return None
    real, top = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, top]) != top:
        return f"path resolves outside data.media_root {top!r}"
    return None


def header_problem(input_type, path, data):
    """Why a media file is over `data`'s header caps (`max_image_megapixels`,
    `max_audio_seconds`), read from its header without decoding, or None (within the
    caps, or a header that cannot be read: decoding then names what is wrong)."""
    if input_type == "image":
        size = image_sizes([path])[0]
        if size is not None and size[0] * size[1] > data.max_image_megapixels * 1e6:
            return (
                f"image is {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.0f} MP), over "
                f"the {data.max_image_megapixels:g} MP limit (data.max_image_megapixels)"
            )
        return None
    seconds = audio_durations([path])[0]
    if seconds is not None and seconds > data.max_audio_seconds:
        return (
            f"clip is {seconds:.0f} s long, over the {data.max_audio_seconds:g} s limit "
            f"(data.max_audio_seconds)"
        )
    return None


def audio_durations(paths):
    """Seconds per WAV file from its header (stdlib `wave`; no decoding); None for a file
    whose header it cannot read (float WAVs, broken files: the check reports those)."""
    import wave

    out = []
    for p in paths:
        try:
            with wave.open(p, "rb") as w:
                out.append(w.getnframes() / float(w.getframerate()))
        except Exception:  # noqa: BLE001 - any unreadable header: no duration
            out.append(None)
    return out


def image_sizes(paths):
    """(width, height) per image file from its header (Pillow reads the header only; no
    decoding); None for a file it cannot read (the check reports those)."""
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with matplotlib; without it, no sizes
        return [None] * len(paths)
    out = []
    # Headers only, nothing decoded: Pillow's decompression-bomb guard (process-wide) is
    # off while they are read, so that a huge image gets its size (and the pixel cap
    # names it), and restored whatever happens.
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        for p in paths:
            try:
                with Image.open(p) as im:
                    out.append(im.size)
            except Exception:  # noqa: BLE001 - any unreadable header: no size
                out.append(None)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return out


def _image_line(i, paths):
    found = [s for s in image_sizes(paths) if s is not None]
    if not found:
        return None
    short = np.array([min(w, h) for w, h in found])
    aspect = np.array([max(w, h) / max(min(w, h), 1) for w, h in found])
    target = min(i.image_hw)
    up = int((short < target).sum())
    down = int((short > 4 * target).sum())
    n = len(found)
    return (
        f"image column {i.column!r}: {n} images, shorter side {short.min()}-{short.max()}"
        f" px (median {int(np.median(short))}), aspect ratio up to {aspect.max():.1f}; "
        f"image_size {i.image_size} upscales {up} ({100 * up / n:.0f}%) and shrinks "
        f"{down} ({100 * down / n:.0f}%) more than 4x"
        + (f" (resize: {i.resize})" if aspect.max() > 1.5 else "")
    )


def media_summary(config, manifest):
    """Lines that say how the media settings meet the data: each image column's sizes and
    how many `image_size` upscales or shrinks more than 4x; each audio column's clip
    durations (min, median, max) and how many clips `clip_seconds` crops or pads; each
    tabular column's missing share, range and quartiles, or categories (and those unseen
    in the training split)."""
    lines = []

    def readable(column):
        # Only regular files the check accepted: a FIFO refused there would block here.
        paths = (manifest.resolve(v) for v in manifest.columns[column])
        return [p for p in paths if p and file_problem(p, config.data.max_file_mb) is None]

    for i in config.inputs:
        own = input_type(i).summary(i, manifest, config)
        if own is not None:
            lines.extend(own)
            continue
        if i.type == "image":
            line = _image_line(i, readable(i.column))
            if line:
                lines.append(line)
            continue
        if i.type != "audio":
            continue
        found = [d for d in audio_durations(readable(i.column)) if d is not None]
        if not found:
            continue
        d = np.array(found)
        cropped = int((d > i.clip_seconds + 1e-6).sum())
        padded = int((d < i.clip_seconds - 1e-6).sum())
        lines.append(
            f"audio column {i.column!r}: {len(d)} clips of {d.min():.2f}-{d.max():.2f} s "
            f"(median {np.median(d):.2f} s); clip_seconds {i.clip_seconds:g} crops "
            f"{cropped} ({100 * cropped / len(d):.0f}%) and pads {padded} "
            f"({100 * padded / len(d):.0f}%)"
            + (
                f". Raise clip_seconds to about {np.percentile(d, 95):.1f} to keep 95% whole"
                if cropped > 0.1 * len(d)
                else ""
            )
        )
    return lines


def labels_from_training(config, manifest):
    """Fills outputs' labels from `data.train` (when the config leaves them out and the
    manifest checked is another split), in place, so labels never seen in training are
    problems of `check_manifest`; returns `tfmm data check`'s summary lines: the label
    vocabulary's source and the rows per class."""
    import collections

    from tfmm.data.manifest import Manifest, source_kind

    lines = []
    train = config.resolve_path(config.data.train) if config.data.train else None
    is_train = train is not None and os.path.abspath(train) == os.path.abspath(manifest.path)
    for o in config.outputs:
        kind = output_type(o)
        if not kind.has_labels:
            continue
        if (
            o.labels is None
            and train
            and not is_train
            and source_kind(train) == "manifest"
            and os.path.exists(train)
        ):
            values = Manifest(train).columns.get(o.column)
            if values is not None:
                try:
                    o.labels = kind.infer_labels(o, values)
                    lines.append(
                        f"output {o.name!r}: {len(o.labels)} labels from the "
                        f"training split {train!r}"
                    )
                except ValueError as e:
                    lines.append(str(e))
        values = manifest.columns.get(o.column) or []
        parts = [p for v in values if v for p in kind.split(o, v)]
        counts = collections.Counter(parts)
        if counts:
            shown = ", ".join(f"{k} {n}" for k, n in sorted(counts.items())[:20])
            more = f", ... ({len(counts) - 20} more)" if len(counts) > 20 else ""
            lines.append(
                f"output {o.name!r}: {len(counts)} classes in this manifest "
                f"(rows per class: {shown}{more})"
            )
    return lines
