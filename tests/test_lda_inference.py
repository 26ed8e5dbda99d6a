from __future__ import annotations

import numpy as np
from scipy.special import digamma as scipy_digamma

from topics.kernels.lda import bag_of_words, digamma, infer_topics


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


def one_document_at_a_time(bows, exp_elog_beta, alpha, max_iter=200, tol=1e-6):  # type: ignore[no-untyped-def]
    """The plain per-document E-step (gensim's loop, started from gamma = 1)."""
    theta = np.empty((len(bows), exp_elog_beta.shape[0]))
    for d, (ids, counts) in enumerate(bows):
        if len(ids) == 0:
            theta[d] = alpha / alpha.sum()
            continue
        beta = exp_elog_beta[:, ids]
        gamma = np.ones_like(alpha)
        for _ in range(max_iter):
            exp_elog_theta = np.exp(scipy_digamma(gamma) - scipy_digamma(gamma.sum()))
            last = gamma
            gamma = alpha + exp_elog_theta * ((counts / (exp_elog_theta @ beta + 2.2e-16)) @ beta.T)
            if np.mean(np.abs(gamma - last)) < tol:
                break
        theta[d] = gamma / gamma.sum()
    return theta


def test_batched_inference_equals_one_document_at_a_time() -> None:
    rng = np.random.default_rng(0)
    beta = rng.dirichlet(np.full(300, 0.05), size=6)
    alpha = rng.uniform(0.05, 0.3, 6)
    bows = []
    for _ in range(60):
        ids = np.unique(rng.integers(0, 300, rng.integers(0, 30)))
        bows.append((ids, rng.integers(1, 4, len(ids)).astype(np.float64)))
    expected = one_document_at_a_time(bows, beta, alpha)
    np.testing.assert_allclose(infer_topics(bows, beta, alpha, batch_size=7), expected, atol=1e-9)
