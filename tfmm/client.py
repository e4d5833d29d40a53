"""A TensorFlow-free client for tfmm's ONNX exports: raw inputs -> predictions.

Needs only numpy, Pillow and the standard library (and onnxruntime to run the model);
it imports nothing else from tfmm, so it works where TensorFlow is not installed:

    pip install --no-deps tfmm && pip install onnxruntime numpy pillow

Everything it needs (vocabularies, image sizes, sample rates, labels) is read from the
`.onnx` file's metadata (`tfmm.client`), written by `tfmm export --format onnx`.
`TFLiteClient` does the same for the TFLite files (`tfmm export --format tflite`), with
the spec from `tfmm/client.json` beside them and LiteRT's interpreter (`pip install
ai-edge-litert`; TensorFlow's where that is missing).

It mirrors tfmm's in-graph preprocessing (`tfmm/data/text.py`, `image.py`, `audio.py`):

- text (textcnn): Keras `TextVectorization` — ASCII-only lowercasing (`tf.strings.lower`
  leaves non-ASCII letters as they are), the ASCII punctuation set removed, split on ASCII
  whitespace, vocabulary lookup (OOV -> 1), truncated or zero-padded to the sequence length;
- images: JPEG/PNG/BMP/GIF (first frame) decoded with Pillow to RGB (alpha dropped, not
  composited, as TensorFlow does; a large JPEG at the same reduced DCT scale as tfmm's
  `jpeg_scale: auto`, through `Image.draft`), `tf.image.resize`'s bilinear interpolation
  with half-pixel centres and no antialiasing (computed here, not Pillow's resize, which
  antialiases), or `resize_with_pad`'s letterboxing, clipped to [0, 255];
- audio: 16-bit PCM WAV, samples / 32768, channels averaged, linear resampling when the
  input has `resample: true`, cropped from the start or zero-padded;
- optional inputs: empty bytes/text are "missing" (`NAME_present` = 0, zeros).

Not mirrored: BERT text inputs (WordPiece tokenisation is TensorFlow Text's), refused by
name; the SavedModel serves those.

Example:

```python
from tfmm.client import OnnxClient
client = OnnxClient("savedmodels/demo/1/model.onnx")
result = client.predict({"text": ["a red square"], "image": ["a.jpg"],
                         "audio": [open("a.wav", "rb").read()]})
result["label_label"], result["label_probabilities"]
```
"""

import io
import json
import os
import re
import warnings
import wave

import numpy as np

from tfmm._extras import require

METADATA_KEY = "tfmm.client"

# Keras TextVectorization's `strip_punctuation` set (ASCII only).
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
# tf.strings.split() splits on ASCII whitespace only (NBSP and the like stay in tokens).
_WHITESPACE = re.compile(r"[ \t\n\r\v\f]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NUMPY = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64}
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


class ClientError(ValueError):
    """A raw input the model cannot take; the message names the input (and row)."""


# ---------------------------------------------------------------------------------------
# Text.
# ---------------------------------------------------------------------------------------


def standardize_text(text, standardize="lower_and_strip_punctuation"):
    """TextVectorization's standardisation of one string.

    >>> standardize_text("Héllo, WORLD!")
    'héllo world'
    """
    if standardize in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_ASCII_LOWER)
    if standardize == "lower_and_strip_punctuation":
        text = _PUNCTUATION.sub("", text)
    return text


def text_ids(text, vocabulary, sequence_length, standardize="lower_and_strip_punctuation"):
    """Token ids of one string: int32 [sequence_length] (0 padding, 1 out of vocabulary).

    >>> text_ids("Cat dog", ["", "[UNK]", "cat"], 4).tolist()
    [2, 1, 0, 0]
    """
    index = vocabulary if isinstance(vocabulary, dict) else _index(vocabulary)
    tokens = [t for t in _WHITESPACE.split(standardize_text(text, standardize)) if t]
    ids = [index.get(t, 1) for t in tokens[:sequence_length]]
    return np.array(ids + [0] * (sequence_length - len(ids)), np.int32)


def tfidf_vector(text, vocabulary, idf, ngrams=2, standardize="lower_and_strip_punctuation"):
    """TextVectorization's `tf_idf` output for one string: float32 [len(vocabulary) + 1],
    each n-gram's count times its idf; entry 0 counts out-of-vocabulary n-grams, weighted
    by the mean idf (as Keras does).

    >>> tfidf_vector("a b a", ["a", "a b"], [0.5, 2.0], ngrams=2).tolist()
    [2.5, 1.0, 2.0]

    `vocabulary` and `idf` may instead be what `tfidf_tables` made of them once (the
    client does so: a 20,000-entry index is not rebuilt per example).
    """
    index, weights = (
        (vocabulary, idf) if isinstance(vocabulary, dict) else tfidf_tables(vocabulary, idf)
    )
    tokens = [t for t in _WHITESPACE.split(standardize_text(text, standardize)) if t]
    grams = list(tokens)
    for n in range(2, ngrams + 1):
        grams += [" ".join(tokens[k : k + n]) for k in range(len(tokens) - n + 1)]
    counts = np.zeros(len(weights), np.float32)
    for g in grams:
        counts[index.get(g, 0)] += 1.0
    return counts * weights


def tfidf_tables(vocabulary, idf):
    """({n-gram: entry}, float32 weights per entry; entry 0, out of vocabulary, weighs
    the mean idf)."""
    index = {token: k + 1 for k, token in enumerate(vocabulary)}
    weights = np.concatenate([[np.mean(idf) if len(idf) else 0.0], idf]).astype(np.float32)
    return index, weights


# ---------------------------------------------------------------------------------------
# Tables.
# ---------------------------------------------------------------------------------------

# Cells read as missing numbers, as `tfmm.data.tabular.MISSING_NUMBERS` (lower-cased).
MISSING_NUMBERS = ("", "nan", "na", "n/a", "null", "none")


def numbers(values, columns, name="tabular"):
    """One example's numeric cells (numbers, numeric strings, None or NaN for missing) as
    float32 [columns]; a cell that is not a number is a ClientError naming its column.

    >>> numbers([1, None, "2.5"], ["a", "b", "c"]).tolist()
    [1.0, nan, 2.5]
    """
    out = []
    for column, v in zip(columns, values):
        if v is None or (isinstance(v, str) and v.strip().lower() in MISSING_NUMBERS):
            out.append(np.nan)
            continue
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise ClientError(f"input `{name}` column {column!r}: not a number: {v!r}") from None
    return np.array(out, np.float32)


def category_ids(values, categories):
    """One example's categorical cells as int32 ids: 0 missing (None or ""), 1 a category
    unseen in training, 2.. the training categories (`categories`, one list per column).

    >>> category_ids(["b", "zzz", None], [["a", "b"], ["x"], ["y"]]).tolist()
    [3, 1, 0]

    A column's list may instead be a dict {category: id} (the client builds those once).
    """
    out = []
    for v, known in zip(values, categories):
        if not isinstance(known, dict):
            known = {c: k + 2 for k, c in enumerate(known)}
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        v = (
            ""
            if v is None or (isinstance(v, float) and np.isnan(v))
            else (v.decode("utf-8") if isinstance(v, bytes) else str(v)).strip()
        )
        out.append(0 if v == "" else known.get(v, 1))
    return np.array(out, np.int32)


def _index(vocabulary):
    return {token: i for i, token in enumerate(vocabulary) if i >= 2 or token not in ("", "[UNK]")}


# ---------------------------------------------------------------------------------------
# Images.
# ---------------------------------------------------------------------------------------

JPEG_SCALES = (1, 2, 4, 8)


def jpeg_scale(height, width, size, resize="plain"):
    """`tfmm.data.image.jpeg_scale`: the largest libjpeg DCT scale (1, 2, 4, 8) at which
    a JPEG still covers its resized size (float32 arithmetic, as TensorFlow's)."""
    th, tw = size
    if resize == "pad":
        f32 = np.float32
        r = max(f32(width) / f32(tw), f32(height) / f32(th))
        th, tw = int(np.floor(f32(height) / r)), int(np.floor(f32(width) / r))
    return max(s for s in JPEG_SCALES if height // s >= th and width // s >= tw or s == 1)


def decode_image(data, name="image", reduce_to=None):
    """Encoded JPEG/PNG/BMP/GIF bytes -> float32 RGB [h, w, 3] in [0, 255].

    `reduce_to`: (height, width, resize) the image will be resized to; a JPEG is then
    decoded at libjpeg's reduced DCT scale (`jpeg_scale`, through Pillow's `draft`),
    as tfmm's `jpeg_scale: auto` decodes it in TensorFlow."""
    Image = require("PIL.Image", "the client's image decoding")

    if not data:
        raise ClientError(f"input `{name}`: empty image bytes")
    if not data.startswith(_IMAGE_MAGIC):
        raise ClientError(
            f"input `{name}`: not a JPEG, PNG, BMP or GIF image (unrecognised first bytes)"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            if reduce_to is not None and image.format == "JPEG":
                w, h = image.size
                scale = jpeg_scale(h, w, reduce_to[:2], reduce_to[2])
                if scale > 1:
                    # Pillow picks the scale min(w // (w // s), h // (h // s)) rounded
                    # down to 1, 2, 4 or 8, which is s for these sizes.
                    image.draft("RGB", (w // scale, h // scale))
            if image.mode in ("I;16", "I;16B", "I"):
                raise ClientError(
                    f"input `{name}`: 16-bit images are not supported by the "
                    f"client; use 8-bit images or the SavedModel"
                )
            with warnings.catch_warnings():
                # A palette's transparency is dropped, as TensorFlow drops it.
                warnings.simplefilter("ignore", UserWarning)
                pixels = np.asarray(image.convert("RGB"), np.float32)
    except ClientError:
        raise
    except Exception as e:  # Pillow raises many kinds
        raise ClientError(f"input `{name}`: cannot decode image ({e})") from None
    return pixels


def resize_bilinear(image, height, width):
    """`tf.image.resize(image, (height, width))` (bilinear, half-pixel centres, no
    antialiasing) in float32 numpy."""
    in_h, in_w = image.shape[:2]

    def weights(out_size, in_size):
        scale = np.float32(in_size) / np.float32(out_size)
        pos = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
        floor = np.floor(pos)
        lower = np.maximum(floor, 0).astype(np.int64)
        upper = np.minimum(np.ceil(pos), in_size - 1).astype(np.int64)
        return lower, upper, (pos - floor).astype(np.float32)

    y0, y1, ly = weights(height, in_h)
    x0, x1, lx = weights(width, in_w)
    lx = lx[None, :, None]
    top = image[y0][:, x0] + (image[y0][:, x1] - image[y0][:, x0]) * lx
    bottom = image[y1][:, x0] + (image[y1][:, x1] - image[y1][:, x0]) * lx
    return (top + (bottom - top) * ly[:, None, None]).astype(np.float32)


def resize_with_pad(image, height, width):
    """`tf.image.resize_with_pad(image, height, width)`: aspect ratio kept, zero padding
    centred (the same float32 arithmetic)."""
    f32 = np.float32
    in_h, in_w = f32(image.shape[0]), f32(image.shape[1])
    ratio = max(in_w / f32(width), in_h / f32(height))
    rh, rw = in_h / ratio, in_w / ratio
    top = max(0, int(np.floor((f32(height) - rh) / f32(2))))
    left = max(0, int(np.floor((f32(width) - rw) / f32(2))))
    resized = resize_bilinear(image, int(np.floor(rh)), int(np.floor(rw)))
    out = np.zeros((height, width, 3), np.float32)
    out[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return out


def image_tensor(data, height, width, resize="plain", name="image", jpeg_scale_mode="full"):
    """Encoded bytes -> the model's float32 [height, width, 3] pixels."""
    pixels = decode_image(
        data, name, reduce_to=(height, width, resize) if jpeg_scale_mode == "auto" else None
    )
    if resize == "pad":
        pixels = resize_with_pad(pixels, height, width)
    else:
        pixels = resize_bilinear(pixels, height, width)
    return np.clip(pixels, 0.0, 255.0)


# ---------------------------------------------------------------------------------------
# Audio.
# ---------------------------------------------------------------------------------------


def decode_wav(data, name="audio"):
    """16-bit PCM WAV bytes -> (mono float32 samples, sample rate)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ClientError(f"input `{name}`: not a WAV file (no RIFF/WAVE header)")
    try:
        with wave.open(io.BytesIO(data)) as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ClientError(f"input `{name}`: cannot decode WAV ({e})") from None
    if width != 2:
        raise ClientError(f"input `{name}`: {8 * width}-bit WAV; expected 16-bit PCM")
    samples = np.frombuffer(frames[: len(frames) // (2 * channels) * 2 * channels], "<i2")
    samples = samples.reshape(-1, channels).astype(np.float32) / np.float32(32768.0)
    if samples.shape[0] == 0:
        raise ClientError(f"input `{name}`: 0-length audio clip")
    return samples.mean(axis=1, dtype=np.float32), rate


def resample_linear(wave_, rate, target):
    """tfmm's linear-interpolation resampling (float64 positions, float32 samples)."""
    if rate == target:
        return wave_
    n = wave_.shape[0]
    new_n = max(int(np.floor(np.float64(n) * target / np.float64(rate))), 1)
    pos = np.arange(new_n, dtype=np.float64) * np.float64(rate) / target
    lo = np.minimum(np.floor(pos).astype(np.int64), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - np.floor(pos)).astype(np.float32)
    return wave_[lo] * (np.float32(1.0) - frac) + wave_[hi] * frac


def audio_tensors(data, sample_rate, num_samples, resample=False, name="audio"):
    """WAV bytes -> (float32 [num_samples] waveform, int32 valid length)."""
    samples, rate = decode_wav(data, name)
    if resample:
        samples = resample_linear(samples, rate, sample_rate)
    elif rate != sample_rate:
        raise ClientError(
            f"input `{name}`: WAV sample rate {rate} Hz differs from the "
            f"configured {sample_rate} Hz (the model was exported without "
            f"resample: true)"
        )
    samples = samples[:num_samples]
    out = np.zeros(num_samples, np.float32)
    out[: samples.shape[0]] = samples
    return out, np.int32(samples.shape[0])


# ---------------------------------------------------------------------------------------
# The client.
# ---------------------------------------------------------------------------------------


class Client:
    """Raw inputs -> model inputs -> named predictions, from a client spec (JSON dict).

    The runtime-free half of `OnnxClient` and `TFLiteClient`: `features` builds the
    model's input tensors with numpy and Pillow; a subclass's `run` runs them.

    Args:
        spec: dict. The export's client spec (`tfmm.client` in the ONNX metadata,
            `tfmm/client.json` beside the files of a version).
        dtypes: dict. {model input name: numpy dtype} of the runtime's inputs.
        source: str. Where the spec came from, for messages.
    """

    def __init__(self, spec, dtypes, source="the export"):
        self.spec = spec
        self.inputs = spec["inputs"]
        self.outputs = spec["outputs"]
        self._vocab = {
            i["name"]: _index(i["vocabulary"])
            for i in self.inputs
            if i["type"] == "text" and i.get("encoder") == "textcnn"
        }
        # Built once, not per example: the n-gram index and weights, the category ids.
        self._tfidf = {
            i["name"]: tfidf_tables(i["vocabulary"], i["idf"])
            for i in self.inputs
            if i["type"] == "text" and i.get("encoder") == "tfidf"
        }
        self._categories = {
            i["name"]: [{c: k + 2 for k, c in enumerate(column)} for column in i["categories"]]
            for i in self.inputs
            if i["type"] == "tabular"
        }
        for i in self.inputs:
            if i["type"] == "text" and i["encoder"] not in ("textcnn", "tfidf"):
                raise ClientError(
                    f"input {i['name']!r}: {i['encoder']} text inputs need "
                    f"TensorFlow's tokenizer; serve this model's SavedModel "
                    f"({source})"
                )
        self._dtypes = dict(dtypes)

    def raw_names(self):
        """The raw inputs `features` takes: each input's name; a tabular input's
        `{name}_numeric` and/or `{name}_categorical` (one list of cells per example,
        columns in the spec's order)."""
        names = []
        for i in self.inputs:
            if i["type"] != "tabular":
                names.append(i["name"])
                continue
            names += [f"{i['name']}_{part}" for part in ("numeric", "categorical") if i[part]]
        return names

    def features(self, raw):
        """{input name: list of raw values} -> {model input name: numpy array}."""
        expected = self.raw_names()
        missing = [n for n in expected if n not in raw]
        if missing:
            raise ClientError(f"missing input {missing[0]!r}; the model takes {expected}")
        sizes = {name: len(raw[name]) for name in expected}
        if len(set(sizes.values())) != 1:
            raise ClientError(f"inputs have different batch sizes: {sizes}")
        n = next(iter(sizes.values()))
        if n == 0:
            raise ClientError("empty batch: every input needs at least one example")
        feed = {}
        for i in self.inputs:
            name = i["name"]
            if i["type"] == "tabular":
                feed.update(self._tabular(i, raw, n))
                continue
            values = [
                _raw_bytes(v, name, row) if i["type"] != "text" else _text(v)
                for row, v in enumerate(raw[name], start=1)
            ]
            if i["optional"]:
                feed[f"{name}_present"] = np.array([float(len(v) > 0) for v in values], np.float32)
            rows = []
            for row, v in enumerate(values, start=1):
                try:
                    rows.append(self._one(i, v))
                except ClientError as e:
                    raise ClientError(f"{e} (example {row})") from None
            if i["type"] == "audio":
                feed[name] = np.stack([r[0] for r in rows])
                feed[f"{name}_length"] = np.array([r[1] for r in rows], np.int32)
            else:
                feed[name] = np.stack(rows)
        return {k: v.astype(self._dtypes.get(k, v.dtype), copy=False) for k, v in feed.items()}

    def _tabular(self, i, raw, n):
        name, feed = i["name"], {}
        rows = {
            part: [list(r) for r in raw[f"{name}_{part}"]] if i[part] else [[]] * n
            for part in ("numeric", "categorical")
        }
        for part in ("numeric", "categorical"):
            for row, cells in enumerate(rows[part], start=1):
                if len(cells) != len(i[part]):
                    raise ClientError(
                        f"input `{name}_{part}` (example {row}): "
                        f"{len(cells)} cells for the {len(i[part])} columns "
                        f"{i[part]}"
                    )
        if i["numeric"]:
            feed[f"{name}_numeric"] = np.stack(
                [numbers(r, i["numeric"], name) for r in rows["numeric"]]
            )
        if i["categorical"]:
            feed[f"{name}_categorical"] = np.stack(
                [category_ids(r, self._categories[name]) for r in rows["categorical"]]
            )
        if i["optional"]:
            present = np.zeros(n, np.float32)
            if i["numeric"]:
                present = np.maximum(present, (~np.isnan(feed[f"{name}_numeric"])).any(-1))
            if i["categorical"]:
                present = np.maximum(present, (feed[f"{name}_categorical"] != 0).any(-1))
            feed[f"{name}_present"] = present.astype(np.float32)
        return feed

    def _one(self, i, value):
        name = i["name"]
        if i["type"] == "text":
            if not value and not i["optional"]:
                raise ClientError(f"input `{name}`: empty text")
            if i["encoder"] == "tfidf":
                return tfidf_vector(value, *self._tfidf[name], i["ngrams"], i["standardize"])
            return text_ids(value, self._vocab[name], i["sequence_length"], i["standardize"])
        if i["type"] == "image":
            h, w = i["image_hw"]
            if not value and i["optional"]:
                return np.zeros((h, w, 3), np.float32)
            # Exports from before `jpeg_scale` decoded every JPEG at full size.
            return image_tensor(value, h, w, i["resize"], name, i.get("jpeg_scale", "full"))
        if not value and i["optional"]:
            return np.zeros(i["num_samples"], np.float32), np.int32(0)
        return audio_tensors(value, i["sample_rate"], i["num_samples"], i["resample"], name)

    def run(self, feed):
        """Model inputs -> {output name: float32 array}."""
        raise NotImplementedError

    def predict(self, raw):
        """Raw inputs -> the serving outputs, as the SavedModel's `serving_default` names
        them: `NAME_probabilities` and `NAME_label` (multiclass), `NAME_probability` and
        `NAME_label` (binary), `NAME_probabilities` and `NAME_labels` (multilabel),
        `NAME_values` (regression), and `fusion_gate` where the model has one."""
        return named_outputs(self.outputs, self.run(self.features(raw)))

    def embed(self, raw):
        """Raw inputs -> the vectors of an export's `embed.onnx` (`fused` and one per
        input, as `tfmm embed` writes them); use a client made from that file."""
        out = self.run(self.features(raw))
        return {k[len("embedding_") :]: v for k, v in out.items() if k.startswith("embedding_")}


class OnnxClient(Client):
    """Raw inputs -> ONNX inputs -> named predictions, without TensorFlow.

    Args:
        path: the export's `model.onnx`, or its version directory.
        session: an existing `onnxruntime.InferenceSession` of the same file (optional).

    Raw values per input, one per example: text as `str` (or UTF-8 bytes); images and
    audio as encoded bytes or a file path. An optional input's `""`/`b""` is missing.
    """

    def __init__(self, path, session=None):
        if os.path.isdir(path):
            path = os.path.join(path, "model.onnx")
        if session is None:
            session = onnx_session(path)
        self.session = session
        meta = session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ClientError(
                f"{path!r} has no {METADATA_KEY!r} metadata: export it again "
                f"with this tfmm version (tfmm export --format onnx)"
            )
        super().__init__(
            json.loads(meta[METADATA_KEY]),
            {t.name: _NUMPY[t.type] for t in session.get_inputs() if t.type in _NUMPY},
            source=path,
        )

    def run(self, feed):
        """ONNX inputs -> {output name: float32 array} (probabilities or values, and
        `fusion_gate` for a gated fusion)."""
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(None, feed)))


def onnx_session(path):
    """An `onnxruntime.InferenceSession` of a `.onnx` file on the CPU, its own log quiet
    below errors (the client's and the exporter's check's)."""
    ort = require("onnxruntime", "running an ONNX export")

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def tflite_interpreter(path):
    """A TFLite interpreter from the lightest runtime installed: LiteRT
    (`ai-edge-litert`), `tflite-runtime`, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            try:
                import tensorflow as tf
            except ImportError:
                raise ClientError(
                    "TFLiteClient needs a TFLite runtime: pip install "
                    "ai-edge-litert (or tensorflow)"
                ) from None
            Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's move-to-LiteRT notice
        return Interpreter(model_path=path)


class TFLiteClient(Client):
    """Raw inputs -> TFLite inputs -> named predictions, with the ONNX client's
    preprocessing.

    Args:
        path: the export's version directory, or one of its `.tflite` files
            (`model.tflite`, float32, by default; `model.fp16.tflite`).

    The spec comes from `tfmm/client.json` in the version directory (written by
    `tfmm export --format tflite`). The interpreter is LiteRT's (`pip install
    ai-edge-litert`) where installed, else `tflite-runtime`'s or TensorFlow's.
    """

    def __init__(self, path):
        if os.path.isdir(path):
            path = os.path.join(path, "model.tflite")
        spec_path = os.path.join(os.path.dirname(os.path.abspath(path)), "tfmm", "client.json")
        try:
            with open(spec_path, encoding="utf-8") as f:
                spec = json.load(f)
        except FileNotFoundError:
            raise ClientError(
                f"{spec_path!r} is missing: export the model again with this "
                f"tfmm version (tfmm export --format tflite)"
            ) from None
        self.interpreter = tflite_interpreter(path)
        self.runner = self.interpreter.get_signature_runner()
        details = self.runner.get_input_details()
        super().__init__(spec, {k: d["dtype"] for k, d in details.items()}, source=path)

    def run(self, feed):
        """TFLite inputs -> {output name: float32 array}."""
        names = self.runner.get_input_details()
        return {k: np.asarray(v) for k, v in self.runner(**{k: feed[k] for k in names}).items()}


def named_outputs(outputs, predictions):
    """The model's outputs (by name) -> the documented serving outputs."""
    out = {k: v for k, v in predictions.items() if k not in {o["name"] for o in outputs}}
    for o in outputs:
        p = np.asarray(predictions[o["name"]], np.float32)
        name, labels = o["name"], o.get("labels")
        if o["type"] == "regression":
            out[f"{name}_values"] = p
        elif o["type"] == "multiclass":
            out[f"{name}_probabilities"] = p
            out[f"{name}_label"] = [labels[k] for k in p.argmax(-1)]
        elif o["type"] == "binary":
            out[f"{name}_probability"] = p[:, 0]
            threshold = o.get("threshold", 0.5)
            out[f"{name}_label"] = [labels[int(v > threshold)] for v in p[:, 0]]
        else:
            out[f"{name}_probabilities"] = p
            out[f"{name}_labels"] = [
                o["label_separator"].join(label for label, v in zip(labels, row) if v > 0.5)
                for row in p
            ]
    return out


def _text(value):
    return (
        value.decode("utf-8") if isinstance(value, bytes) else ("" if value is None else str(value))
    )


def _raw_bytes(value, name, row):
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (str, os.PathLike)):
        if str(value) == "":
            return b""
        try:
            with open(value, "rb") as f:
                return f.read()
        except OSError as e:
            raise ClientError(
                f"input `{name}` (example {row}): cannot read {str(value)!r}: {e.strerror}"
            ) from None
    raise ClientError(
        f"input `{name}` (example {row}): expected bytes or a file path. "
        f"Received: {type(value).__name__}"
    )


__all__ = [
    "Client",
    "ClientError",
    "METADATA_KEY",
    "OnnxClient",
    "TFLiteClient",
    "audio_tensors",
    "category_ids",
    "decode_image",
    "decode_wav",
    "image_tensor",
    "jpeg_scale",
    "named_outputs",
    "numbers",
    "onnx_session",
    "resize_bilinear",
    "resize_with_pad",
    "standardize_text",
    "text_ids",
    "tfidf_tables",
    "tfidf_vector",
    "tflite_interpreter",
]
