"""A trained bundle scored on labelled data: the metrics, tables and plots of a run.

``topics evaluate`` scores texts with the bundle's numpy :class:`Predictor` and its
own thresholds, then measures every model of the bundle as a run measures it on its
test split (:func:`topics.evaluate.metrics.multilabel_metrics`, the same per-label
table, confident errors and plots), so the run's own test data gives back the run's
``test_*`` metrics exactly.

>>> from topics.serve.predictor import Predictor                          # doctest: +SKIP
>>> predictor = Predictor.load("artifacts/latest")                        # doctest: +SKIP
>>> scores = evaluate_bundle(predictor, ids, texts, y_true, Path("out"))  # doctest: +SKIP
>>> scores.flat()["test_micro_f1"]                                        # doctest: +SKIP
0.955...
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from topics import progress
from topics.evaluate.metrics import (
    as_indicator,
    multilabel_metrics,
    single_label_metrics,
    write_evaluation_report,
)
from topics.evaluate.plots import plot_label_confusion
from topics.evaluate.run_metrics import RunMetrics
from topics.kernels.linear import decide, normalise_rows
from topics.kernels.passages import best_of, split_passages
from topics.serve.blocks import Batch

__all__ = ["CHUNK", "evaluate_bundle", "score_models"]

CHUNK = 1024  # texts scored at once: memory stays flat on large data
PLOTS = "plots"


def score_models(
    predictor: Any, texts: Sequence[str], passages: int | None = None
) -> dict[str, np.ndarray]:
    """Every model's label probabilities ``(n_texts, n_labels)``, by model name.

    Texts are scored in chunks of :data:`CHUNK` (a progress bar on a terminal); in
    each chunk every feature block and every model is computed once, so an ensemble
    reuses its members' scores. Long texts are scored by passage as ``passages``
    says (default: the bundle's, as :meth:`Predictor.predict_proba`). Single-label
    bundles give rows that sum to 1, as :meth:`Predictor.predict_proba` does.
    """
    words = predictor.passages if passages is None else passages
    parts: dict[str, list[np.ndarray]] = {name: [] for name in predictor.models}
    chunks = range(0, len(texts), CHUNK)
    for start in progress.progress(chunks, desc="evaluate", unit="chunk"):
        flat, starts = split_passages(texts[start : start + CHUNK], words)
        for name, proba in _score_batch(predictor, Batch(flat, predictor.blocks)).items():
            if len(flat) != len(starts):  # some texts by passage
                proba = best_of(proba, starts, predictor.passage_support)
                proba = normalise_rows(proba) if predictor.single_label else proba
            parts[name].append(proba)
    n_labels = len(predictor.labels)
    return {
        name: np.vstack(chunks) if chunks else np.zeros((0, n_labels))
        for name, chunks in parts.items()
    }


def _score_batch(predictor: Any, batch: Batch) -> dict[str, np.ndarray]:
    scored: dict[str, np.ndarray] = {}

    def score(name: str, same: Batch) -> np.ndarray:
        if name not in scored:
            proba = predictor.models[name].scores(same, score)
            scored[name] = normalise_rows(proba) if predictor.single_label else proba
        return scored[name]

    for name in predictor.models:
        score(name, batch)
    return scored


def evaluate_bundle(
    predictor: Any,
    ids: Sequence[str],
    texts: Sequence[str],
    y_true: np.ndarray,
    directory: Path,
    passages: int | None = None,
    relative_cut: float | None = None,
) -> RunMetrics:
    """Score ``texts`` with every model of ``predictor`` and measure them against
    ``y_true`` (``(n_texts, n_labels)`` 0/1, columns in ``predictor.labels`` order).

    Each model's labels are decided with its own fitted thresholds (single-label
    bundles: the most probable label) and ``relative_cut`` (default: the bundle's),
    as ``classify`` decides them. Writes into
    ``directory/plots`` what a run writes for its test split, per model:
    ``<model>_per_label.csv``, ``<model>_confident_errors.csv``, the per-label
    confusion, PR and threshold-vs-F1 plots. ``passages``: as :func:`score_models`.

    Returns
    -------
    RunMetrics
        ``models[name]["test"]``: the metrics a run reports for its test split
        (``micro_f1``, ``macro_f1``, ..., ``accuracy`` when single-label);
        ``primary``: the bundle's primary model (its metrics flatten to ``test_*``).
    """
    labels = list(predictor.labels)
    y_true = np.asarray(y_true)
    if y_true.shape != (len(texts), len(labels)):
        raise ValueError(
            f"y_true must have shape ({len(texts)}, {len(labels)}), one row per text and "
            f"one column per label of the model; got {y_true.shape}"
        )
    plots = directory / PLOTS
    plots.mkdir(parents=True, exist_ok=True)
    scores = RunMetrics(primary=predictor.primary)
    single = predictor.single_label
    share = predictor.relative_cut if relative_cut is None else relative_cut
    for name, proba in score_models(predictor, texts, passages).items():
        thresholds = predictor.models[name].thresholds
        y_pred = as_indicator(decide(proba, thresholds, single, relative_cut=share), len(labels))
        held_out = multilabel_metrics(y_true, y_pred, labels, prefix="")
        if single:
            held_out.update(single_label_metrics(y_true, y_pred, prefix=""))
        scores.models[name] = {"test": held_out}
        plot_label_confusion(
            y_true,
            y_pred,
            labels,
            plots / f"{name}_label_confusion.png",
            title=f"{name}: per-label confusion (evaluated data)",
        )
        write_evaluation_report(
            plots,
            name,
            ids,
            texts,
            y_true,
            y_pred,
            proba,
            labels,
            thresholds=None if single else thresholds,
        )
    return scores
