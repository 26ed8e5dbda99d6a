"""The numpy scoring kernels shared by training and serving (topics/kernels/linear.py,
topics/kernels/sparse.py); the bundle-equals-pipeline tests in test_predict.py and
test_encoder.py hold them to the estimators end to end."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from topics.kernels.linear import (
    decide,
    fine_margins,
    mix,
    normalise_rows,
    platt_proba,
    sigmoid,
    stacked_proba,
)
from topics.kernels.sparse import SparseRows, tfidf_weight


def test_sigmoid_is_stable_at_the_extremes() -> None:
    values = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert not np.isnan(values).any()


def test_platt_proba_is_sigmoid_of_the_scaled_margin() -> None:
    margins = np.array([[1.0, -2.0]])
    np.testing.assert_allclose(
        platt_proba(margins, np.array([2.0, 0.5]), np.array([0.0, 1.0])), sigmoid([[2.0, 0.0]])
    )


def test_fine_margins_compare_each_labels_best_class_with_the_best_other() -> None:
    scores = np.array([[3.0, 1.0, 2.0]])  # classes a, b, c
    groups = np.array([[1, 0], [1, 0], [0, 1]])  # a, b -> label 0; c -> label 1
    assert fine_margins(scores, groups).tolist() == [[1.0, -1.0]]


def test_stacked_proba_weighs_both_margins_per_label() -> None:
    fine, direct = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    w, b = np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([0.0, -2.0])
    assert stacked_proba(fine, direct, w, b).tolist() == sigmoid([[2.0, 0.0]]).tolist()


def test_mix_takes_per_label_weights() -> None:
    first, second = np.array([[1.0, 1.0]]), np.array([[0.0, 0.0]])
    shares = np.array([0.25, 1.0])
    assert mix([first, second], [shares, 1 - shares]).tolist() == [[0.25, 1.0]]


def test_normalise_rows_and_decide() -> None:
    proba = np.array([[0.2, 0.6], [0.0, 0.0]])
    assert normalise_rows(proba)[0].tolist() == pytest.approx([0.25, 0.75])
    assert normalise_rows(proba)[1].tolist() == [0.0, 0.0]  # no division by zero
    assert decide(proba, np.array([0.5, 0.5]), single_label=False).tolist() == [[0, 1], [0, 0]]
    assert decide(proba, np.array([0.9, 0.9]), single_label=True).tolist() == [[0, 1], [1, 0]]


def test_sparse_tfidf_rows_equal_sklearns() -> None:
    texts = ["rail cargo rail", "port cargo", "", "unknown words only"]
    fitted = TfidfVectorizer(sublinear_tf=True).fit(texts[:2])
    index = fitted.vocabulary_
    rows = tfidf_weight(
        SparseRows.count([t.split() for t in texts], index), fitted.idf_, sublinear_tf=True
    )
    dense = rows.dot(np.eye(len(index)))
    np.testing.assert_allclose(dense, fitted.transform(texts).toarray(), atol=1e-12)
