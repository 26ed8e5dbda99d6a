"""Fit every enabled model family, evaluate on the test split, export the bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from topics.config import ExperimentConfig
from topics.data.corpus import Corpus
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
    from topics.evaluate.metrics import (
        as_indicator,
        multilabel_metrics,
        out_of_fold_score,
        single_label_metrics,
        write_evaluation_report,
    )
    from topics.evaluate.plots import plot_label_confusion
    from topics.run.build import (
        fit_encoder_model,
        fit_ensemble_model,
        fit_hybrid_model,
        fit_lda_model,
        fit_tfidf_model,
    )
    from topics.run.export import export_bundle
    from topics.run.topic_runs import topic_metrics

    labels = list(train.label_names)
    y_train, y_test = train.label_matrix(), test.label_matrix()
    single = config.data.single_label
    targets = y_train.argmax(axis=1) if single else y_train  # 1-D classes: argmax prediction
    fitted = {}
    # fine_labels: the classifier learns the source classes and maps them itself
    sources = np.asarray(train.meta.get("source_label", []))
    if config.model.tfidf.enabled:
        tfidf_targets = sources if config.model.tfidf.fine_labels else targets
        fitted["tfidf"] = fit_tfidf_model(config, train.texts, tfidf_targets, labels)
    if config.model.lda.enabled:
        fitted["lda"] = fit_lda_model(config, train.texts, targets, labels)
    if config.model.hybrid.enabled:
        fitted["hybrid"] = fit_hybrid_model(
            config, fitted["tfidf"], fitted["lda"], train.texts, targets, labels
        )
    if config.model.encoder.enabled:
        encoder_targets = sources if config.model.encoder.fine_labels else targets
        fitted["encoder"] = fit_encoder_model(config, train.texts, encoder_targets, labels)
    if config.model.ensemble.enabled:
        fitted["ensemble"] = fit_ensemble_model(config, fitted["tfidf"], fitted["encoder"], y_train)

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
        classifiers={
            name: (model.features, model.export_classifier()) for name, model in fitted.items()
        },
        provenance={**provenance, "primary": primary},
        vectorizer=fitted["tfidf"].vectorizer if "tfidf" in fitted else None,
        lda=fitted["lda"].topics if "lda" in fitted else None,
        single_label=single,
    )
    return metrics
