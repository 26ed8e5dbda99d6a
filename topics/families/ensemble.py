"""Probability averaging across fitted models (``model.ensemble``).

The encoder reads word order and context; the TF-IDF model reads every word of a
long text. Their mistakes differ, so a weighted mean of their label
probabilities beats both. The weight and the per-label thresholds are fit on
probabilities neither model was trained on: the encoder's held-out share of
train, where the TF-IDF model's out-of-fold probabilities are its own. The test
split is never seen.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import Field
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from topics.families.base import (
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    TrainingData,
)
from topics.families.calibration import held_out_cuts
from topics.kernels.linear import mix, normalise_rows

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)


class ProbabilityEnsemble(ClassifierMixin, BaseEstimator):
    """``weight * first + (1 - weight) * second`` of two fitted models' probabilities.

    Parameters
    ----------
    members : dict
        Two fitted models taking raw texts (``predict_proba``), in order.
    weight : float or None
        The first member's share; None: the best of 0, 0.1, ..., 1 on the held-out
        probabilities (micro-F1; accuracy for single-label data).
    single_label : bool
        Each member's probabilities are normalised to sum to 1 before mixing, and
        the prediction is the most probable label.
    threshold_min_positives : int or None
        Labels with fewer held-out positives keep the cut 0.5; None: every label.
    first_alone_below : int
        Multi-label data: labels with fewer training positives than this are scored
        by the first member alone, at its own thresholds (a held-out share has too
        few of their documents to mix on).
    """

    def __init__(
        self,
        members: dict[str, Any] | None = None,
        weight: float | None = None,
        single_label: bool = False,
        threshold_min_positives: int | None = 5,
        first_alone_below: int = 0,
    ) -> None:
        self.members = members
        self.weight = weight
        self.single_label = single_label
        self.threshold_min_positives = threshold_min_positives
        self.first_alone_below = first_alone_below

    def fit(
        self,
        held_out: Sequence[np.ndarray],
        y: np.ndarray,
        train_positives: np.ndarray | None = None,
        first_thresholds: np.ndarray | None = None,
    ) -> ProbabilityEnsemble:
        """Fit the weight and thresholds on each member's held-out probabilities
        ``(n, n_labels)`` and the true 0/1 labels ``y`` of those documents;
        ``first_alone_below`` also needs each label's ``train_positives`` and the
        first member's own ``first_thresholds``."""
        first, second = (self._prepare(p) for p in held_out)
        y = np.asarray(y)
        weights = WEIGHT_GRID if self.weight is None else np.array([self.weight])
        min_positives = self.threshold_min_positives or np.inf
        best: tuple[float, float, np.ndarray] | None = None
        for weight in weights:
            proba = mix([first, second], [weight, 1 - weight])
            thresholds, score = held_out_cuts(proba, y, self.single_label, min_positives)
            if best is None or score > best[0] + 1e-12:
                best = (score, float(weight), thresholds)
        assert best is not None
        self.validation_score_, self.weight_, self.thresholds_ = best
        self.label_weights_ = np.full(y.shape[1], self.weight_)
        if self.first_alone_below and not self.single_label:
            if train_positives is None or first_thresholds is None:
                raise ValueError("first_alone_below needs train_positives and first_thresholds")
            alone = np.asarray(train_positives) < self.first_alone_below
            self.label_weights_[alone] = 1.0
            self.thresholds_ = np.where(alone, first_thresholds, self.thresholds_)
            predicted = self.decide(self._mix(first, second))
            self.validation_score_ = float(f1_score(y, predicted, average="micro", zero_division=0))
        return self

    def _mix(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return mix([first, second], [self.label_weights_, 1 - self.label_weights_])

    def _prepare(self, proba: np.ndarray) -> np.ndarray:
        return normalise_rows(proba) if self.single_label else np.asarray(proba, dtype=np.float64)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """The weighted mean of the members' label probabilities for texts ``X``."""
        check_is_fitted(self, "weight_")
        assert self.members is not None
        first, second = (self._prepare(m.predict_proba(X)) for m in self.members.values())
        return self._mix(first, second)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """0/1 label matrix (single-label data: the class indices)."""
        return self.decide(self.predict_proba(X))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """What :meth:`predict` returns, from :meth:`predict_proba`'s output."""
        if self.single_label:
            return proba.argmax(axis=1)
        return (proba >= self.thresholds_).astype(int)

    def member_weights(self) -> dict[str, float]:
        """``{member name: share}``, as the bundle stores them (labels scored by the
        first member alone: ``label_weights_``)."""
        check_is_fitted(self, "weight_")
        assert self.members is not None
        first, second = self.members
        return {first: self.weight_, second: 1 - self.weight_}


class EnsembleSettings(Section):
    """The tfidf and encoder models' probabilities averaged."""

    enabled: bool = False
    # The tfidf model's share; null: the best of 0, 0.1, ..., 1 on the encoder's
    # held-out share of train.
    tfidf_weight: float | None = Field(None, ge=0, le=1)
    # Multi-label data: labels with at least this many held-out positives get their
    # F1-optimal cut there, the others 0.5; null: every label keeps 0.5.
    threshold_min_positives: int | None = Field(5, ge=1)
    # Multi-label data: labels with fewer training positives than this are scored
    # by the tfidf model alone, at its own thresholds; 0: none.
    tfidf_alone_below: int = Field(0, ge=0)


class Ensemble(Family):
    name = "ensemble"
    Settings = EnsembleSettings
    requires = ("tfidf", "encoder")

    def fit(
        self,
        settings: EnsembleSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        """Weight and thresholds fit where neither model trained: the encoder's held-out
        texts, with the tfidf model's out-of-fold probabilities there."""
        tfidf, encoder = fitted["tfidf"], fitted["encoder"]
        held_out = encoder.classifier.validation_indices_
        ensemble = ProbabilityEnsemble(
            members={"tfidf": tfidf, "encoder": encoder},
            weight=settings.tfidf_weight,
            single_label=context.single_label,
            threshold_min_positives=settings.threshold_min_positives,
            first_alone_below=settings.tfidf_alone_below,
        )
        start = time.perf_counter()
        ensemble.fit(
            [tfidf.classifier.oof_proba_[held_out], encoder.classifier.validation_proba_],
            data.y[held_out],
            train_positives=data.y.sum(axis=0),
            first_thresholds=tfidf.classifier.thresholds_,
        )
        return FittedModel(
            self.name,
            Pipeline([("classifier", ensemble)]),
            [],
            fit_seconds=round(time.perf_counter() - start, 3),
        )

    def export(self, model: FittedModel) -> Exported:
        ensemble = model.classifier
        return Exported(
            {"kind": "ensemble", "members": ensemble.member_weights()},
            {"thresholds": ensemble.thresholds_, "label_weights": ensemble.label_weights_},
        )

    def describe(self, settings: EnsembleSettings, context: FitContext) -> str:
        weight = "tuned" if settings.tfidf_weight is None else f"{settings.tfidf_weight:g}"
        return f"ensemble tfidf_weight={weight}"
