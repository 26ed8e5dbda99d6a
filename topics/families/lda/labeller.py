"""LDA as a labeller: seeded topics named after labels tag documents, no training labels needed.

A document gets label ``l`` when the weight of the seeded topic named ``l`` reaches
a threshold: one fixed threshold (labels-free), or per-label thresholds tuned on
labelled documents when there are some.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def seeded_columns(topic_names: Sequence[str], labels: Sequence[str]) -> list[int | None]:
    """For each label, the column of its seeded topic (None if the label has no seeds)."""
    index = {name: k for k, name in enumerate(topic_names)}
    return [index.get(label) for label in labels]


def label_by_topics(
    theta: np.ndarray,
    columns: Sequence[int | None],
    thresholds: float | Sequence[float] | np.ndarray,
) -> np.ndarray:
    """0/1 ``(n_docs, n_labels)``: label j where ``theta[:, columns[j]] >= threshold``."""
    limits = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (len(columns),))
    y = np.zeros((theta.shape[0], len(columns)), dtype=np.int64)
    for j, k in enumerate(columns):
        if k is not None:
            y[:, j] = theta[:, k] >= limits[j]
    return y


def tune_thresholds(
    theta: np.ndarray, y: np.ndarray, columns: Sequence[int | None], default: float
) -> np.ndarray:
    """Per label, the threshold on its topic weight that maximises F1 on ``(theta, y)``."""
    thresholds = np.full(len(columns), default)
    for j, k in enumerate(columns):
        if k is None or y[:, j].sum() == 0:
            continue
        scores = theta[:, k]
        order = np.argsort(-scores, kind="stable")
        hits = np.cumsum(y[order, j])
        precision = hits / np.arange(1, len(order) + 1)
        recall = hits / y[:, j].sum()
        f1 = np.where(hits > 0, 2 * precision * recall / (precision + recall + 1e-12), 0.0)
        best = int(np.argmax(f1))
        thresholds[j] = float(scores[order[best]])
    return thresholds
