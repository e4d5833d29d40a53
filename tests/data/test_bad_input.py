"""Every kind of bad input gets an error naming the manifest, row, column and file."""

import csv
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st

import tfmm
from tfmm.data import DataError
from tests.data.conftest import small_demo_config
from tests.helpers import tiny_demo_dict
from tests.helpers import pcm_wav


def _copy_demo(demo_dir, tmp_path):
    out = tmp_path / "d"
    shutil.copytree(demo_dir, out)
    return out


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write_rows(path, rows, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding, errors="surrogateescape") as f:
        csv.writer(f).writerows(rows)


def _damage(d, row, column, action):
    """Applies `action` to the file in `column` of data row `row` of train.csv."""
    rows = _rows(d / "train.csv")
    col = rows[0].index(column)
    target = d / rows[row][col]
    action(target, rows, row, col)
    _write_rows(d / "train.csv", rows)
    return rows[row][col]


def _truncate(path, *_):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_an_image(path, *_):
    path.write_bytes(b"%PDF-1.4 this is not an image at all")


def _missing(path, *_):
    path.unlink()


def _zero_length_wav(path, *_):
    path.write_bytes(tf.audio.encode_wav(tf.zeros((0, 1)), 16000).numpy())


def _zero_hz(path, *_):
    data = bytearray(tf.audio.encode_wav(tf.zeros((800, 1)), 16000).numpy())
    data[24:28] = b"\0\0\0\0"  # the fmt chunk's sample rate
    path.write_bytes(bytes(data))


def _header_cut(path, *_):
    path.write_bytes(path.read_bytes()[:20])


def _wrong_rate(path, *_):
    path.write_bytes(tf.audio.encode_wav(tf.zeros((800, 1)), 8000).numpy())


@pytest.mark.parametrize(
    "column, action, reason",
    [
        ("image_path", _missing, r"file not found"),
        ("image_path", _truncate, r"cannot decode image \(corrupt or truncated (JPEG|PNG)\)"),
        (
            "image_path",
            _not_an_image,
            r"not an image \(unrecognised format\); expected JPEG, "
            r"PNG, BMP or GIF$",
        ),
        ("audio_path", _missing, r"file not found"),
        ("audio_path", _truncate, r"cannot decode WAV \(truncated or corrupt\)"),
        ("audio_path", _not_an_image, r"not a WAV file"),
        ("audio_path", _zero_length_wav, r"0-length audio clip"),
        ("audio_path", _zero_hz, r"WAV header says 0 Hz"),
        ("audio_path", _header_cut, r"truncated WAV \(the header ends before its format chunk\)"),
        (
            "audio_path",
            _wrong_rate,
            r"sample rate 8000 Hz differs from the configured 16000 Hz "
            r"\(refused; set resample: true",
        ),
    ],
)
def test_bad_media_named_by_row_column_file(demo_dir, tmp_path, column, action, reason):
    d = _copy_demo(demo_dir, tmp_path)
    rel = _damage(d, 3, column, action)
    config = small_demo_config(d)
    before = {p: p.read_bytes() for p in (d / "train.csv", d / rel) if p.exists()}
    with pytest.raises(DataError) as err:
        tfmm.data.make_dataset(config, str(d / "train.csv"), {"text": ["", "[UNK]"]})
    msg = str(err.value)
    assert f"train.csv' row 3 column '{column}' file '{rel}': " in msg
    assert __import__("re").search(reason, msg), msg
    # One problem, and nothing lost: the manifest and the bad file are untouched.
    assert len(err.value.problems) == 1
    assert {p: p.read_bytes() for p in before} == before
    assert (d / rel).exists() == (action is not _missing)


def test_empty_and_non_utf8_text(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    rows = _rows(d / "train.csv")
    rows[2][0] = ""
    rows[4][0] = "caf\udce9 latte"  # a lone latin-1 byte 0xE9: not UTF-8
    rows[5][1] = "images/caf\udce9.jpg"  # a path: named as a path, once
    _write_rows(d / "train.csv", rows)
    problems = tfmm.data.check_manifest(
        small_demo_config(d), tfmm.data.Manifest(str(d / "train.csv"))
    )
    assert [(p.row, p.column, p.message) for p in problems] == [
        (2, "caption", "empty text"),
        (4, "caption", "text is not valid UTF-8"),
        (
            5,
            "image_path",
            "path is not valid UTF-8 (save the manifest as UTF-8, or rename the file)",
        ),
    ]


def test_unknown_label_at_evaluation(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    config = small_demo_config(d)
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(str(d / "train.csv")))
    rows = _rows(d / "test.csv")
    rows[1][3] = "sunny-warm-low"
    _write_rows(d / "test.csv", rows)
    with pytest.raises(
        DataError,
        match=r"test\.csv' row 1 column 'label': label "
        r"'sunny-warm-low' was not seen in training; "
        r"known labels: \['calm-cool-high'",
    ):
        tfmm.data.make_dataset(config, str(d / "test.csv"), vocabs)


def test_missing_or_misspelled_column(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    rows = _rows(d / "train.csv")
    rows[0][1] = "image_pth"
    _write_rows(d / "train.csv", rows)
    with pytest.raises(
        DataError,
        match=r"train\.csv': missing input column 'image_path'\. "
        r"Did you mean 'image_pth'\? Columns: ",
    ):
        tfmm.data.make_dataset(small_demo_config(d), str(d / "train.csv"), {})


def test_missing_manifest():
    with pytest.raises(DataError, match=r"manifest not found: '/no/such\.csv'"):
        tfmm.data.Manifest("/no/such.csv")


def test_skip_policy_reports_and_writes_which_rows(demo_dir, tmp_path, caplog):
    d = _copy_demo(demo_dir, tmp_path)
    _damage(d, 2, "image_path", _truncate)
    _damage(d, 5, "audio_path", _missing)
    config = small_demo_config(d, on_bad_example="skip")
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(str(d / "train.csv")))
    n_rows = len(_rows(d / "train.csv")) - 1
    ds = tfmm.data.make_dataset(
        config, str(d / "train.csv"), vocabs, batch_size=1, report_dir=str(tmp_path / "run")
    )
    assert sum(1 for _ in ds) == n_rows - 2
    # A warning of the `tfmm` logger (the command prints it on stdout).
    out = "\n".join(
        r.getMessage() for r in caplog.records if r.name == "tfmm" and r.levelname == "WARNING"
    )
    assert f"skipped 2 of {n_rows} rows" in out
    report = _rows(tmp_path / "run" / "bad_examples_train.csv")
    assert [r[1:3] for r in report[1:]] == [["2", "image_path"], ["5", "audio_path"]]
    assert "file not found" in report[2][4]


def test_check_reports_every_problem_at_once(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    _damage(d, 1, "image_path", _not_an_image)
    _damage(d, 4, "audio_path", _truncate)
    _damage(d, 6, "image_path", _missing)
    problems = tfmm.data.check_manifest(
        small_demo_config(d), tfmm.data.Manifest(str(d / "train.csv"))
    )
    assert [(p.row, p.column) for p in problems] == [
        (1, "image_path"),
        (4, "audio_path"),
        (6, "image_path"),
    ]


def test_serving_graph_errors_name_the_input():
    # Garbage reaching the in-graph decoders (serving, TFRecords) is an InvalidArgument
    # error that names the input, never a crash.
    from tfmm.data.audio import decode_audio
    from tfmm.data.image import decode_image

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input `clip`: not a WAV file"):
        decode_audio(tf.constant(b"\x89PNG garbage bytes here"), 16000, 100, name="clip")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input `photo`: empty image"):
        decode_image(tf.constant(b""), (8, 8), name="photo")
    for width in (1, 3):  # 8- and 24-bit PCM: decode_wav's own error names no input
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"input `clip`: WAV samples are not 16-bit PCM \(convert",
        ):
            decode_audio(tf.constant(pcm_wav(width)), 16000, 100, name="clip")
    wave_, length = decode_audio(tf.constant(pcm_wav(2)), 16000, 100, name="clip")
    assert int(length) == 50 and np.allclose(wave_.numpy()[:50], 0.25, atol=1e-4)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(image_bytes=st.binary(max_size=300), audio_bytes=st.binary(max_size=300))
def test_random_bytes_get_a_clean_error(tmp_path, image_bytes, audio_bytes):
    d = tmp_path / "fuzz"
    d.mkdir(exist_ok=True)
    (d / "x.jpg").write_bytes(b"\xff\xd8\xff" + image_bytes)
    (d / "x.wav").write_bytes(b"RIFF" + audio_bytes)
    _write_rows(
        d / "m.csv",
        [["caption", "image_path", "audio_path", "label"], ["hello", "x.jpg", "x.wav", "a"]],
    )
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {"name": "image", "type": "image", "column": "image_path", "image_size": 32},
                {"name": "audio", "type": "audio", "column": "audio_path", "clip_seconds": 0.1},
            ],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
        }
    )
    problems = tfmm.data.check_manifest(config, tfmm.data.Manifest(str(d / "m.csv")))
    # Neither file can be valid (a JPEG marker or "RIFF" then random bytes): each is
    # reported once, by row, column and file.
    assert sorted((p.row, p.column, p.file) for p in problems) == [
        (1, "audio_path", "x.wav"),
        (1, "image_path", "x.jpg"),
    ], problems
    assert all(p.message for p in problems)


def _point_at(d, row, column, target):
    rows = _rows(d / "train.csv")
    rows[row][rows[0].index(column)] = str(target)
    _write_rows(d / "train.csv", rows)


@pytest.mark.parametrize("column", ["image_path", "audio_path"])
@pytest.mark.parametrize(
    "kind,reason",
    [
        ("fifo", "not a regular file (a FIFO)"),
        ("directory", "not a regular file (a directory)"),
        ("device", "not a regular file (a character device)"),
    ],
)
def test_paths_that_are_not_files_are_named_quickly_and_skipped(
    demo_dir, tmp_path, column, kind, reason
):
    # A FIFO would block a reader forever; /dev/zero or /dev/urandom would fill memory.
    import time

    d = _copy_demo(demo_dir, tmp_path)
    target = {
        "fifo": tmp_path / "pipe",
        "directory": tmp_path / "adir",
        "device": "/dev/zero" if column == "image_path" else "/dev/urandom",
    }[kind]
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    _point_at(d, 2, column, target)
    start = time.monotonic()
    problems = tfmm.data.check_manifest(
        small_demo_config(d), tfmm.data.Manifest(str(d / "train.csv"))
    )
    assert [(p.row, p.column, p.message, p.file) for p in problems] == [
        (2, column, reason, str(target))
    ]
    # Under skip, the row is dropped and the rest are read.
    config = small_demo_config(d, on_bad_example="skip")
    columns = tfmm.data.load_manifest(config, str(d / "train.csv"), log=lambda *a: None)
    assert len(columns["caption"]) == len(_rows(d / "train.csv")) - 2
    assert time.monotonic() - start < 30


def test_a_file_over_the_size_limit_is_refused_by_name(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + bytes(2 * 1024 * 1024))
    _point_at(d, 1, "image_path", big)
    problems = tfmm.data.check_manifest(
        small_demo_config(d, max_file_mb=1), tfmm.data.Manifest(str(d / "train.csv"))
    )
    assert [(p.row, p.message) for p in problems] == [
        (1, "file is 2 MB, over the 1 MB limit (data.max_file_mb)")
    ]
    # Within the default limit it is decoded (and found corrupt), not refused for size.
    problems = tfmm.data.check_manifest(
        small_demo_config(d), tfmm.data.Manifest(str(d / "train.csv"))
    )
    assert [p.message for p in problems] == ["cannot decode image (corrupt or truncated JPEG)"]


def test_a_fifo_as_manifest_is_refused():
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "m.csv")
    os.mkfifo(path)
    with pytest.raises(DataError, match=r"manifest '.*m\.csv': not a regular file \(a FIFO\)"):
        tfmm.data.Manifest(path)


def test_excel_byte_order_mark_long_cells_and_utf16(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    rows = _rows(d / "train.csv")
    rows[1][0] = "long " * 40000  # 200 KB: over the csv module's default 128 KiB cap
    _write_rows(d / "bom.csv", rows, encoding="utf-8-sig")
    manifest = tfmm.data.Manifest(str(d / "bom.csv"))
    assert list(manifest.columns)[0] == "caption"  # not '\ufeffcaption'
    assert manifest.columns["caption"][0] == rows[1][0]
    assert tfmm.data.check_manifest(small_demo_config(d), manifest) == []
    _write_rows(d / "utf16.csv", rows[:3], encoding="utf-16")
    with pytest.raises(DataError, match=r"utf16\.csv' is UTF-16 text; save it as UTF-8"):
        tfmm.data.Manifest(str(d / "utf16.csv"))


def test_skip_summary_says_how_many_it_does_not_list(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    for row in range(1, 8):
        _damage(d, row, "audio_path", _missing)
    logs = []
    tfmm.data.load_manifest(
        small_demo_config(d, on_bad_example="skip"), str(d / "train.csv"), log=logs.append
    )
    assert logs[0].startswith("tfmm: skipped 7 of ")
    assert [line.startswith("  '") for line in logs[1:6]] == [True] * 5
    assert logs[6:] == ["  ... and 2 more"]


def _png_header(width, height):
    """A PNG whose header says width x height, with one empty IDAT: a decompression bomb's
    shape (the real ones are a few MB that decode to gigabytes), written in bytes."""
    import struct
    import zlib

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_pixel_and_duration_caps_are_read_from_headers(demo_dir, tmp_path):
    import time

    d = _copy_demo(demo_dir, tmp_path)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(30000, 30000))
    _point_at(d, 1, "image_path", bomb)
    long_clip = tmp_path / "long.wav"
    long_clip.write_bytes(tf.audio.encode_wav(np.zeros((16000 * 3, 1), np.float32), 16000).numpy())
    _point_at(d, 2, "audio_path", long_clip)
    start = time.monotonic()
    problems = tfmm.data.check_manifest(
        small_demo_config(d, max_audio_seconds=2.5), tfmm.data.Manifest(str(d / "train.csv"))
    )
    assert [(p.row, p.column, p.message, p.file) for p in problems] == [
        (
            1,
            "image_path",
            "image is 30000x30000 (900 MP), over the 100 MP limit (data.max_image_megapixels)",
            str(bomb),
        ),
        (
            2,
            "audio_path",
            "clip is 3 s long, over the 2.5 s limit (data.max_audio_seconds)",
            str(long_clip),
        ),
    ]
    assert time.monotonic() - start < 30  # nothing was decoded
    # Within raised caps the clip is read, and the bomb's size is no longer the reason.
    problems = tfmm.data.check_manifest(
        small_demo_config(d, max_image_megapixels=1000, max_audio_seconds=3.5),
        tfmm.data.Manifest(str(d / "train.csv")),
    )
    assert [(p.row, p.column) for p in problems] == [(1, "image_path")]
    assert "limit" not in problems[0].message


def test_media_root_refuses_paths_that_resolve_outside_it(demo_dir, tmp_path):
    d = _copy_demo(demo_dir, tmp_path)
    outside = tmp_path / "outside.jpg"
    shutil.copy(d / _rows(d / "train.csv")[1][1], outside)
    _point_at(d, 1, "image_path", outside)  # an absolute path outside the root
    _point_at(d, 2, "image_path", "../outside.jpg")  # a relative one
    os.symlink(outside, d / "link.jpg")  # inside by name, outside once followed
    _point_at(d, 3, "image_path", "link.jpg")
    manifest = tfmm.data.Manifest(str(d / "train.csv"))
    assert tfmm.data.check_manifest(small_demo_config(d), manifest) == []  # no root: any
    problems = tfmm.data.check_manifest(small_demo_config(d, media_root=str(d)), manifest)
    reason = f"path resolves outside data.media_root {str(d)!r}"
    assert [(p.row, p.column, p.message) for p in problems] == [
        (r, "image_path", reason) for r in (1, 2, 3)
    ]


@pytest.mark.parametrize("column", ["image_path", "audio_path"])
def test_data_check_on_a_fifo_ends_with_its_one_line_error(demo_dir, tmp_path, column):
    # `tfmm data check` refused the FIFO, then its media summary opened it and hung.
    import subprocess
    import sys

    import yaml

    d = _copy_demo(demo_dir, tmp_path)
    os.mkfifo(tmp_path / "pipe")
    _point_at(d, 2, column, tmp_path / "pipe")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(tiny_demo_dict(d, ("text", "image", "audio"), epochs=1, batch_size=4))
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfmm.cli",
            "data",
            "check",
            str(d / "train.csv"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES=""),
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"row 2 column '{column}'" in proc.stdout and "(a FIFO)" in proc.stdout, proc.stdout


def test_image_sizes_reads_huge_headers_and_gives_pillows_bomb_guard_back(tmp_path, monkeypatch):
    """The check reads image headers past Pillow's decompression-bomb limit (nothing is
    decoded) and puts the process-wide `Image.MAX_IMAGE_PIXELS` back, also when reading
    fails."""
    from PIL import Image

    from tfmm.data.check import image_sizes

    Image.new("RGB", (20, 20)).save(tmp_path / "20.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 400 pixels: over twice the limit
    assert image_sizes([str(tmp_path / "20.png"), str(tmp_path / "none.png")]) == [(20, 20), None]
    assert Image.MAX_IMAGE_PIXELS == 100
    monkeypatch.setattr(Image, "open", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        image_sizes([str(tmp_path / "20.png")])
    assert Image.MAX_IMAGE_PIXELS == 100
