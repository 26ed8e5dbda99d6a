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
from topics.kernels.linear import mix, normalise_rows, unsure_rows

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)
# the cascade's bands (low, high) over the first member's probabilities; (0.5, 0.5)
# passes no text on
BAND_GRID = [(0.5, 0.5)] + [
    (low, high)
    for low in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
    for high in (0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)
]


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
    second_share : float or None
        A cascade: the second member reads only the texts where the first leaves a
        mixed label inside a band (low, high) of probability; elsewhere the first
        member's probabilities stand in for the second's. The band is the best on
        the held-out probabilities among those that pass at most this share of the
        held-out texts on. None: the second member reads every text.
    """

    def __init__(
        self,
        members: dict[str, Any] | None = None,
        weight: float | None = None,
        single_label: bool = False,
        threshold_min_positives: int | None = 5,
        first_alone_below: int = 0,
        second_share: float | None = None,
    ) -> None:
        self.members = members
        self.weight = weight
        self.single_label = single_label
        self.threshold_min_positives = threshold_min_positives
        self.first_alone_below = first_alone_below
        self.second_share = second_share

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
            self.validation_score_ = self._score(self._mix(first, second), y)
        self.band_: tuple[float, float] | None = None
        self.second_read_ = 1.0
        if self.second_share is not None:
            self._fit_band(first, second, y, self.second_share)
        return self

    def _fit_band(self, first: np.ndarray, second: np.ndarray, y: np.ndarray, share: float) -> None:
        best: tuple[float, float, tuple[float, float]] | None = None
        for band in BAND_GRID:
            rows = unsure_rows(first, band, self.label_weights_ < 1)
            read = float(rows.mean())
            if read > share:
                continue
            score = self._score(self._mix(first, np.where(rows[:, None], second, first)), y)
            # the best score; of equal scores, the band that passes fewer texts on
            if (
                best is None
                or score > best[0] + 1e-12
                or (score > best[0] - 1e-12 and read < best[1])
            ):
                best = (score, read, band)
        assert best is not None  # (0.5, 0.5) passes nothing on
        self.validation_score_, self.second_read_, self.band_ = best

    def _score(self, proba: np.ndarray, y: np.ndarray) -> float:
        """Micro-F1 of the decisions on held-out ``proba``; accuracy for single-label data."""
        if self.single_label:
            return float(np.mean(proba.argmax(axis=1) == y.argmax(axis=1)))
        return float(f1_score(y, self.decide(proba), average="micro", zero_division=0))

    def _mix(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return mix([first, second], [self.label_weights_, 1 - self.label_weights_])

    def _prepare(self, proba: np.ndarray) -> np.ndarray:
        return normalise_rows(proba) if self.single_label else np.asarray(proba, dtype=np.float64)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """The weighted mean of the members' label probabilities for texts ``X``."""
        check_is_fitted(self, "weight_")
        assert self.members is not None
        first_model, second_model = self.members.values()
        first = self._prepare(first_model.predict_proba(X))
        if self.band_ is None:
            return self._mix(first, self._prepare(second_model.predict_proba(X)))
        rows = unsure_rows(first, self.band_, self.label_weights_ < 1)
        second = first.copy()
        if rows.any():
            passed = [X[int(i)] for i in np.flatnonzero(rows)]
            second[rows] = self._prepare(second_model.predict_proba(passed))
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
    # A cascade: the encoder reads a text only where the tfidf model leaves a mixed
    # label inside a band of probability (low, high), elsewhere the tfidf model's
    # probabilities stand in for the encoder's. The band is the best on the held-out
    # share among those that pass at most this share of its texts to the encoder.
    # null: the encoder reads every text.
    encoder_share: float | None = Field(None, gt=0, le=1)


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
            second_share=settings.encoder_share,
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
        spec = {"kind": "ensemble", "members": ensemble.member_weights()}
        if ensemble.band_ is not None:
            spec["band"] = list(ensemble.band_)
        return Exported(
            spec, {"thresholds": ensemble.thresholds_, "label_weights": ensemble.label_weights_}
        )

    def describe(self, settings: EnsembleSettings, context: FitContext) -> str:
        weight = "tuned" if settings.tfidf_weight is None else f"{settings.tfidf_weight:g}"
        return f"ensemble tfidf_weight={weight}"
