"""Evaluation and topic plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def label_confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """One 2x2 confusion matrix per label, ``(n_labels, 2, 2)``: sklearn's
    ``multilabel_confusion_matrix``, ``[[tn, fp], [fn, tp]]`` for each label taken on
    its own, so a document with two labels counts in both panels, right or wrong."""
    from sklearn.metrics import multilabel_confusion_matrix

    return np.asarray(multilabel_confusion_matrix(np.asarray(y_true), np.asarray(y_pred)))


def plot_label_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str], path: Path, title: str
) -> Path:
    """A small 2x2 panel per label (:func:`label_confusion`), annotated with counts:
    rows the truth (without / with the label), columns the prediction."""
    matrices = label_confusion(y_true, y_pred)
    columns = min(4, len(label_names))
    rows = -(-len(label_names) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(2.6 * columns + 0.4, 2.5 * rows + 0.8), squeeze=False
    )
    ticks = ["no", "yes"]
    for k, ax in enumerate(axes.flat):
        if k >= len(label_names):
            ax.axis("off")
            continue
        matrix = matrices[k]
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(int(matrix.max()), 1))
        ax.set_xticks([0, 1], ticks)
        ax.set_yticks([0, 1], ticks)
        ax.set_title(label_names[k], fontsize=10)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        limit = matrix.max() / 2
        for i in range(2):
            for j in range(2):
                color = "white" if matrix[i, j] > limit else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color)
    fig.suptitle(title)
    return _save(fig, path)


def plot_top_words(
    topic_word: np.ndarray,
    vocabulary: Sequence[str],
    path: Path,
    top_n: int = 8,
    topic_names: Sequence[str] | None = None,
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
        ax.set_title(topic_names[k] if topic_names else f"topic {k}", fontsize=10)
        ax.tick_params(axis="both", labelsize=8)
    fig.suptitle("Top words per topic")
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_doc_topic_heatmap(
    theta: np.ndarray, path: Path, topic_names: Sequence[str], doc_labels: Sequence[str]
) -> Path:
    """Topic proportions of a sample of documents (rows) over topics (columns)."""
    fig, ax = plt.subplots(figsize=(0.45 * theta.shape[1] + 3, 0.22 * theta.shape[0] + 2))
    image = ax.imshow(theta, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(theta.shape[1]), topic_names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(theta.shape[0]), doc_labels, fontsize=6)
    ax.set_xlabel("topic")
    ax.set_title("Doc-topic proportions (sample)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_topic_prevalence(
    theta: np.ndarray,
    y: np.ndarray,
    label_names: Sequence[str],
    topic_names: Sequence[str],
    path: Path,
) -> Path:
    """Mean topic weight among the documents carrying each label (which topics carry it)."""
    rows = [
        theta[y[:, j] == 1].mean(axis=0) if y[:, j].any() else np.zeros(theta.shape[1])
        for j in range(len(label_names))
    ]
    matrix = np.vstack(
        [
            *rows,
            theta[y.sum(axis=1) == 0].mean(axis=0)
            if (y.sum(axis=1) == 0).any()
            else np.zeros(theta.shape[1]),
        ]
    )
    names = [*label_names, "(none)"]
    fig, ax = plt.subplots(figsize=(0.45 * theta.shape[1] + 3, 0.5 * len(names) + 2))
    image = ax.imshow(matrix, aspect="auto", cmap="Reds")
    ax.set_xticks(range(theta.shape[1]), topic_names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names)
    ax.set_title("Topic prevalence per label (mean weight)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_topics_over_time(
    periods: Sequence[str],
    shares: np.ndarray,
    topic_names: Sequence[str],
    path: Path,
    period: str = "year",
    shown: int = 10,
) -> Path:
    """Topic prevalence per period as stacked areas: the ``shown`` most prevalent
    topics by name, the others together in grey; each period stacks to 1."""
    shares = np.asarray(shares, dtype=np.float64)
    order = np.argsort(-shares.mean(axis=0), kind="stable")
    top = [int(k) for k in order[:shown]]
    rest = [int(k) for k in order[shown:]]
    layers = [shares[:, k] for k in top]
    names = [topic_names[k] for k in top]
    palette = plt.get_cmap("tab10")
    colors: list[Any] = [palette(i % 10) for i in range(len(top))]
    if rest:
        layers.append(shares[:, rest].sum(axis=1))
        names.append(f"{len(rest)} other topics")
        colors.append((0.8, 0.8, 0.8))
    fig, ax = plt.subplots(figsize=(9, 5))
    x = np.arange(len(periods))
    if len(periods) > 1:
        ax.stackplot(x, np.vstack(layers), labels=names, colors=colors, alpha=0.9)
        ax.set_xlim(0, len(periods) - 1)
    else:
        bottom = 0.0
        for layer, name, color in zip(layers, names, colors, strict=True):
            ax.bar(x, layer, bottom=bottom, label=name, color=color, width=0.5)
            bottom += float(layer[0])
    step = max(1, len(periods) // 16)
    ax.set_xticks(x[::step], [periods[i] for i in x[::step]], rotation=45, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of the documents' topic weight")
    ax.set_xlabel(period)
    ax.set_title(f"Topics over time (mean topic proportions per {period})")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    return _save(fig, path)


def plot_k_sweep(
    ks: Sequence[int],
    coherence: dict[str, Sequence[float]],
    perplexity: Sequence[float],
    best: int,
    path: Path,
) -> Path:
    """Coherence measures (left axis) and held-out perplexity (right) against K; best K marked."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in coherence.items():
        ax.plot(ks, values, marker="o", label=name)
    ax.set_xlabel("number of topics K")
    ax.set_ylabel("coherence")
    ax.axvline(best, color="grey", linestyle="--", label=f"best K={best}")
    right = ax.twinx()
    right.plot(ks, perplexity, marker="s", color="tab:red", label="held-out perplexity")
    right.set_ylabel("held-out perplexity", color="tab:red")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")
    ax.set_title("Choosing K")
    return _save(fig, path)


def plot_pr_curves(
    y_true: np.ndarray,
    scores: np.ndarray,
    label_names: Sequence[str],
    path: Path,
    model: str,
    max_labels: int = 12,
) -> Path:
    """Precision-recall curve of each label (the ``max_labels`` most frequent)
    plus the micro-average, on the test split."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y_true, scores = np.asarray(y_true), np.asarray(scores)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    frequent = np.argsort(-y_true.sum(axis=0), kind="stable")[:max_labels]
    for j in frequent:
        if y_true[:, j].sum() == 0:
            continue
        precision, recall, _ = precision_recall_curve(y_true[:, j], scores[:, j])
        ap = average_precision_score(y_true[:, j], scores[:, j])
        ax.plot(recall, precision, lw=1, label=f"{label_names[j]} (AP {ap:.2f})")
    precision, recall, _ = precision_recall_curve(y_true.ravel(), scores.ravel())
    ap = average_precision_score(y_true.ravel(), scores.ravel())
    ax.plot(recall, precision, lw=2.5, color="black", label=f"micro-average (AP {ap:.2f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    shown = "" if len(label_names) <= max_labels else f", {max_labels} most frequent labels"
    ax.set_title(f"{model}: precision-recall on test{shown}")
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def plot_threshold_f1(
    y_true: np.ndarray,
    scores: np.ndarray,
    label_names: Sequence[str],
    thresholds: np.ndarray | None,
    path: Path,
    model: str,
    max_labels: int = 8,
) -> Path:
    """Test F1 as one probability threshold sweeps 0..1: micro-F1 over all
    labels and F1 of the most frequent labels, with each label's tuned threshold
    (fit on cross-validated training scores) marked."""
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    grid = np.linspace(0.01, 0.99, 99)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    micro = [_f1(y_true.ravel(), scores.ravel() >= t) for t in grid]
    ax.plot(grid, micro, lw=2.5, color="black", label="micro-F1, one threshold for all")
    frequent = np.argsort(-y_true.sum(axis=0), kind="stable")[:max_labels]
    for j in frequent:
        curve = [_f1(y_true[:, j], scores[:, j] >= t) for t in grid]
        (line,) = ax.plot(grid, curve, lw=1, label=label_names[j])
        if thresholds is not None and j < len(thresholds):
            tuned = float(thresholds[j])
            ax.plot(
                [tuned], [_f1(y_true[:, j], scores[:, j] >= tuned)], "o", color=line.get_color()
            )
    ax.set_xlabel("probability threshold")
    ax.set_ylabel("F1 on test")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{model}: threshold vs F1 (dots: tuned thresholds)")
    ax.legend(fontsize=7, loc="lower center")
    return _save(fig, path)


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(predicted & (y == 1)))
    denominator = float(predicted.sum() + y.sum())
    return 2 * tp / denominator if denominator else 0.0
