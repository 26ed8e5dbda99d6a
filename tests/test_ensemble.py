from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import f1_score

from topics.families.ensemble import ProbabilityEnsemble
from topics.serve.scorers import Ensemble


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


def test_without_fitted_cuts_every_label_keeps_half() -> None:
    """threshold_min_positives=None: the weight is still chosen, the cuts stay 0.5
    (a small held-out share fits cuts that do not carry over)."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=(300, 3))
    shifted = np.clip(y * 0.3 + rng.random(y.shape) * 0.3, 0, 1)  # separable at 0.3, not 0.5
    fitted = ProbabilityEnsemble(weight=1.0).fit([shifted, shifted], y)
    assert fitted.validation_score_ == 1.0 and np.all(fitted.thresholds_ < 0.5)
    fixed = ProbabilityEnsemble(threshold_min_positives=None).fit([shifted, rng.random(y.shape)], y)
    np.testing.assert_array_equal(fixed.thresholds_, 0.5)
    assert fixed.weight_ >= 0.5  # the informative member still carries the mix
    assert fixed.validation_score_ < 1.0


def test_labels_rare_in_training_are_left_to_the_first_member() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.random((60, 3)), rng.random((60, 3))
    y = (a > 0.5).astype(int)
    own_cuts = np.array([0.3, 0.4, 0.6])
    ensemble = ProbabilityEnsemble(
        members={"a": Fixed(a), "b": Fixed(b)}, weight=0.5, first_alone_below=10
    )
    ensemble.fit([a, b], y, train_positives=np.array([50, 9, 10]), first_thresholds=own_cuts)
    np.testing.assert_array_equal(ensemble.label_weights_, [0.5, 1.0, 0.5])
    assert ensemble.thresholds_[1] == 0.4  # the first member's own cut
    expected = np.column_stack(
        [0.5 * a[:, 0] + 0.5 * b[:, 0], a[:, 1], 0.5 * a[:, 2] + 0.5 * b[:, 2]]
    )
    np.testing.assert_allclose(ensemble.predict_proba(range(60)), expected)
    predicted = (expected >= ensemble.thresholds_).astype(int)
    assert ensemble.validation_score_ == pytest.approx(
        f1_score(y, predicted, average="micro", zero_division=0)
    )
    with pytest.raises(ValueError, match="train_positives"):
        ProbabilityEnsemble(first_alone_below=10).fit([a, b], y)


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


class Counting(Fixed):
    """:class:`Fixed`, remembering which texts it was asked to score."""

    def __init__(self, proba: np.ndarray) -> None:
        super().__init__(proba)
        self.seen: list[int] = []

    def predict_proba(self, X: Any) -> np.ndarray:
        self.seen.extend(int(i) for i in X)
        return super().predict_proba(X)


def test_a_cascade_passes_on_only_the_texts_the_first_member_is_unsure_of() -> None:
    """The first member is sure (0.01 or 0.99) of most texts and right about them; of
    the others it knows nothing (0.5), and the second member is right about every text."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=(400, 2))
    unsure = rng.random(400) < 0.2
    first = np.where(unsure[:, None], 0.5, np.where(y == 1, 0.99, 0.01))
    second = np.where(y == 1, 0.9, 0.1)
    full = ProbabilityEnsemble(weight=0.5).fit([first, second], y)
    assert full.band_ is None and full.validation_score_ == 1.0

    tight = ProbabilityEnsemble(weight=0.5, second_share=0.1).fit([first, second], y)
    assert tight.band_ == (0.5, 0.5) and tight.second_read_ == 0.0  # 20% would be too many
    assert tight.validation_score_ < 1.0

    cascade = ProbabilityEnsemble(
        members={"first": Fixed(first), "second": Counting(second)}, weight=0.5, second_share=0.25
    ).fit([first, second], y)
    low, high = cascade.band_
    assert low < 0.5 < high and cascade.second_read_ == pytest.approx(unsure.mean())
    assert cascade.validation_score_ == 1.0
    proba = cascade.predict_proba(range(400))
    assert sorted(cascade.members["second"].seen) == np.flatnonzero(unsure).tolist()
    expected = np.where(unsure[:, None], 0.5 * first + 0.5 * second, first)
    np.testing.assert_allclose(proba, expected)


@pytest.mark.parametrize("band", [[0.9, 0.1], [0.1], [0.1, "0.9"], [-0.1, 0.9], "0.1-0.9"])
def test_a_bundle_ensemble_refuses_a_band_that_is_not_low_then_high(band: Any) -> None:
    spec = {"members": {"tfidf": 0.5, "encoder": 0.5}, "band": band}
    with pytest.raises(ValueError, match=r"band: expected \[low, high\] with 0 <= low <= high"):
        Ensemble(spec, {"thresholds": np.full(3, 0.5)})
    assert Ensemble({**spec, "band": [0.1, 0.9]}, {"thresholds": np.full(3, 0.5)}).band == (
        0.1,
        0.9,
    )


def test_of_bands_that_score_alike_the_cascade_passes_the_fewest_texts_on() -> None:
    """Texts at 0.15 (negative, and right) score the same whether passed on or not:
    a band with low 0.2 or 0.3 leaves them out, and is chosen over low 0.005-0.1."""
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, size=(400, 2))
    kind = rng.choice(3, size=400, p=[0.7, 0.2, 0.1])  # sure, unsure, near-sure negative
    first = np.where(y == 1, 0.99, 0.01)
    first[kind == 1] = 0.5
    first[kind == 2] = np.where(y[kind == 2] == 1, 0.99, 0.15)
    second = np.where(y == 1, 0.9, 0.1)
    cascade = ProbabilityEnsemble(weight=0.5, second_share=0.5).fit([first, second], y)
    assert cascade.validation_score_ == 1.0
    assert cascade.band_[0] >= 0.2 and cascade.second_read_ == pytest.approx((kind == 1).mean())
