"""Explanations of single predictions, by occlusion: what the predicted label's score
loses when part of the input is taken away.

Per row, for one output:

- **shares**: each modality's part of the score, from removing it exactly as a missing
  optional input is removed (its presence flag 0, the model `evaluate --missing` uses):
  `drop = score - score without it`; the shares are the positive drops normalised to
  sum to 1 (all 0 when no modality's removal lowers the score);
- **tokens**: for a text input, each token (a TextCNN or BERT token id, or a TF-IDF
  n-gram) removed in turn, the largest drops first;
- **image**: an 8 × 8 grid of patches, each filled with the image's mean colour in turn;
  the drops drawn as a heat map beside the image (PNG);
- **audio**: the clip cut into 10 windows, each silenced in turn; the window whose
  silence costs most is the most important stretch (seconds);
- **columns**: for a tabular input, each column made missing in turn.

The score is the predicted label's log-probability (binary: of the label decided at the
output's threshold), computed from the head's logits so that a probability saturated at
1.0 still moves, or a regression output's value; every drop is in those units. The
report's `score` is the probability itself. Occlusion needs one forward pass per
variant (a few hundred per row with an image): affordable for the rows a user asks
about, not for a whole dataset.

    tfmm explain RUN --manifest rows.csv --rows 3,17 --out explain/
"""

import json
import os

import numpy as np

from tfmm.data import load_manifest, make_dataset


def _log_score(o, z, label):
    """The log-probability of `label` from one row of logits `z` (float64, so a saturated
    probability still moves), or a regression output's value."""
    z = np.asarray(z, np.float64).reshape(-1)
    if o.type == "multiclass":
        m = z.max()
        return float(z[label] - m - np.log(np.exp(z - m).sum()))
    if o.type == "binary":
        s = z[0] if label == 1 else -z[0]
        return float(-np.logaddexp(0.0, -s))
    return float(z[0])


def _score(o, p, label=None):
    """(label index or None, score) of one output's prediction `p` [units]."""
    p = np.asarray(p, np.float64).reshape(-1)
    if o.type == "multiclass":
        c = int(p.argmax()) if label is None else label
        return c, float(p[c])
    if o.type == "binary":
        from tfmm.outputs import decision_threshold

        c = int(p[0] > decision_threshold(o)) if label is None else label
        return c, float(p[0] if c == 1 else 1.0 - p[0])
    if o.type == "regression":
        return None, float(p[0])
    raise ValueError(
        f"tfmm explain: a {o.type} output is not explained (multiclass, binary, regression). "
        f"Received: output {o.name!r}"
    )


def _stack(variants):
    return {k: np.concatenate([v[k] for v in variants]) for k in variants[0]}


def explain(run, source, rows, out_dir, output=None, top=5, grid=8, windows=10):
    """Explanations of the rows `rows` (manifest row numbers, from 1) of `source`;
    writes `explanations.json`, `explanations.md` and the image heat maps to `out_dir`
    and returns the list of per-row dicts."""
    from tfmm.training.inference import load_run, optional_twin, user_path

    model, config, vocabularies = load_run(run)
    o = next((x for x in config.outputs if x.name == (output or config.outputs[0].name)), None)
    if o is None:
        raise ValueError(
            f"tfmm explain: no output {output!r}; outputs: {[x.name for x in config.outputs]}"
        )
    twin_config, twin = optional_twin(model, config, vocabularies)
    source = user_path(source)
    columns, row_numbers = load_manifest(
        twin_config, source, with_labels=False, with_row_numbers=True
    )
    missing = [r for r in rows if r not in row_numbers]
    if missing:
        raise ValueError(
            f"tfmm explain: row {missing[0]} is not a readable row of {source!r} (rows "
            f"1-{max(row_numbers) if row_numbers else 0}; rows with bad cells are skipped)"
        )
    picked = {c: [v[row_numbers.index(r)] for r in rows] for c, v in columns.items()}
    batches = list(make_dataset(twin_config, picked, vocabularies, with_labels=False))
    xs = {k: np.concatenate([np.asarray(b[k]) for b in batches]) for k in batches[0]}
    os.makedirs(out_dir, exist_ok=True)

    # Drops are measured on the log scale, from the head's logits: a probability that
    # has saturated at 1.0 in float32 still tells its parts apart there.
    import keras

    head = twin.get_layer(f"head_{o.name}")
    reader = keras.Model(twin.input, head.input)

    def logits(variants):
        fused = np.asarray(reader.predict(variants, batch_size=64, verbose=0), np.float64)
        if head.project:
            w, b = head.dense.get_weights()
            fused = fused @ w + b
        return fused / head.temperature

    def scores(variants, label):
        return np.array([_log_score(o, z, label) for z in logits(_stack(variants))])

    reports = []
    for k, row in enumerate(rows):
        x = {name: v[k : k + 1] for name, v in xs.items()}
        label, probability = _score(o, twin.predict(x, verbose=0)[o.name][0])
        base = _log_score(o, logits(x)[0], label)
        report = {
            "row": row,
            "output": o.name,
            "label": (o.labels[label] if label is not None and o.labels else None),
            "score": probability,
            "drops": {},
            "shares": {},
            "tokens": {},
            "images": {},
            "audio": {},
            "columns": {},
        }
        names = [i.name for i in config.inputs]
        off = []
        for name in names:
            v = dict(x)
            v[f"{name}_present"] = np.zeros_like(x[f"{name}_present"])
            off.append(v)
        drops = base - scores(off, label)
        report["drops"] = dict(zip(names, map(float, drops)))
        positive = np.maximum(drops, 0)
        report["shares"] = dict(
            zip(names, map(float, positive / positive.sum() if positive.sum() > 0 else positive))
        )
        for i in config.inputs:
            _explain_input(
                i,
                x,
                vocabularies,
                label,
                base,
                scores,
                report,
                out_dir,
                row,
                top,
                grid,
                windows,
                config,
            )
        reports.append(report)
    with open(os.path.join(out_dir, "explanations.json"), "w", encoding="utf-8") as f:
        json.dump(reports, f, indent=2)
    with open(os.path.join(out_dir, "explanations.md"), "w", encoding="utf-8") as f:
        f.write(markdown(reports))
    return reports


def _explain_input(
    i, x, vocabularies, label, base, scores, report, out_dir, row, top, grid, windows, config
):
    name = i.name
    if i.type == "text":
        value = x[name]
        vocab = vocabularies.get(name) or []
        if isinstance(vocab, dict):  # TF-IDF: {"tokens", "idf"}; the bag's index 0 is OOV
            vocab = ["[UNK]", *vocab.get("tokens", [])]
        variants, tokens = [], []
        if np.issubdtype(value.dtype, np.integer):  # token ids, 0 = padding
            for j in np.flatnonzero(value[0]):
                v = dict(x)
                v[name] = value.copy()
                v[name][0, j] = 0
                variants.append(v)
                tid = int(value[0, j])
                tokens.append(str(vocab[tid]) if tid < len(vocab) else f"#{tid}")
        elif value.ndim == 2:  # a bag of n-grams (TF-IDF): each present n-gram removed
            for j in np.flatnonzero(value[0]):
                v = dict(x)
                v[name] = value.copy()
                v[name][0, j] = 0.0
                variants.append(v)
                tokens.append(str(vocab[j]) if j < len(vocab) else f"#{j}")
        if variants:
            drops = base - scores(variants, label)
            best = {}
            for t, d in zip(tokens, drops):  # a token that occurs twice: its larger drop
                best[t] = max(best.get(t, -np.inf), float(d))
            report["tokens"][name] = sorted(best.items(), key=lambda kv: -kv[1])[:top]
    elif i.type == "image":
        image = x[name]
        h, w = image.shape[1:3]
        mean = image[0].mean(axis=(0, 1))
        variants, cells = [], []
        for a in range(grid):
            for b in range(grid):
                v = dict(x)
                v[name] = image.copy()
                ys, xs_ = (
                    slice(a * h // grid, (a + 1) * h // grid),
                    slice(b * w // grid, (b + 1) * w // grid),
                )
                v[name][0, ys, xs_] = mean
                variants.append(v)
                cells.append((a, b))
        drops = (base - scores(variants, label)).reshape(grid, grid)
        path = os.path.join(out_dir, f"row{row}_{name}_heatmap.png")
        _write_heatmap(image[0], drops, path)
        a, b = np.unravel_index(int(drops.argmax()), drops.shape)
        report["images"][name] = {
            "heatmap": os.path.basename(path),
            "most_important_cell": [int(a), int(b)],
            "drop": float(drops.max()),
        }
    elif i.type == "audio":
        wave = x[name]
        length = int(x.get(f"{name}_length", np.array([wave.shape[1]]))[0]) or wave.shape[1]
        edges = np.linspace(0, length, windows + 1).astype(int)
        variants = []
        for s, e in zip(edges[:-1], edges[1:]):
            v = dict(x)
            v[name] = wave.copy()
            v[name][0, s:e] = 0.0
            variants.append(v)
        drops = base - scores(variants, label)
        j = int(drops.argmax())
        rate = float(i.sample_rate)
        report["audio"][name] = {
            "start_s": round(edges[j] / rate, 3),
            "end_s": round(edges[j + 1] / rate, 3),
            "drop": float(drops[j]),
            "drops": [float(d) for d in drops],
        }
    elif i.type == "tabular":
        variants, cols = [], []
        for j, col in enumerate(i.numeric or []):
            v = dict(x)
            v[f"{name}_numeric"] = x[f"{name}_numeric"].copy()
            v[f"{name}_numeric"][0, j] = np.nan  # missing: imputed and flagged in the model
            variants.append(v)
            cols.append(col)
        for j, col in enumerate(i.categorical or []):
            v = dict(x)
            v[f"{name}_categorical"] = x[f"{name}_categorical"].copy()
            v[f"{name}_categorical"][0, j] = 0  # the missing category
            variants.append(v)
            cols.append(col)
        if variants:
            drops = base - scores(variants, label)
            report["columns"][name] = sorted(
                ((c, float(d)) for c, d in zip(cols, drops)), key=lambda kv: -kv[1]
            )[:top]


def _write_heatmap(image, drops, path):
    """The image and, beside it, the image with the positive drops in red."""
    import tensorflow as tf

    img = np.asarray(image, np.float64)
    img = (img - img.min()) / max(img.max() - img.min(), 1e-9)
    heat = np.maximum(drops, 0)
    heat = heat / heat.max() if heat.max() > 0 else heat
    h, w = img.shape[:2]
    heat = np.kron(heat, np.ones((-(-h // heat.shape[0]), -(-w // heat.shape[1]))))[:h, :w]
    overlay = img * (1 - 0.6 * heat[..., None]) + 0.6 * heat[..., None] * np.array([1.0, 0, 0])
    both = np.concatenate([img, np.ones((h, 4, 3)), overlay], axis=1)
    png = tf.io.encode_png(tf.constant(np.round(both * 255).astype(np.uint8)))
    tf.io.write_file(path, png)


def markdown(reports):
    """The explanations as a short readable report."""
    lines = []
    for r in reports:
        head = f"## Row {r['row']}: {r['output']}"
        what = (
            f"{r['label']!r} ({r['score']:.3f})" if r["label"] is not None else f"{r['score']:.4g}"
        )
        lines += [head, "", f"Predicted {what}.", ""]
        lines += ["| input | share | score lost without it |", "|---|---|---|"]
        lines += [f"| {k} | {r['shares'][k]:.2f} | {r['drops'][k]:+.3f} |" for k in r["drops"]]
        for name, toks in r["tokens"].items():
            lines.append(
                f"\n{name}: the tokens that matter most: "
                + ", ".join(f"{t!r} ({d:+.3f})" for t, d in toks)
            )
        for name, img in r["images"].items():
            lines.append(
                f"\n{name}: heat map {img['heatmap']} (the patch that matters most: "
                f"{img['most_important_cell']}, {img['drop']:+.3f})"
            )
        for name, a in r["audio"].items():
            lines.append(
                f"\n{name}: the most important stretch {a['start_s']}-{a['end_s']} s "
                f"({a['drop']:+.3f})"
            )
        for name, cols in r["columns"].items():
            lines.append(
                f"\n{name}: the columns that matter most: "
                + ", ".join(f"{c} ({d:+.3f})" for c, d in cols)
            )
        lines.append("")
    return "\n".join(lines)
