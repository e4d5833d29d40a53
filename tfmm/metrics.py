"""Evaluation metrics computed from predictions (numpy): accuracy, F1, AUROC, confusion."""

import numpy as np


def classification_report(y_true, probs, labels):
    """Metrics of a multiclass head.

    Args:
        y_true: int array [n] of class ids.
        probs: float array [n, k].
        labels: list of k label strings.

    Returns:
        dict: accuracy, macro_f1, per_class {label: precision, recall, f1, support},
        auroc (macro one-vs-rest, over classes present), confusion (k x k list, rows=true).
    """
    y_true = np.asarray(y_true).astype(int).reshape(-1)
    probs = np.asarray(probs)
    pred = probs.argmax(-1)
    k = len(labels)
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (y_true, pred), 1)
    per_class, f1s = {}, []
    for i, name in enumerate(labels):
        tp = confusion[i, i]
        p = tp / max(confusion[:, i].sum(), 1)
        r = tp / max(confusion[i].sum(), 1)
        f1 = 0.0 if p + r == 0 else 2 * p * r / (p + r)
        per_class[name] = {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f1),
            "support": int(confusion[i].sum()),
        }
        f1s.append(f1)
    aucs = [auroc(y_true == i, probs[:, i]) for i in range(k)]
    aucs = [a for a in aucs if a is not None]
    return {
        "accuracy": float((pred == y_true).mean()),
        "macro_f1": float(np.mean(f1s)),
        "auroc": float(np.mean(aucs)) if aucs else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "labels": list(labels),
        "n": int(len(y_true)),
    }


def auroc(positive, scores):
    """Area under the ROC curve (Mann-Whitney U, ties averaged); None if one class only."""
    positive = np.asarray(positive, bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
