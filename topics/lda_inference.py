"""Doc-topic inference for a trained LDA model, in numpy alone.

The variational E-step of Hoffman, Blei & Bach (2010), as gensim runs it in
``LdaModel.inference``, but started from gamma = 1 (gensim draws a random start
with mean 1) so the result is deterministic. Training (:class:`topics.topic_models.LdaTopics`)
and :mod:`topics.predict` both call :func:`infer_topics`, so they agree exactly;
against gensim's own inference they agree to within the convergence tolerance
(tested to 1e-3 per topic weight).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_MAX_ITER = 200
DEFAULT_TOL = 1e-6


def digamma(x: np.ndarray) -> np.ndarray:
    """The digamma function for positive arrays (recurrence, then the asymptotic series)."""
    x = np.array(x, dtype=np.float64)
    result = np.zeros_like(x)
    small = x < 6.0
    while small.any():
        result[small] -= 1.0 / x[small]
        x[small] += 1.0
        small = x < 6.0
    inv = 1.0 / x
    inv2 = inv * inv
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return result + np.log(x) - 0.5 * inv - series


def dirichlet_expectation(alpha: np.ndarray) -> np.ndarray:
    """E[log theta] for theta ~ Dir(alpha)."""
    return digamma(alpha) - digamma(np.sum(alpha))


def infer_topics(
    bows: Sequence[tuple[np.ndarray, np.ndarray]],
    exp_elog_beta: np.ndarray,
    alpha: np.ndarray,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> np.ndarray:
    """Topic proportions ``(n_docs, K)`` for documents given as ``(word_ids, counts)``.

    A document with no known word gets the prior mean ``alpha / alpha.sum()``.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    theta = np.empty((len(bows), exp_elog_beta.shape[0]))
    for d, (ids, counts) in enumerate(bows):
        if len(ids) == 0:
            theta[d] = alpha / alpha.sum()
            continue
        beta_d = exp_elog_beta[:, ids]
        counts = np.asarray(counts, dtype=np.float64)
        gamma = np.ones_like(alpha)
        exp_elog_theta = np.exp(dirichlet_expectation(gamma))
        phinorm = exp_elog_theta @ beta_d + eps
        for _ in range(max_iter):
            last = gamma
            gamma = alpha + exp_elog_theta * ((counts / phinorm) @ beta_d.T)
            exp_elog_theta = np.exp(dirichlet_expectation(gamma))
            phinorm = exp_elog_theta @ beta_d + eps
            if np.mean(np.abs(gamma - last)) < tol:
                break
        theta[d] = gamma / gamma.sum()
    return theta


def bag_of_words(
    tokens: Sequence[str], vocabulary: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Known tokens -> ``(sorted word ids, counts)``."""
    ids = np.fromiter((vocabulary[t] for t in tokens if t in vocabulary), dtype=np.int64)
    if ids.size == 0:
        return ids, np.zeros(0)
    unique, counts = np.unique(ids, return_counts=True)
    return unique, counts.astype(np.float64)
