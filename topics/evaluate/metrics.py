"""Held-out evaluation: flat metric dicts with stable, documented keys."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def slug(label: str) -> str:
    """``"human rights"`` -> ``"human_rights"``: the form labels take in metric keys."""
    return re.sub(r"\W+", "_", label.strip().lower()).strip("_")


def multilabel_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str], prefix: str = "test_"
) -> dict[str, float]:
    """Micro/macro F1, subset accuracy and per-label precision/recall/F1.

    Keys: ``{prefix}micro_f1``, ``{prefix}macro_f1``, ``{prefix}micro_precision``,
    ``{prefix}micro_recall``, ``{prefix}subset_accuracy``, and for every label
    ``{prefix}precision_<label>``, ``{prefix}recall_<label>``, ``{prefix}f1_<label>``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0
    )
    micro_p, micro_r, micro_f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="micro", zero_division=0
    )
    metrics = {
        f"{prefix}micro_f1": float(micro_f1),
        f"{prefix}macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        f"{prefix}micro_precision": float(micro_p),
        f"{prefix}micro_recall": float(micro_r),
        f"{prefix}subset_accuracy": float(accuracy_score(y_true, y_pred)),
    }
    for j, label in enumerate(label_names):
        name = slug(label)
        metrics[f"{prefix}precision_{name}"] = float(precision[j])
        metrics[f"{prefix}recall_{name}"] = float(recall[j])
        metrics[f"{prefix}f1_{name}"] = float(f1[j])
    return metrics


def out_of_fold_score(classifier: Any, y_train: np.ndarray, single_label: bool) -> float:
    """Micro-F1 (single-label data: accuracy) of a classifier's out-of-fold
    predictions on its own training split (``oof_proba_``, thresholds applied):
    a train-only figure for choosing between models."""
    oof = classifier.oof_proba_
    if single_label:
        return float(np.mean(oof.argmax(axis=1) == y_train.argmax(axis=1)))
    predicted = (oof >= classifier.thresholds_).astype(int)
    return float(f1_score(y_train, predicted, average="micro", zero_division=0))


def per_label_rows(
    y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str]
) -> list[dict[str, float | str | int]]:
    """One row per label: precision, recall, F1 and support (true positives count)."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0
    )
    return [
        {
            "label": label,
            "precision": float(precision[j]),
            "recall": float(recall[j]),
            "f1": float(f1[j]),
            "support": int(support[j]),
        }
        for j, label in enumerate(label_names)
    ]


def as_indicator(y_pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Predictions as a ``(n_docs, n_labels)`` 0/1 matrix: 1-D class indices
    (single-label models) become one-hot rows; matrices pass through."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        return y_pred.astype(int)
    return np.eye(n_labels, dtype=int)[y_pred.astype(int)]


def single_label_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, prefix: str = "test_"
) -> dict[str, float]:
    """``{prefix}accuracy`` for one-label-per-document data (one-hot rows)."""
    return {f"{prefix}accuracy": float(np.mean(y_true.argmax(axis=1) == y_pred.argmax(axis=1)))}


def confident_errors(
    ids: Sequence[str],
    texts: Sequence[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray,
    label_names: Sequence[str],
    n: int = 20,
    snippet_chars: int = 200,
) -> list[dict[str, str | float]]:
    """The ``n`` wrong documents the model was surest about.

    A document is wrong when its predicted label set differs from the true one;
    its confidence is the largest score among wrongly assigned labels or
    ``1 - score`` among missed ones.
    """
    y_true, y_pred, scores = np.asarray(y_true), np.asarray(y_pred), np.asarray(scores)
    wrong_in = (y_pred == 1) & (y_true == 0)
    missed = (y_pred == 0) & (y_true == 1)
    confidence = np.maximum(
        np.where(wrong_in, scores, -np.inf).max(axis=1),
        np.where(missed, 1.0 - scores, -np.inf).max(axis=1),
    )
    wrong = np.flatnonzero(np.isfinite(confidence))
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:n]

    def names(row: np.ndarray) -> str:
        return "|".join(label_names[int(j)] for j in np.flatnonzero(row)) or "(none)"

    return [
        {
            "id": ids[int(i)],
            "confidence": round(float(confidence[i]), 6),
            "true": names(y_true[i]),
            "predicted": names(y_pred[i]),
            "text": " ".join(texts[int(i)].split())[:snippet_chars],
        }
        for i in order
    ]


def set_documents(
    ids: Sequence[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray,
    label_names: Sequence[str],
    behind: Sequence[Mapping[str, str]],
) -> list[dict[str, Any]]:
    """One row per document of a small labelled set (``data.extra_test``): its gold and
    predicted labels, those given wrongly and those missed, each label's score and, for
    each predicted label a passage gave (``behind``: per document each label's best
    passage, ``{}`` when read whole), that passage."""
    y_true, y_pred = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)

    def names(row: np.ndarray) -> str:
        return "|".join(label_names[int(j)] for j in np.flatnonzero(row))

    rows = []
    for i, doc_id in enumerate(ids):
        row: dict[str, Any] = {
            "id": doc_id,
            "gold": names(y_true[i]),
            "predicted": names(y_pred[i]),
            "false": names(y_pred[i] & ~y_true[i]),
            "missed": names(y_true[i] & ~y_pred[i]),
        }
        for j, label in enumerate(label_names):
            row[f"score_{slug(label)}"] = round(float(scores[i, j]), 4)
        for j, label in enumerate(label_names):
            row[f"passage_{slug(label)}"] = behind[i].get(label, "") if y_pred[i, j] else ""
        rows.append(row)
    return rows


def write_set_documents(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """:func:`set_documents`' rows as a CSV file (``plots/<set>_documents.csv``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_csv(path, rows)


def write_evaluation_report(
    directory: Path,
    model: str,
    ids: Sequence[str],
    texts: Sequence[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray,
    label_names: Sequence[str],
    thresholds: np.ndarray | None = None,
) -> list[Path]:
    """Write the per-label table, the confident errors (CSV) and the PR and
    threshold-vs-F1 plots of one model on the test split into ``directory``."""
    from topics.evaluate.plots import plot_pr_curves, plot_threshold_f1

    directory.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = list(per_label_rows(y_true, y_pred, label_names))
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        rows.append(
            {"label": f"({average})", "precision": p, "recall": r, "f1": f,
             "support": int(np.asarray(y_true).sum())}
        )  # fmt: skip
    written = [
        _write_csv(directory / f"{model}_per_label.csv", rows),
        _write_csv(
            directory / f"{model}_confident_errors.csv",
            confident_errors(ids, texts, y_true, y_pred, scores, label_names),
        ),
        plot_pr_curves(y_true, scores, label_names, directory / f"{model}_pr_curves.png", model),
        plot_threshold_f1(
            y_true, scores, label_names, thresholds, directory / f"{model}_threshold_f1.png", model
        ),
    ]
    return written


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    import csv

    columns = list(rows[0]) if rows else ["id", "confidence", "true", "predicted", "text"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()})
    return path
