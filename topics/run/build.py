"""The two model families of a run, built from the config as sklearn pipelines.

- ``tfidf``: TF-IDF features -> :class:`~topics.families.linear.MultiLabelLinear`.
- ``lda``: :class:`~topics.families.lda.model.LdaTopics` doc-topic proportions ->
  one-vs-rest logistic regression (also a ``MultiLabelLinear``).
- ``hybrid``: the fitted TF-IDF vectorizer and LDA of the two above, their
  columns stacked (tfidf first, then topics) -> one ``MultiLabelLinear``.
- ``encoder``: a pretrained transformer fine-tuned on the raw texts
  (:class:`~topics.families.encoder.EncoderClassifier`; torch only while training).
- ``ensemble``: the tfidf and encoder probabilities averaged
  (:class:`~topics.families.ensemble.ProbabilityEnsemble`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from topics.config import ExperimentConfig, LdaConfig
from topics.families.encoder import EncoderClassifier
from topics.families.ensemble import ProbabilityEnsemble
from topics.families.features import make_vectorizer
from topics.families.fine_labels import FineLabelLinear
from topics.families.lda.model import LdaTopics
from topics.families.linear import MultiLabelLinear
from topics.run.cache import memory


@dataclass
class FittedModel:
    """A fitted pipeline plus what the bundle needs to know about it."""

    name: str
    pipeline: Pipeline
    features: list[str]
    fit_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classifier(self) -> Any:
        """The final estimator: MultiLabelLinear, FineLabelLinear, EncoderClassifier or
        ProbabilityEnsemble."""
        return self.pipeline[-1]

    def export_classifier(self) -> MultiLabelLinear:
        """The classifier as the bundle scores it (topic columns with their weight folded in)."""
        weight = self.extra.get("lda_weight", 1.0)
        if weight == 1.0:
            return self.classifier
        exported = copy.copy(self.classifier)
        n_topics = self.extra["n_topics"]
        exported.coef_ = self.classifier.coef_.copy()
        exported.coef_[:, -n_topics:] *= weight
        return exported

    @property
    def vectorizer(self) -> TfidfVectorizer:
        return self.pipeline.named_steps["tfidf"]

    @property
    def topics(self) -> LdaTopics:
        return self.pipeline.named_steps["lda"]

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.pipeline.predict(list(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.pipeline.predict_proba(list(texts))


def tfidf_pipeline(config: ExperimentConfig, labels: list[str]) -> Pipeline:
    settings = config.model.tfidf
    classifier: MultiLabelLinear | FineLabelLinear
    if settings.fine_labels:
        classifier = FineLabelLinear(
            label_map=config.data.label_map,
            label_names=labels,
            C=settings.C,
            class_weight=settings.class_weight,
            cv_folds=settings.cv_folds,
            random_state=config.seed,
            n_jobs=settings.n_jobs,
        )
    else:
        classifier = MultiLabelLinear(
            classifier=settings.classifier,
            C=settings.C,
            class_weight=settings.class_weight,
            cv_folds=settings.cv_folds,
            random_state=config.seed,
            label_names=labels,
            threshold_min_positives=settings.threshold_min_positives,
            threshold_min_f1=settings.threshold_min_f1,
            n_jobs=settings.n_jobs,
        )
    return Pipeline(
        memory=memory(config.cache_dir),  # the fitted TF-IDF step, keyed by params + texts
        steps=[("tfidf", make_vectorizer(config.features.tfidf)), ("classifier", classifier)],
    )


def make_lda(
    settings: LdaConfig, stop_words: str | list[str] | None, random_state: int
) -> LdaTopics:
    """The topic model a ``model.lda`` config section describes."""
    return LdaTopics(
        num_topics=settings.num_topics,
        engine=settings.engine,
        passes=settings.passes,
        iterations=settings.iterations,
        alpha=settings.alpha,
        eta=settings.eta,
        seeds=dict(settings.seeds),
        seed_strength=settings.seed_strength,
        term_weight=settings.term_weight,
        optim_interval=settings.optim_interval,
        workers=settings.workers,
        phrases=settings.phrases,
        phrase_min_count=settings.phrase_min_count,
        phrase_threshold=settings.phrase_threshold,
        min_token_length=settings.min_token_length,
        stop_words=stop_words,
        no_below=settings.no_below,
        no_above=settings.no_above,
        top_n=settings.top_n,
        random_state=random_state,
    )


def lda_pipeline(config: ExperimentConfig, labels: list[str]) -> Pipeline:
    settings = config.model.lda
    return Pipeline(
        [
            ("lda", make_lda(settings, config.features.tfidf.stop_words, config.seed)),
            (
                "classifier",
                MultiLabelLinear(
                    classifier="logreg",
                    C=settings.C,
                    class_weight="balanced",
                    cv_folds=settings.cv_folds,
                    random_state=config.seed,
                    label_names=labels,
                ),
            ),
        ]
    )


def fit_tfidf_model(
    config: ExperimentConfig, texts: Sequence[str], y: np.ndarray, labels: list[str]
) -> FittedModel:
    return _fit("tfidf", tfidf_pipeline(config, labels), ["tfidf"], texts, y)


def fit_lda_model(
    config: ExperimentConfig, texts: Sequence[str], y: np.ndarray, labels: list[str]
) -> FittedModel:
    return _fit("lda", lda_pipeline(config, labels), ["lda"], texts, y)


def _fit(
    name: str, pipeline: Pipeline, features: list[str], texts: Sequence[str], y: np.ndarray
) -> FittedModel:
    start = time.perf_counter()
    pipeline.fit(list(texts), y)
    return FittedModel(name, pipeline, features, fit_seconds=round(time.perf_counter() - start, 3))


def fit_encoder_model(
    config: ExperimentConfig,
    texts: Sequence[str],
    targets: np.ndarray,
    labels: list[str],
) -> FittedModel:
    """Fine-tune ``model.encoder``; ``targets`` as the tfidf model gets them (source
    classes when ``fine_labels``, class indices for single-label data, else 0/1)."""
    settings = config.model.encoder
    encoder = EncoderClassifier(
        pretrained=settings.pretrained,
        label_names=labels,
        label_map=config.data.label_map if settings.fine_labels else None,
        single_label=config.data.single_label,
        max_length=settings.max_length,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        head_learning_rate=settings.head_learning_rate,
        weight_decay=settings.weight_decay,
        warmup=settings.warmup,
        validation_fraction=settings.validation_fraction,
        random_state=config.seed,
        threads=settings.threads,
    )
    return _fit("encoder", Pipeline([("classifier", encoder)]), ["encoder"], texts, targets)


def fit_ensemble_model(
    config: ExperimentConfig, tfidf: FittedModel, encoder: FittedModel, y: np.ndarray
) -> FittedModel:
    """Weight and thresholds fit where neither model trained: the encoder's held-out
    texts, with the tfidf model's out-of-fold probabilities there. ``y``: 0/1 labels."""
    held_out = encoder.classifier.validation_indices_
    ensemble = ProbabilityEnsemble(
        members={"tfidf": tfidf.pipeline, "encoder": encoder.pipeline},
        weight=config.model.ensemble.tfidf_weight,
        single_label=config.data.single_label,
        threshold_min_positives=config.model.ensemble.threshold_min_positives,
        first_alone_below=config.model.ensemble.tfidf_alone_below,
    )
    start = time.perf_counter()
    ensemble.fit(
        [tfidf.classifier.oof_proba_[held_out], encoder.classifier.validation_proba_],
        y[held_out],
        train_positives=y.sum(axis=0),
        first_thresholds=tfidf.classifier.thresholds_,
    )
    return FittedModel(
        "ensemble",
        Pipeline([("classifier", ensemble)]),
        [],
        fit_seconds=round(time.perf_counter() - start, 3),
    )


def fit_hybrid_model(
    config: ExperimentConfig,
    tfidf: FittedModel,
    lda: FittedModel,
    texts: Sequence[str],
    y: np.ndarray,
    labels: list[str],
) -> FittedModel:
    """One linear model on [tf-idf | lda_weight * topics], reusing both fitted transformers."""
    settings = config.model.hybrid
    features = FeatureUnion(
        [("tfidf", tfidf.vectorizer), ("lda", lda.topics)],
        transformer_weights={"tfidf": 1.0, "lda": settings.lda_weight},
    )
    classifier = MultiLabelLinear(
        classifier=settings.classifier,
        C=settings.C,
        class_weight="balanced",
        cv_folds=config.model.tfidf.cv_folds,
        random_state=config.seed,
        label_names=labels,
        n_jobs=config.model.tfidf.n_jobs,
    )
    start = time.perf_counter()
    classifier.fit(features.transform(list(texts)), y)
    pipeline = Pipeline([("features", features), ("classifier", classifier)])
    return FittedModel(
        "hybrid",
        pipeline,
        ["tfidf", "lda"],
        fit_seconds=round(time.perf_counter() - start, 3),
        extra={"lda_weight": settings.lda_weight, "n_topics": lda.topics.num_topics},
    )
