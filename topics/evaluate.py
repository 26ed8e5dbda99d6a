"""Held-out evaluation: flat metric dicts with stable, documented keys."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
