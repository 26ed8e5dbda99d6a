"""Scores to decisions on the training side: Platt sigmoids fit on out-of-fold scores,
and the F1-optimal cut of each label on held-out probabilities. What they fit is plain
numbers, applied at predict time by :mod:`topics.kernels.linear`."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score


def platt_params(
    scores: np.ndarray, Y: np.ndarray, calibration: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-label Platt ``(a, b)`` from out-of-fold ``scores`` and 0/1 targets ``Y``:
    each label's own sigmoid (``(1, 0)``, the raw score's, for a label too rare to
    cross-validate), or one sigmoid fit on every label's scores together."""
    n, k = Y.shape
    if calibration == "shared":
        a, b = fit_platt(scores.ravel(), Y.ravel())
        return np.full(k, a), np.full(k, b)
    rare = (Y.sum(axis=0) < 2) | (Y.sum(axis=0) > n - 2)
    pairs = [(1.0, 0.0) if rare[j] else fit_platt(scores[:, j], Y[:, j]) for j in range(k)]
    return np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])


def fit_platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: ``(a, b)`` with ``P(y=1 | s) = sigmoid(a * s + b)``."""
    model = LogisticRegression(C=1e4, max_iter=1000).fit(scores.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def f1_at(proba: np.ndarray, y: np.ndarray, threshold: float) -> float:
    """F1 of ``proba >= threshold`` against the 0/1 vector ``y``."""
    predicted = proba >= threshold
    true_positives = float(np.sum(predicted & (y == 1)))
    return 2 * true_positives / max(float(predicted.sum() + y.sum()), 1.0)


def fit_threshold(proba: np.ndarray, y: np.ndarray) -> float:
    """The probability cut that maximises F1 of ``proba >= cut`` against ``y``.

    Returns the midpoint between the last kept score and the next one, so the
    cut does not sit exactly on a training score.
    """
    order = np.argsort(-proba, kind="stable")
    sorted_proba, sorted_y = proba[order], y[order]
    true_positives = np.cumsum(sorted_y)
    kept = np.arange(1, len(y) + 1)
    f1 = 2 * true_positives / (kept + sorted_y.sum())
    # Only cut between distinct scores.
    distinct = np.append(sorted_proba[1:] < sorted_proba[:-1], True)
    f1 = np.where(distinct, f1, -1.0)
    best = int(np.argmax(f1))
    if best + 1 < len(sorted_proba):
        return float((sorted_proba[best] + sorted_proba[best + 1]) / 2)
    return float(sorted_proba[best] / 2)


def held_out_cuts(
    proba: np.ndarray, y: np.ndarray, single_label: bool, min_positives: float
) -> tuple[np.ndarray, float]:
    """Per-label cuts fit on held-out probabilities, and the score they give there.

    Each label gets its F1-optimal cut (:func:`fit_threshold`), or 0.5 when it has
    fewer than ``min_positives`` positives. Single-label data keeps 0.5 (the
    argmax decides). The score is micro-F1, or accuracy for single-label data.
    """
    thresholds = np.full(y.shape[1], 0.5)
    if single_label:
        return thresholds, float(np.mean(proba.argmax(axis=1) == y.argmax(axis=1)))
    for j in range(y.shape[1]):
        if y[:, j].sum() >= min_positives:
            thresholds[j] = fit_threshold(proba[:, j], y[:, j])
    predicted = (proba >= thresholds).astype(int)
    return thresholds, float(f1_score(y, predicted, average="micro", zero_division=0))
