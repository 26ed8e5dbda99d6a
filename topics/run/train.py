"""Fit every enabled model family, evaluate on the test split, export the bundle."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from topics import progress
from topics.config import ExperimentConfig
from topics.data.corpus import Corpus
from topics.evaluate.embedding_topic_report import (
    TOPIC_TABLE,
    embedding_topic_metrics,
    embedding_topic_view,
)
from topics.evaluate.metrics import (
    as_indicator,
    multilabel_metrics,
    out_of_fold_score,
    set_documents,
    single_label_metrics,
    write_evaluation_report,
    write_set_documents,
)
from topics.evaluate.plots import plot_label_confusion
from topics.evaluate.run_metrics import RunMetrics
from topics.evaluate.topic_view import SUFFIX, write_topic_view
from topics.families.base import FittedModel, TrainingData
from topics.kernels.linear import keep_near_best
from topics.kernels.passages import best_of, best_passages, by_passage, split_passages
from topics.run.build import fit_families
from topics.run.export import export_bundle
from topics.run.topic_runs import gold_corpus, log_topic_names, over_time_outputs, topic_metrics
from topics.run.trackers import NullTracker, Tracker


def train_and_evaluate(
    config: ExperimentConfig,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    provenance: dict[str, Any],
    tracker: Tracker | None = None,
    unlabelled: Sequence[str] = (),
) -> RunMetrics:
    """Fit the enabled models, evaluate on ``test``, write plots and the bundle to ``run_dir``.

    ``unlabelled``: the train texts left out of ``data.train_sample``
    (:attr:`TrainingData.unlabelled`, for the families that read it).
    """
    labels = list(train.label_names)
    y_train = train.label_matrix()
    single = config.data.single_label
    fitted = fit_families(config, TrainingData.from_corpus(train, unlabelled), labels)
    if tracker is not None:
        log_history(tracker, fitted)

    scores = RunMetrics()
    predictions: dict[str, Any] = {}
    progress.stage(f"evaluate on {len(test)} test documents")
    for name, model in fitted.items():
        scores.models[name], predictions[name] = evaluate_model(
            config, name, model, labels, y_train, test, run_dir
        )
    scores.primary = config.model.primary or max(
        fitted, key=lambda name: scores.split(name, "train")["cv_score"]
    )
    for set_name, path in config.data.extra_test.items():
        primary = fitted[scores.primary]
        scores.run.update(extra_test_metrics(config, set_name, path, primary, run_dir))
    for name, model in fitted.items():
        report = TOPIC_REPORTS.get(name)
        if report is not None:  # a topic model family: its run-level topic metrics
            scores.run.update(report(config, model, train, test, run_dir, tracker or NullTracker()))
    if config.data.date_field:
        over_time_outputs(
            config,
            fitted["lda"].topics if "lda" in fitted else None,
            train,
            test,
            predictions[scores.primary],
            run_dir / "plots",
        )
    progress.stage("export the model bundle")
    export_bundle(
        run_dir / "model",
        labels=labels,
        primary=scores.primary,
        models=fitted,
        provenance={**provenance, "primary": scores.primary},
        single_label=single,
        passages=config.model.passages,
        passage_support=config.model.passage_support,
        relative_cut=config.model.relative_cut,
        held_out_texts=test.texts,
        keep=[scores.primary] if config.model.bundle == "primary" else None,
    )
    return scores


def evaluate_model(
    config: ExperimentConfig,
    name: str,
    model: FittedModel,
    labels: list[str],
    y_train: np.ndarray,
    test: Corpus,
    run_dir: Path,
) -> tuple[dict[str, Any], np.ndarray]:
    """One fitted model's metrics (test, fit time, train score) and its test
    predictions; its confusion plot and evaluation report go to ``run_dir/plots``."""
    y_test = test.label_matrix()
    single = config.data.single_label
    # scored once: predictions follow from the probabilities (slow models, e.g.
    # the encoder, are not run twice over the test texts)
    words, support = config.model.passages, config.model.passage_support
    proba = by_passage(model.predict_proba, test.texts, words, support)
    y_pred = decided(model, proba, config.model.relative_cut)
    held_out = multilabel_metrics(y_test, y_pred, labels, prefix="")
    if single:
        held_out.update(single_label_metrics(y_test, y_pred, prefix=""))
    # The primary model (plain test_* keys, classify's labels) is chosen on the
    # training split's out-of-fold predictions (the encoder: its held-out share
    # of train), never on test; or named by model.primary.
    train_score = getattr(model.classifier, "validation_score_", None)
    if train_score is None:
        train_score = out_of_fold_score(model.classifier, y_train, single)
    plot_label_confusion(
        y_test,
        y_pred,
        labels,
        run_dir / "plots" / f"{name}_label_confusion.png",
        title=f"{name}: per-label confusion (test)",
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
    metrics = {
        "test": held_out,
        "fit": {"seconds": model.fit_seconds},
        "train": {"cv_score": train_score},
    }
    read = getattr(model.classifier, "second_read_", None)  # an ensemble's, held out
    if read is not None:
        metrics["train"]["encoder_read"] = read
    return metrics, y_pred


def decided(model: FittedModel, proba: np.ndarray, relative_cut: float) -> np.ndarray:
    """``model``'s 0/1 labels from its probabilities ``proba``: its own decision (its
    thresholds), then ``model.relative_cut``, as the bundle decides."""
    chosen = as_indicator(model.classifier.decide(proba), proba.shape[1])
    return keep_near_best(chosen, proba, relative_cut)


def extra_test_metrics(
    config: ExperimentConfig, set_name: str, path: str, model: FittedModel, run_dir: Path
) -> dict[str, float]:
    """The primary model on one of ``data.extra_test``'s sets: micro and macro F1,
    the gold labels it finds and the labels it gives wrongly; each document's labels
    (and the passage behind each) in ``plots/<set>_documents.csv``."""
    corpus = gold_corpus(config, set_name, path)
    truth = corpus.label_matrix()
    passages, starts = split_passages(corpus.texts, config.model.passages)  # as by_passage
    passage_proba = model.predict_proba(passages)
    support = config.model.passage_support
    proba = best_of(passage_proba, starts, support)
    predicted = decided(model, proba, config.model.relative_cut)
    labels = corpus.label_names
    behind = best_passages(passages, starts, passage_proba, labels, support)
    rows = set_documents(corpus.ids, truth, predicted, proba, labels, behind)
    write_set_documents(run_dir / "plots" / f"{set_name}_documents.csv", rows)
    held_out = multilabel_metrics(truth, predicted, labels, prefix=f"{set_name}_")
    return {
        f"{set_name}_micro_f1": held_out[f"{set_name}_micro_f1"],
        f"{set_name}_macro_f1": held_out[f"{set_name}_macro_f1"],
        f"{set_name}_labels_found": float((truth & predicted).sum()),
        f"{set_name}_gold_labels": float(truth.sum()),
        f"{set_name}_false_labels": float((predicted & (1 - truth)).sum()),
    }


TopicReport = Callable[[ExperimentConfig, FittedModel, Corpus, Corpus, Path, Tracker], dict]


def lda_topic_report(
    config: ExperimentConfig,
    model: FittedModel,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    tracker: Tracker,
) -> dict[str, float]:
    """``lda_*``: :func:`topics.run.topic_runs.topic_metrics` (labeller, stability, K sweep)."""
    return topic_metrics(config, model.topics, train, test, run_dir, tracker)


def embedding_topic_report(
    config: ExperimentConfig,
    model: FittedModel,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    tracker: Tracker,
) -> dict[str, float]:
    """``embedding_topics_*``: the LDA side's quality metrics of the embedding topics,
    and their topic view in the report."""
    topics = model.pipeline.named_steps["embedding_topics"]
    plots = run_dir / "plots"
    write_topic_view(plots / f"embedding_topics{SUFFIX}", embedding_topic_view(topics, train))
    log_topic_names(tracker, topics.topic_names_, prefix="topics.embedding_topics.topic")
    return embedding_topic_metrics(topics, train.texts, plots / TOPIC_TABLE)


# The families that are topic models, and the run-level report of each.
TOPIC_REPORTS: dict[str, TopicReport] = {
    "lda": lda_topic_report,
    "embedding_topics": embedding_topic_report,
}


def log_history(tracker: Tracker, fitted: Mapping[str, FittedModel]) -> None:
    """Each fitted estimator's training curve (its ``history_``) as stepped metrics
    ``<model>_<name>``: ``encoder_epoch_train_loss`` per epoch,
    ``lda_log_likelihood_per_word`` per pass (gensim) or Gibbs sweeps (tomotopy)."""
    seen: set[int] = set()
    for name, model in fitted.items():
        for _, estimator in model.pipeline.steps:
            history = getattr(estimator, "history_", None)
            if not history or id(estimator) in seen:  # a shared step is logged once
                continue
            seen.add(id(estimator))
            for record in history:
                values = {f"{name}_{key}": value for key, value in record.items() if key != "step"}
                tracker.log_metrics(values, step=int(record["step"]))
