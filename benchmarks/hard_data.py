"""Hard multimodal benchmark data: real files with realistic nuisance in every modality.

Not the demo's one separable bit per modality. Two variants, each a deterministic
function of the seed, written as JPEG/PNG images, 16-bit WAV clips and text in CSV
manifests (`caption,image_path,audio_path,label`, 70/15/15 splits):

- `complementary`: 12 classes; each modality carries a different factor of the label:
  the image an object's shape (3), the audio a spoken-like "word" (2), the text a mood
  (2). A single modality can be right on at most 1/4, 1/6 or 1/6 of the classes it must
  choose between; only a model that reads all three can reach 100%.
- `redundant`: 10 classes; every modality shows the same label (10 shapes, 10 words, 10
  topics) with independent noise, so fusion should beat each modality alone and
  contrastive pretraining has shared content to align. In a quarter of the rows the text
  holds no topic word, and independently in a quarter the clip holds no word (noise
  only), as a caption may not name the subject or a recording miss the speech: no single
  modality can be right on more than about 78% of the rows, while a model that reads
  both can on about 94% (both signals are missing in 1/16). Version 2 (2026-12-03); in
  version 1 every row held every signal, and the audio alone was right on 100% of the
  rows, so no fusion gain could show.

Nuisance:
- images: canvases of 48-144 px (JPEG or PNG), the object at a random size, position,
  rotation and colour (colour carries nothing), outline or filled, on a textured
  background with clutter (lines, blobs, partial distractor strokes) and noise;
- audio: a word is a sequence of 2-3 gliding harmonic "syllables" with a formant-like
  band; each clip varies in length (0.8-2.0 s), onset, speed (x0.8-1.25), pitch
  (x0.8-1.25) and loudness, under coloured noise at 0-6 dB SNR; some clips stereo or at
  22.05 kHz;
- text: the one signal word is buried in 8-24 filler words, with distractors (the other
  class's word after "not", and look-alike neutral words).

Usage: `python -m benchmarks.hard_data OUT --variant complementary --n 1000 --seed 0`.
"""

import argparse
import os

import numpy as np

from tfmm.data.demo import write_split_manifests

SHAPES = [
    "circle",
    "square",
    "triangle",
    "cross",
    "star",
    "ring",
    "diamond",
    "bar",
    "arrow",
    "hexagon",
]
MOODS = [
    ["calm", "gentle", "peaceful", "serene", "tranquil", "soothing"],
    ["angry", "furious", "raging", "hostile", "violent", "bitter"],
]
TOPICS = [
    ["football", "goal", "referee"],
    ["recipe", "oven", "flour"],
    ["election", "senate", "ballot"],
    ["galaxy", "telescope", "orbit"],
    ["guitar", "melody", "chorus"],
    ["hospital", "nurse", "surgery"],
    ["harbour", "sailor", "anchor"],
    ["mountain", "summit", "glacier"],
    ["software", "compiler", "server"],
    ["painting", "canvas", "gallery"],
]
FILLER = (
    "the a an and or but so then it was is were be been this that these those "
    "there here very quite rather some many few more most other such only also "
    "again still yet just even much well day night morning week year people "
    "someone everyone thing place time way side part group number point case "
    "report said told asked thought felt seemed looked went came made took gave "
    "found kept left near after before during under over into onto about around "
    "city street river road house room window door table paper letter phone"
).split()
# Redundant variant: the share of rows whose text (and, independently, whose clip) holds
# no signal.
SIGNAL_DROPOUT = 0.25
LOOKALIKE = [
    "calendar",
    "gentleman",
    "angle",
    "serenade",
    "ballet",
    "orbitals",
    "goalpost",
    "flourish",
    "nursery",
    "anchorage",
]


def _rotate(xx, yy, cx, cy, angle):
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = xx - cx, yy - cy
    return c * dx + s * dy, -s * dx + c * dy


def _shape_mask(kind, u, v, r):
    a = np.abs
    if kind == "circle":
        return u**2 + v**2 <= r**2
    if kind == "square":
        return (a(u) <= r * 0.85) & (a(v) <= r * 0.85)
    if kind == "triangle":
        return (v <= r * 0.8) & (v >= -r + 2 * a(u))
    if kind == "cross":
        return ((a(u) <= r * 0.3) & (a(v) <= r)) | ((a(v) <= r * 0.3) & (a(u) <= r))
    if kind == "star":
        ang = np.arctan2(v, u)
        return np.hypot(u, v) <= r * (0.55 + 0.45 * np.cos(5 * ang))
    if kind == "ring":
        d = np.hypot(u, v)
        return (d <= r) & (d >= r * 0.6)
    if kind == "diamond":
        return a(u) + a(v) <= r
    if kind == "bar":
        return (a(u) <= r) & (a(v) <= r * 0.3)
    if kind == "arrow":
        return ((a(v) <= r * 0.25) & (u <= 0.2 * r) & (u >= -r)) | (
            (u >= 0.2 * r) & (u <= r) & (a(v) <= (r - u) * 1.2)
        )
    if kind == "hexagon":
        return (a(v) <= r * 0.87) & (a(v) * 0.577 + a(u) <= r)
    raise ValueError(kind)


def make_image(rng, shape):
    """uint8 [h, w, 3]: `shape` at a random pose on a cluttered background."""
    h, w = (int(x) for x in rng.integers(48, 145, 2))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, 3)
    grad = rng.normal(0, 30, 3)
    img = base + grad * (xx / w)[..., None] + rng.normal(0, 18, (h, w, 3))
    for _ in range(rng.integers(3, 9)):  # clutter: strokes and blobs
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        ang = rng.uniform(0, np.pi)
        u, v = _rotate(xx, yy, x0, y0, ang)
        if rng.random() < 0.5:
            m = (np.abs(v) <= rng.uniform(0.5, 2)) & (np.abs(u) <= rng.uniform(5, w / 2))
        else:
            m = np.hypot(u, v * rng.uniform(0.5, 2)) <= rng.uniform(2, min(h, w) / 8)
        img[m] = rng.uniform(0, 255, 3)
    r = rng.uniform(0.18, 0.38) * min(h, w)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    u, v = _rotate(xx, yy, cx, cy, rng.uniform(0, 2 * np.pi))
    mask = _shape_mask(shape, u, v, r)
    if rng.random() < 0.4:  # outline only
        inner = _shape_mask(shape, u, v, r * 0.7)
        mask = mask & ~inner
    img[mask] = rng.uniform(0, 255, 3) + rng.normal(0, 12, (int(mask.sum()), 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _word_plan(word, n_words):
    """The syllables of word `word`: [(start pitch factor, end pitch factor, formant)]."""
    plan_rng = np.random.default_rng(1000 + word + 97 * n_words)
    n = 2 + word % 2
    return [
        (plan_rng.uniform(0.7, 1.5), plan_rng.uniform(0.7, 1.5), plan_rng.uniform(600, 2500))
        for _ in range(n)
    ]


def make_audio(rng, word, n_words, sample_rate, present=True):
    """float32 [samples]: word `word` at a random onset, speed, pitch and level in noise
    (noise alone, at the level the word would have set, when not `present`)."""
    seconds = rng.uniform(0.8, 2.0)
    total = int(seconds * sample_rate)
    speed, pitch = rng.uniform(0.8, 1.25), rng.uniform(0.8, 1.25)
    syll = int(0.16 * sample_rate / speed)
    gap = int(0.05 * sample_rate / speed)
    plan = _word_plan(word, n_words)
    length = len(plan) * (syll + gap)
    onset = int(rng.uniform(0, max(total - length, 1)))
    out = np.zeros(total, np.float32)
    f0 = 160 * pitch
    env = np.sin(np.pi * np.arange(syll) / syll) ** 2
    pos = onset
    for start, end, formant in plan:
        f = f0 * np.linspace(start, end, syll)
        phase = 2 * np.pi * np.cumsum(f) / sample_rate
        harmonics = sum(
            np.exp(-(((k * f - formant * pitch) / 500) ** 2)) * np.sin(k * phase)
            for k in range(1, 16)
        )
        seg = (env * harmonics)[: max(0, min(syll, total - pos))]
        out[pos : pos + len(seg)] += seg
        pos += syll + gap
    signal = out / (np.abs(out).max() + 1e-6)
    noise = np.cumsum(rng.normal(0, 1, total)) * 0.02 + rng.normal(0, 1, total)  # coloured
    noise -= noise.mean()
    snr_db = rng.uniform(0, 6)
    p_sig = np.mean(signal[onset : onset + length] ** 2) + 1e-9
    noise *= np.sqrt(p_sig / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    wave = (signal * float(present) + noise) * rng.uniform(0.1, 0.5)
    return np.clip(wave, -1, 1).astype(np.float32)


def make_text(rng, words, others):
    """A sentence of filler with one signal word from `words` (none if `words` is empty),
    and distractors."""
    body = list(rng.choice(FILLER, rng.integers(8, 25)))
    if len(words):
        body.insert(int(rng.integers(0, len(body) + 1)), str(rng.choice(words)))
    if others and rng.random() < 0.5:
        body.insert(int(rng.integers(0, len(body) + 1)), f"not {rng.choice(others)}")
    if rng.random() < 0.5:
        body.insert(int(rng.integers(0, len(body) + 1)), str(rng.choice(LOOKALIKE)))
    return " ".join(body)


def make_hard_dataset(out_dir, variant="complementary", n=1000, seed=0, sample_rate=16000):
    """Writes the dataset (see the module docstring); returns the manifests' paths."""
    import tensorflow as tf

    if variant not in ("complementary", "redundant"):
        raise ValueError(
            f"variant must be 'complementary' or 'redundant'. Received: variant={variant!r}"
        )
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "audio"), exist_ok=True)
    if variant == "complementary":
        labels = [
            f"{s}-word{w}-{m}" for s in SHAPES[:3] for w in range(2) for m in ("calm", "angry")
        ]
    else:
        labels = [f"{s}-{topic[0]}" for s, topic in zip(SHAPES, TOPICS)]
    rows = []
    for k in range(n):
        c = k % len(labels)
        if variant == "complementary":
            shape, word, mood = SHAPES[c // 4], (c // 2) % 2, c % 2
            text = make_text(rng, MOODS[mood], MOODS[1 - mood])
            n_words = 2
        else:
            shape, word = SHAPES[c], c
            others = [w for j, t in enumerate(TOPICS) if j != c for w in t]
            text_on, audio_on = rng.random(2) >= SIGNAL_DROPOUT
            text = make_text(rng, TOPICS[c] if text_on else [], list(rng.choice(others, 3)))
            n_words = 10
        img = make_image(rng, shape)
        if rng.random() < 0.5:
            rel, data = (
                f"images/{k:05d}.jpg",
                tf.io.encode_jpeg(img, quality=int(rng.integers(60, 95))),
            )
        else:
            rel, data = f"images/{k:05d}.png", tf.io.encode_png(img)
        tf.io.write_file(os.path.join(out_dir, rel), data)
        rate = sample_rate if rng.random() < 0.8 else 22050
        wave = make_audio(rng, word, n_words, rate, present=variant == "complementary" or audio_on)
        wave = np.stack([wave, wave * 0.9], -1) if rng.random() < 0.2 else wave[:, None]
        arel = f"audio/{k:05d}.wav"
        tf.io.write_file(os.path.join(out_dir, arel), tf.audio.encode_wav(wave, rate))
        rows.append([text, rel, arel, labels[c]])
    return write_split_manifests(out_dir, rows, rng)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="output folder")
    p.add_argument(
        "--variant",
        choices=["complementary", "redundant"],
        default="complementary",
        help="which label structure (default complementary)",
    )
    p.add_argument("--n", type=int, default=1000, help="examples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = p.parse_args(argv)
    for split, path in make_hard_dataset(args.out, args.variant, args.n, args.seed).items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
