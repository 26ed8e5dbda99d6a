from __future__ import annotations

import numpy as np
from scipy.special import digamma as scipy_digamma

from topics.lda_inference import bag_of_words, digamma, infer_topics


def test_digamma_matches_scipy() -> None:
    x = np.concatenate([np.linspace(1e-3, 10, 500), np.logspace(1, 6, 50)])
    np.testing.assert_allclose(digamma(x), scipy_digamma(x), rtol=1e-10, atol=1e-10)


def test_bag_of_words_counts_known_tokens() -> None:
    ids, counts = bag_of_words(["rail", "port", "rail", "unknown"], {"port": 0, "rail": 1})
    assert ids.tolist() == [0, 1] and counts.tolist() == [1.0, 2.0]
    empty_ids, empty_counts = bag_of_words(["x"], {"port": 0})
    assert empty_ids.size == 0 and empty_counts.size == 0


def test_infer_topics_prefers_the_topic_owning_the_words() -> None:
    beta = np.array([[0.7, 0.2, 0.05, 0.05], [0.05, 0.05, 0.2, 0.7]])
    theta = infer_topics(
        [(np.array([0, 1]), np.array([5.0, 3.0])), (np.array([3]), np.array([4.0]))],
        beta,
        np.array([0.5, 0.5]),
    )
    assert theta[0, 0] > 0.9 and theta[1, 1] > 0.85
    np.testing.assert_allclose(theta.sum(axis=1), 1.0)


def test_batch_equals_one_document_at_a_time() -> None:
    rng = np.random.default_rng(0)
    beta = rng.dirichlet(np.ones(30), size=5)
    bows = []
    for n_words in (0, 1, 7, 30, 3):
        ids = np.sort(rng.choice(30, size=n_words, replace=False))
        bows.append((ids, rng.integers(1, 4, size=n_words).astype(float)))
    alpha = np.full(5, 0.2)
    together = infer_topics(bows, beta, alpha)
    one_by_one = np.vstack([infer_topics([bow], beta, alpha) for bow in bows])
    np.testing.assert_allclose(together, one_by_one, atol=1e-12)
    np.testing.assert_allclose(together[0], alpha / alpha.sum())
