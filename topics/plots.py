"""Evaluation and topic plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def label_cooccurrence(
    y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str]
) -> np.ndarray:
    """``M[i, j]`` = documents whose true labels include ``i`` and predicted include ``j``.

    The last row/column is "(none)": documents with no true / no predicted label.
    """
    true = np.column_stack([y_true, y_true.sum(axis=1) == 0]).astype(int)
    pred = np.column_stack([y_pred, y_pred.sum(axis=1) == 0]).astype(int)
    return true.T @ pred


def plot_label_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str], path: Path, title: str
) -> Path:
    """Heatmap of :func:`label_cooccurrence`, annotated with counts."""
    matrix = label_cooccurrence(np.asarray(y_true), np.asarray(y_pred), label_names)
    names = [*label_names, "(none)"]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2.5, 1.0 * len(names) + 2))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title)
    limit = matrix.max() / 2 if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            color = "white" if matrix[i, j] > limit else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_top_words(
    topic_word: np.ndarray, vocabulary: Sequence[str], path: Path, top_n: int = 8
) -> Path:
    """One bar chart per topic: its ``top_n`` words by probability."""
    n_topics = topic_word.shape[0]
    columns = min(4, n_topics)
    rows = int(np.ceil(n_topics / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.6 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n_topics:
            ax.axis("off")
            continue
        order = np.argsort(-topic_word[k], kind="stable")[:top_n][::-1]
        ax.barh([vocabulary[i] for i in order], topic_word[k, order], color="tab:blue")
        ax.set_title(f"topic {k}", fontsize=10)
        ax.tick_params(axis="both", labelsize=8)
    fig.suptitle("Top words per topic")
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
