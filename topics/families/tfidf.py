"""The ``tfidf`` family: TF-IDF n-grams -> one-vs-rest linear classifier.

The classifier is :class:`~topics.families.linear.MultiLabelLinear` (calibrated,
per-label thresholds), or :class:`~topics.families.fine_labels.FineLabelLinear`
when ``fine_labels`` learns the source classes of ``data.label_map``. The
fitted vectorizer is this family's feature block in the bundle; the ``hybrid``
and ``complement_nb`` families reuse it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator
from sklearn.pipeline import Pipeline

from topics.families.base import (
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    TrainingData,
    linear_state,
    timed_fit,
)
from topics.families.features import fit_transform_cached, make_vectorizer
from topics.families.fine_labels import FineLabelLinear
from topics.families.linear import MultiLabelLinear
from topics.text import TextAnalyzer


class TfidfSettings(Section):
    """``model.tfidf``: the TF-IDF one-vs-rest linear classifier."""

    enabled: bool = True
    classifier: Literal["linear_svc", "logreg"] = "linear_svc"
    C: float = Field(1.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    cv_folds: int = Field(5, ge=2)
    # Learn the source classes of data.label_field too (before data.label_map) and
    # stack them with the per-label models (topics/families/fine_labels.py); linear_svc only.
    fine_labels: bool = False
    # Labels with fewer training positives keep the model's own cut (score 0)
    # rather than a threshold tuned on so few examples.
    threshold_min_positives: int = Field(2, ge=2)
    # SCut.FBR: labels whose tuned threshold scores an out-of-fold F1 below this
    # keep the model's own cut too (0: off).
    threshold_min_f1: float = Field(0.0, ge=0, le=1)
    # Labels fitted at once in worker processes (-1: every core); the result is
    # the same. Worth it from thousands of documents; starting workers costs ~1 s.
    n_jobs: int = Field(1, ge=-1)
    # NBSVM: each label's columns scaled by their Naive Bayes log-count ratio, the
    # counts smoothed by this (1 in Wang and Manning, 2012); null: unscaled. Scoring
    # and the bundle are unchanged (the scaling folds into the weights).
    nb_alpha: float | None = Field(None, gt=0)
    # The precision the weights are kept in once fit, in the run and in the bundle:
    # float16 makes the largest array of a big vocabulary 4x smaller (20 Newsgroups:
    # 100 -> 25 MB) and the model scores as stored, the same in both.
    coef_dtype: Literal["float64", "float32", "float16"] = "float64"
    # One Platt sigmoid per label, or one shared by all: labels then rank as their
    # margins do (single-label data: the class of the largest margin).
    calibration: Literal["per_label", "shared"] = "per_label"

    @field_validator("n_jobs")
    @classmethod
    def _jobs_meaningful(cls, value: int) -> int:
        if value == 0:
            raise ValueError("n_jobs must be >= 1, or -1 for every core")
        return value

    @model_validator(mode="after")
    def _nb_alpha_alone(self) -> TfidfSettings:
        if self.nb_alpha is not None and self.fine_labels:
            raise ValueError("nb_alpha does not apply with fine_labels: true; set one of them")
        if self.coef_dtype != "float64" and self.fine_labels:
            raise ValueError("coef_dtype does not apply with fine_labels: true; set one of them")
        if self.calibration != "per_label" and self.fine_labels:
            raise ValueError("calibration does not apply with fine_labels: true; set one of them")
        return self


class Tfidf(Family):
    name = "tfidf"
    Settings = TfidfSettings

    def pipeline(self, settings: TfidfSettings, context: FitContext) -> Pipeline:
        """The unfitted pipeline: vectorizer, then the classifier."""
        classifier: MultiLabelLinear | FineLabelLinear
        if settings.fine_labels:
            classifier = FineLabelLinear(
                label_map=context.label_map,
                label_names=context.labels,
                C=settings.C,
                class_weight=settings.class_weight,
                cv_folds=settings.cv_folds,
                random_state=context.seed,
                n_jobs=settings.n_jobs,
            )
        else:
            classifier = MultiLabelLinear(
                classifier=settings.classifier,
                C=settings.C,
                class_weight=settings.class_weight,
                cv_folds=settings.cv_folds,
                random_state=context.seed,
                label_names=context.labels,
                threshold_min_positives=settings.threshold_min_positives,
                threshold_min_f1=settings.threshold_min_f1,
                n_jobs=settings.n_jobs,
                nb_alpha=settings.nb_alpha,
                coef_dtype=settings.coef_dtype,
                calibration=settings.calibration,
            )
        return Pipeline(
            steps=[("tfidf", make_vectorizer(**context.vectorizer)), ("classifier", classifier)],
        )

    def fit(
        self,
        settings: TfidfSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        targets = data.targets(context.single_label, settings.fine_labels)
        pipeline = self.pipeline(settings, context)
        if context.cache is None:
            return timed_fit(self.name, pipeline, ["tfidf"], data.texts, targets)
        # What Pipeline.fit does, with the fitted TF-IDF step kept in the cache
        # (JSON and .npz, keyed by the vectorizer's parameters and the texts).
        start = time.perf_counter()
        features = fit_transform_cached(
            pipeline.named_steps["tfidf"], data.texts, context.cache, context.vectorizer
        )
        pipeline.named_steps["classifier"].fit(features, targets)
        seconds = round(time.perf_counter() - start, 3)
        return FittedModel(self.name, pipeline, ["tfidf"], fit_seconds=seconds)

    def export(self, model: FittedModel) -> Exported:
        return learner_state(model.classifier)

    def feature_state(self, model: FittedModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return vectorizer_state(model.vectorizer)

    def check(
        self, settings: TfidfSettings, labels: list[str], label_map: dict | None
    ) -> str | None:
        if settings.fine_labels and not label_map:
            return "model.tfidf.fine_labels needs data.label_map (source class -> label)"
        return None

    def describe(self, settings: TfidfSettings, context: FitContext) -> str:
        low, high = context.vectorizer.get("ngram_range", (1, 1))
        nb = "" if settings.nb_alpha is None else f" nb_alpha={settings.nb_alpha:g}"
        return f"tfidf {settings.classifier} C={settings.C:g}{nb} ngrams {low}-{high}"


def learner_state(classifier: MultiLabelLinear | FineLabelLinear) -> Exported:
    """The bundle state of the tfidf model's classifier, either kind."""
    if not isinstance(classifier, FineLabelLinear):
        return linear_state(classifier)
    return Exported(
        {"kind": "fine_labels"},
        {
            "coef": classifier.coef_,
            "intercept": classifier.intercept_,
            "thresholds": classifier.thresholds_,
            "fine_coef": classifier.fine_coef_,
            "fine_intercept": classifier.fine_intercept_,
            "groups": classifier.groups_.astype(np.int64),
            "stack_w": classifier.stack_w_,
            "stack_b": classifier.stack_b_,
        },
    )


def vectorizer_state(vectorizer: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted TF-IDF vectorizer's block in the bundle: its spec and ``idf`` array,
    what :class:`topics.serve.blocks.TfidfBlock` reads."""
    analyzer = vectorizer.analyzer
    if not isinstance(analyzer, TextAnalyzer):
        raise TypeError("the bundle needs a vectorizer built on topics.text analyzers")
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        vocabulary[index] = term
    spec = {
        "analyzer": analyzer.to_dict(),
        "terms": "".join(vocabulary),
        "term_lengths": [len(term) for term in vocabulary],
        "sublinear_tf": bool(vectorizer.sublinear_tf),
        "norm": vectorizer.norm,
    }
    return spec, {"idf": vectorizer.idf_.astype(np.float64)}
