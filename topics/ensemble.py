"""Probability averaging across fitted models (``model.ensemble``).

The encoder reads word order and context; the TF-IDF model reads every word of a
long text. Their mistakes differ, so a weighted mean of their label
probabilities beats both. The weight and the per-label thresholds are fit on
probabilities neither model was trained on: the encoder's held-out share of
train, where the TF-IDF model's out-of-fold probabilities are its own. The test
split is never seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from topics.classifiers import held_out_cuts

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)


def _normalise(proba: np.ndarray) -> np.ndarray:
    return proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)


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
    threshold_min_positives : int
        Labels with fewer held-out positives keep the cut 0.5.
    """

    def __init__(
        self,
        members: dict[str, Any] | None = None,
        weight: float | None = None,
        single_label: bool = False,
        threshold_min_positives: int = 5,
    ) -> None:
        self.members = members
        self.weight = weight
        self.single_label = single_label
        self.threshold_min_positives = threshold_min_positives

    def fit(self, held_out: Sequence[np.ndarray], y: np.ndarray) -> ProbabilityEnsemble:
        """Fit the weight and thresholds on each member's held-out probabilities
        ``(n, n_labels)`` and the true 0/1 labels ``y`` of those documents."""
        first, second = (self._prepare(p) for p in held_out)
        y = np.asarray(y)
        weights = WEIGHT_GRID if self.weight is None else np.array([self.weight])
        best: tuple[float, float, np.ndarray] | None = None
        for weight in weights:
            proba = weight * first + (1 - weight) * second
            thresholds, score = held_out_cuts(
                proba, y, self.single_label, self.threshold_min_positives
            )
            if best is None or score > best[0] + 1e-12:
                best = (score, float(weight), thresholds)
        assert best is not None
        self.validation_score_, self.weight_, self.thresholds_ = best
        return self

    def _prepare(self, proba: np.ndarray) -> np.ndarray:
        return _normalise(proba) if self.single_label else np.asarray(proba, dtype=np.float64)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """The weighted mean of the members' label probabilities for texts ``X``."""
        check_is_fitted(self, "weight_")
        assert self.members is not None
        first, second = (self._prepare(m.predict_proba(X)) for m in self.members.values())
        return self.weight_ * first + (1 - self.weight_) * second

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """0/1 label matrix (single-label data: the class indices)."""
        return self.decide(self.predict_proba(X))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """What :meth:`predict` returns, from :meth:`predict_proba`'s output."""
        if self.single_label:
            return proba.argmax(axis=1)
        return (proba >= self.thresholds_).astype(int)

    def member_weights(self) -> dict[str, float]:
        """``{member name: share}``, as the bundle stores them."""
        check_is_fitted(self, "weight_")
        assert self.members is not None
        first, second = self.members
        return {first: self.weight_, second: 1 - self.weight_}
