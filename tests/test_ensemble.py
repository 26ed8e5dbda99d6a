from __future__ import annotations

from typing import Any

import numpy as np

from topics.ensemble import ProbabilityEnsemble


class Fixed:
    """A fitted 'model' whose probabilities are given per text index."""

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.proba[np.asarray(X, dtype=int)]


def test_weight_goes_to_the_member_that_is_right() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(300, 3))
    good = np.clip(y * 0.6 + rng.random(y.shape) * 0.4, 0, 1)  # separable at 0.5
    noise = rng.random(y.shape)
    ensemble = ProbabilityEnsemble().fit([noise, good], y)
    assert ensemble.weight_ <= 0.2  # (nearly) all of it on the second member
    assert ensemble.validation_score_ == 1.0
    ensemble = ProbabilityEnsemble().fit([good, noise], y)
    assert ensemble.weight_ >= 0.8
    assert ensemble.validation_score_ == 1.0


def test_two_half_right_members_beat_each_alone() -> None:
    """Each member sees a different half of the signal; the mean sees both."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=(400, 2))
    first = np.where(np.arange(400)[:, None] % 2 == 0, y * 0.8 + 0.1, 0.5)
    second = np.where(np.arange(400)[:, None] % 2 == 1, y * 0.8 + 0.1, 0.5)
    alone = ProbabilityEnsemble(weight=1.0).fit([first, second], y).validation_score_
    mixed = ProbabilityEnsemble().fit([first, second], y)
    assert 0.0 < mixed.weight_ < 1.0
    assert mixed.validation_score_ > alone


def test_predict_mixes_the_members_with_the_fitted_weight() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.random((50, 3)), rng.random((50, 3))
    ensemble = ProbabilityEnsemble(members={"a": Fixed(a), "b": Fixed(b)}, weight=0.3)
    ensemble.fit([a[:20], b[:20]], (a[:20] > 0.5).astype(int))
    np.testing.assert_allclose(ensemble.predict_proba(range(50)), 0.3 * a + 0.7 * b)
    assert ensemble.member_weights() == {"a": 0.3, "b": 0.7}
    expected = (0.3 * a + 0.7 * b >= ensemble.thresholds_).astype(int)
    assert (ensemble.predict(range(50)) == expected).all()


def test_single_label_normalises_each_member_then_takes_the_argmax() -> None:
    a = np.array([[0.9, 0.9, 0.0], [0.1, 0.2, 0.1]])  # sums differ: normalised first
    b = np.array([[0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    ensemble = ProbabilityEnsemble(members={"a": Fixed(a), "b": Fixed(b)}, weight=0.5)
    ensemble.single_label = True
    ensemble.fit([a, b], np.eye(3)[[1, 2]])
    proba = ensemble.predict_proba([0, 1])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[0], 0.5 * np.array([0.5, 0.5, 0]) + 0.5 * b[0])
    assert ensemble.predict([0, 1]).tolist() == [1, 2]
