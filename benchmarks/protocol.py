"""The protocol every quality comparison in BENCHMARKS.md follows (its "Protocol" section).

1. **Data seeds × initialisation seeds.** Each comparison is run on several data seeds
   (the data regenerated: other rows, other splits) and, on each, several initialisation
   seeds (weights and shuffling): 3 × 3 by default.
2. **Settings are chosen on validation rows only.** Every model (tfmm's and the peer)
   gets the same grid of candidate settings (by default the learning rate); each
   candidate is trained on every data seed with the first initialisation seed, and the
   one with the best mean validation score (the kept epoch's monitored value) is chosen.
   A tie keeps the candidate listed first (the default).
3. **Frozen before the test rows are read.** The chosen settings and every validation
   score are written to `frozen.json` before any model sees a test row.
4. **Test rows read once per reported run**: the chosen settings of each model, on every
   data seed and initialisation seed (the selection's runs are reused for the first).
5. **Reported**: mean ± std over the runs, and the paired difference against the peer
   (the same data seed and initialisation seed) with its 95% t interval.

`run_protocol` carries it out for any model given two functions, `fit` (trains without
the test rows; returns the validation score and a handle) and `test` (reads the test
rows of a handle once), and keeps its state in a JSON file, so a killed run resumes
where it stopped.

Example:

>>> import numpy as np
>>> d, half = paired_interval([0.30, 0.31, 0.33], [0.35, 0.34, 0.40])
>>> round(d, 3), round(half, 3)
(0.05, 0.05)
"""

import json
import os
import time

import numpy as np

# Data seeds no default was ever chosen on (the hard data's seed 0 was looked at while the
# defaults were set, test rows included).
DATA_SEEDS = (101, 102, 103)
INIT_SEEDS = (0, 1, 2)
# The learning-rate grid every model is tuned over (tfmm's default first: it wins ties).
# Two rates: with 3 data seeds x 3 initialisation seeds, each candidate costs 3 training
# runs per model (about 12 min on 2 CPU cores for tfmm's 24 epochs).
LEARNING_RATES = (3e-3, 1e-3)


def paired_interval(a, b, confidence=0.95):
    """(mean of b - a, half-width of its `confidence` t interval) over paired runs; the
    half-width is NaN with fewer than two pairs."""
    from scipy import stats

    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if len(d) < 2:
        return float(d.mean()), float("nan")
    t = stats.t.ppf(0.5 + confidence / 2, len(d) - 1)
    return float(d.mean()), float(t * d.std(ddof=1) / np.sqrt(len(d)))


def choose(scores):
    """The candidate with the best mean validation score; a tie keeps the first listed.
    `scores`: {candidate: [score per data seed]} in the order the candidates were listed."""
    best, best_mean = None, -np.inf
    for candidate, values in scores.items():
        mean = float(np.mean(values))
        if mean > best_mean:
            best, best_mean = candidate, mean
    return best


def _key(*parts):
    return "/".join(str(p) for p in parts)


class _State:
    """The protocol's JSON state: validation and test scores, handles, the frozen choice."""

    def __init__(self, path):
        self.path = path
        self.data = {"val": {}, "handle": {}, "test": {}, "frozen": None}
        if os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)


def run_protocol(
    candidates,
    fit,
    test,
    folder,
    data_seeds=DATA_SEEDS,
    init_seeds=INIT_SEEDS,
    log=print,
    rev=None,
):
    """Runs the protocol; returns {"chosen": {model: candidate}, "val": {model:
    {candidate: [score per data seed]}}, "test": {model: [[score per init seed] per data
    seed]}, "seconds": training and testing time, summed over the runs}.

    `candidates`: {model: [candidate, ...]} (candidates are strings, the default first);
    `rev`: the code's commit, kept from the first call (a resumed run reports where its
    runs came from, "commit" in the result);
    `fit(model, candidate, data_seed, init_seed)` -> (validation score, handle: a
    string) never reads test rows; `test(model, handle)` -> test score. The choice is
    written to `folder/frozen.json` before the first `test` call; `folder/state.json`
    holds every score so far (a rerun skips what is done).
    """
    os.makedirs(folder, exist_ok=True)
    state = _State(os.path.join(folder, "state.json"))
    if rev and not state.data.get("commit"):
        state.data["commit"] = rev
        state.save()
    first = init_seeds[0]

    def fitted(model, candidate, d, s):
        key = _key(model, candidate, d, s)
        if key not in state.data["val"]:
            t = time.time()
            val, handle = fit(model, candidate, d, s)
            state.data["val"][key], state.data["handle"][key] = float(val), handle
            state.data["seconds"] = state.data.get("seconds", 0.0) + time.time() - t
            state.save()
            log(f"protocol: {key}: validation {val:.4f}")
        return state.data["val"][key], state.data["handle"][key]

    val = {
        model: {c: [fitted(model, c, d, first)[0] for d in data_seeds] for c in cands}
        for model, cands in candidates.items()
    }
    chosen = {model: choose(scores) for model, scores in val.items()}
    frozen = os.path.join(folder, "frozen.json")
    if state.data["frozen"] is None:
        state.data["frozen"] = chosen
        state.save()
        with open(frozen, "w") as f:
            json.dump({"chosen": chosen, "val": val}, f, indent=1)
        log(f"protocol: frozen {chosen} (validation only; {frozen})")
    elif state.data["frozen"] != chosen:
        raise RuntimeError(
            f"{frozen} froze {state.data['frozen']} but the validation scores now choose "
            f"{chosen}: the folder holds another run's state; give another folder"
        )
    scores = {}
    for model, candidate in chosen.items():
        scores[model] = []
        for d in data_seeds:
            row = []
            for s in init_seeds:
                key = _key(model, candidate, d, s)
                if key not in state.data["test"]:
                    _, handle = fitted(model, candidate, d, s)
                    t = time.time()
                    state.data["test"][key] = float(test(model, handle))
                    state.data["seconds"] = state.data.get("seconds", 0.0) + time.time() - t
                    state.save()
                    log(f"protocol: {key}: test {state.data['test'][key]:.4f}")
                row.append(state.data["test"][key])
            scores[model].append(row)
    return {
        "chosen": chosen,
        "val": val,
        "test": scores,
        "seconds": state.data.get("seconds", 0.0),
        "commit": state.data.get("commit"),
    }


def markdown(result, reference, peer, describe=str):
    """The protocol's table: each model's chosen setting, validation and test scores, and
    `reference` - `peer` paired over every (data seed, initialisation seed)."""
    lines = [
        "| model | chosen on validation | validation (mean over data seeds) | "
        "test accuracy, mean ± std | per data seed |",
        "|---|---|---|---|---|",
    ]
    for model, candidate in result["chosen"].items():
        t = np.asarray(result["test"][model])
        grid = ", ".join(
            f"{describe(c)}: {np.mean(v):.3f}" for c, v in result["val"][model].items()
        )
        per_seed = " / ".join(f"{row.mean():.3f}" for row in t)
        lines.append(
            f"| {model} | {describe(candidate)} | {grid} | {t.mean():.3f} ± {t.std():.3f} | "
            f"{per_seed} |"
        )
    a = np.asarray(result["test"][peer]).ravel()
    b = np.asarray(result["test"][reference]).ravel()
    d, half = paired_interval(a, b)
    # The runs on one data seed share its rows, so the 9 pairs are not independent; the
    # interval over the data seeds' means (3 pairs) is the conservative one.
    dm, halfm = paired_interval(
        np.asarray(result["test"][peer]).mean(1), np.asarray(result["test"][reference]).mean(1)
    )
    lines += [
        "",
        f"Paired difference, {reference} - {peer}: **{d:+.3f}** (95% t interval "
        f"{d - half:+.3f} to {d + half:+.3f} over the {len(a)} pairs of data seed × "
        f"initialisation seed; {dm - halfm:+.3f} to {dm + halfm:+.3f} over the "
        f"{len(result['test'][peer])} data seeds' means, which does not take runs on the "
        f"same rows as independent).",
    ]
    return "\n".join(lines)
