"""Scoring formulas of the linear families, written once.

Training-side estimators (:mod:`topics.families.linear`,
:mod:`topics.families.fine_labels`, :mod:`topics.families.ensemble`) and the
predictor (:mod:`topics.serve.predictor`) both call these, so a bundle scores
exactly as the model it was exported from. numpy only.

>>> import numpy as np
>>> platt_proba(np.array([[0.0, 2.0]]), np.array([1.0, 1.0]), np.array([0.0, -2.0])).tolist()
[[0.5, 0.5]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def platt_proba(margins: np.ndarray, platt_a: Any, platt_b: Any) -> np.ndarray:
    """Platt-calibrated probabilities ``sigmoid(a * margin + b)``, per label column."""
    return sigmoid(platt_a * margins + platt_b)


def fine_margins(scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``(n_docs, n_labels)``: the best score among each label's source classes minus
    the best among the other classes. ``groups`` is ``(n_classes, n_labels)`` 0/1."""
    inside = groups.T[None, :, :] == 1
    spread = scores[:, None, :]
    best_in = np.where(inside, spread, -np.inf).max(axis=2)
    best_out = np.where(~inside, spread, -np.inf).max(axis=2)
    return best_in - best_out


def stacked_proba(
    fine: np.ndarray, direct: np.ndarray, stack_w: np.ndarray, stack_b: np.ndarray
) -> np.ndarray:
    """Per-label probability from the source-class margin ``fine`` and the label's own
    margin ``direct`` (both ``(n_docs, n_labels)``), stacked by a logistic regression
    with weights ``stack_w`` ``(n_labels, 2)`` and bias ``stack_b``."""
    return sigmoid(fine * stack_w[:, 0] + direct * stack_w[:, 1] + stack_b)


def normalise_rows(proba: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1 (single-label data: probabilities over the classes)."""
    return proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)


def mix(parts: Sequence[np.ndarray], weights: Sequence[float | np.ndarray]) -> np.ndarray:
    """``sum(weight * part)``: an ensemble's probabilities; a weight may be per label."""
    total = np.zeros_like(np.asarray(parts[0], dtype=np.float64))
    for part, weight in zip(parts, weights, strict=True):
        total = total + weight * part
    return total


def unsure_rows(first: np.ndarray, band: Sequence[float], labels: np.ndarray) -> np.ndarray:
    """Rows of ``first`` (probabilities) where a label of ``labels`` (a bool mask over
    its columns) scores strictly inside ``band`` = (low, high): the texts a cascade
    passes on to its second, slower model."""
    low, high = band
    inside = (first[:, labels] > low) & (first[:, labels] < high)
    return np.asarray(inside.any(axis=1))


def keep_near_best(chosen: np.ndarray, proba: np.ndarray, share: float) -> np.ndarray:
    """``chosen`` (0/1, as ``proba``) without the labels that score under ``share`` x
    their row's best score; ``share`` 0 keeps every one."""
    if share <= 0:
        return chosen
    return np.where(proba >= share * proba.max(axis=1, keepdims=True), chosen, 0)


def decide(
    proba: np.ndarray,
    thresholds: np.ndarray | float,
    single_label: bool,
    max_labels: int | None = None,
    relative_cut: float = 0.0,
) -> np.ndarray:
    """0/1 label matrix: every label at or over its threshold, or exactly the most
    probable label when ``single_label``. ``max_labels`` keeps at most that many of
    the chosen labels per row, the most probable first (fastText's ``-k``).
    ``relative_cut`` keeps only the labels scoring at least that share of their
    row's best score: a text's side topics drop, its main ones stay.

    >>> decide(np.array([[0.9, 0.6, 0.2]]), 0.5, False, max_labels=1).tolist()
    [[1, 0, 0]]
    >>> decide(np.array([[0.9, 0.6, 0.2], [0.9, 0.8, 0.2]]), 0.5, False, relative_cut=0.7).tolist()
    [[1, 0, 0], [1, 1, 0]]
    """
    if single_label:
        return np.eye(proba.shape[1], dtype=int)[proba.argmax(axis=1)]
    chosen = keep_near_best((proba >= thresholds).astype(int), proba, relative_cut)
    if max_labels is not None and max_labels < proba.shape[1]:
        # rank of each label within its row, most probable first (ties: column order)
        rank = np.argsort(np.argsort(-proba, axis=1, kind="stable"), axis=1, kind="stable")
        chosen[rank >= max_labels] = 0
    return chosen
