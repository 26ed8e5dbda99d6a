"""Fit every enabled model family, evaluate on the test split, export the bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from topics.config import ExperimentConfig
from topics.data.corpus import Corpus
from topics.evaluate.metrics import (
    as_indicator,
    multilabel_metrics,
    out_of_fold_score,
    single_label_metrics,
    write_evaluation_report,
)
from topics.evaluate.plots import plot_label_confusion
from topics.families.base import TrainingData
from topics.run.build import fit_families
from topics.run.export import export_bundle
from topics.run.topic_runs import topic_metrics
from topics.run.trackers import NullTracker, Tracker


def train_and_evaluate(
    config: ExperimentConfig,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    provenance: dict[str, Any],
    tracker: Tracker | None = None,
) -> dict[str, float]:
    """Fit the enabled models, evaluate on ``test``, write plots and the bundle to ``run_dir``."""
    labels = list(train.label_names)
    y_train, y_test = train.label_matrix(), test.label_matrix()
    single = config.data.single_label
    fitted = fit_families(config, TrainingData.from_corpus(train), labels)

    metrics: dict[str, float] = {}
    per_model: dict[str, dict[str, float]] = {}
    for name, model in fitted.items():
        # scored once: predictions follow from the probabilities (slow models, e.g.
        # the encoder, are not run twice over the test texts)
        proba = model.predict_proba(test.texts)
        y_pred = as_indicator(model.classifier.decide(proba), len(labels))
        per_model[name] = multilabel_metrics(y_test, y_pred, labels, prefix="test_")
        if single:
            per_model[name].update(single_label_metrics(y_test, y_pred, prefix="test_"))
        metrics.update({f"{name}_{key}": value for key, value in per_model[name].items()})
        metrics[f"{name}_fit_seconds"] = model.fit_seconds
        plot_label_confusion(
            y_test,
            y_pred,
            labels,
            run_dir / "plots" / f"{name}_label_confusion.png",
            title=f"{name}: true vs predicted labels (test)",
        )
        write_evaluation_report(
            run_dir / "plots",
            name,
            test.ids,
            test.texts,
            y_test,
            y_pred,
            proba,
            labels,
            thresholds=None if single else model.classifier.thresholds_,
        )
    # The primary model (plain test_* keys, classify's labels) is chosen on the
    # training split's out-of-fold predictions (the encoder: its held-out share of
    # train), never on test; or named by model.primary.
    for name, model in fitted.items():
        score = getattr(model.classifier, "validation_score_", None)
        if score is None:
            score = out_of_fold_score(model.classifier, y_train, single)
        metrics[f"{name}_train_cv_score"] = score
    primary: str = config.model.primary or max(
        fitted, key=lambda name: metrics[f"{name}_train_cv_score"]
    )
    metrics.update(per_model[primary])
    if "lda" in fitted:
        lda = fitted["lda"].topics
        metrics.update(topic_metrics(config, lda, train, test, run_dir, tracker or NullTracker()))
    export_bundle(
        run_dir / "model",
        labels=labels,
        primary=primary,
        models=fitted,
        provenance={**provenance, "primary": primary},
        single_label=single,
    )
    return metrics
