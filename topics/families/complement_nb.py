"""The ``complement_nb`` family: Complement Naive Bayes on the TF-IDF features.

A fast, classic text baseline (Rennie et al., 2003, "Tackling the poor
assumptions of naive Bayes text classifiers") to compare the linear SVM
against: one ComplementNB per label, one-vs-rest, on the ``tfidf`` family's
fitted vectorizer. Its two-class log-likelihood ratio is linear in the
features, so :class:`~topics.families.linear.MultiLabelLinear` calibrates and
thresholds it like any other margin, and the bundle scores it as ``linear``.

>>> # model: {tfidf: {enabled: true}, complement_nb: {enabled: true, alpha: 0.3}}
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline

from topics.families.base import (
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    TrainingData,
    linear_state,
)
from topics.families.linear import MultiLabelLinear


class ComplementNBMargins(ComplementNB):
    """A two-class ComplementNB seen as a linear model: ``decision_function`` is the
    log-likelihood ratio of class 1 over class 0, ``X @ coef_.T + intercept_``."""

    @property
    def coef_(self) -> np.ndarray:
        return (self.feature_log_prob_[1] - self.feature_log_prob_[0])[None, :]

    @property
    def intercept_(self) -> np.ndarray:
        return np.zeros(1)  # ComplementNB adds no class prior when it has two classes

    def decision_function(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self.coef_.T).ravel() + self.intercept_[0]


class ComplementNBSettings(Section):
    """``model.complement_nb``: a Complement Naive Bayes baseline on the TF-IDF features."""

    alpha: float = Field(1.0, gt=0)  # additive (Laplace/Lidstone) smoothing
    norm: bool = False  # the second weight normalisation of the paper
    cv_folds: int = Field(5, ge=2)  # calibration and thresholds, train split only


class ComplementNaiveBayes(Family):
    name = "complement_nb"
    Settings = ComplementNBSettings
    requires = ("tfidf",)

    def fit(
        self,
        settings: ComplementNBSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        vectorizer = fitted["tfidf"].vectorizer
        classifier = MultiLabelLinear(
            classifier=ComplementNBMargins(alpha=settings.alpha, norm=settings.norm),
            cv_folds=settings.cv_folds,
            random_state=context.seed,
            label_names=context.labels,
        )
        start = time.perf_counter()
        classifier.fit(vectorizer.transform(data.texts), data.targets(context.single_label))
        return FittedModel(
            self.name,
            Pipeline([("tfidf", vectorizer), ("classifier", classifier)]),
            ["tfidf"],
            fit_seconds=round(time.perf_counter() - start, 3),
        )

    def export(self, model: FittedModel) -> Exported:
        return linear_state(model.classifier)

    def describe(self, settings: ComplementNBSettings, context: FitContext) -> str:
        return f"complement_nb alpha={settings.alpha:g}"
