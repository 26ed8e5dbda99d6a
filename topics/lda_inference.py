"""Doc-topic inference for a trained LDA model, in numpy alone.

The variational E-step of Hoffman, Blei & Bach (2010), as gensim runs it in
``LdaModel.inference``, but started from gamma = 1 (gensim draws a random start
with mean 1) so the result is deterministic. Training (:class:`topics.topic_models.LdaTopics`)
and :mod:`topics.predict` both call :func:`infer_topics`, so they agree exactly;
against gensim's own inference they agree to within the convergence tolerance
(tested to 1e-3 per topic weight). For a Gibbs-trained model (tomotopy) the
topics come in as lambda = eta + topic-word counts; against tomotopy's own
``infer`` the weights agree to a mean absolute difference below 0.03 (tested).
Documents are processed in batches, vectorised over their words.
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
    batch_size: int = 2048,
) -> np.ndarray:
    """Topic proportions ``(n_docs, K)`` for documents given as ``(word_ids, counts)``.

    Documents are processed in batches, vectorised over their words; each document
    stops updating once its own mean change in gamma is below ``tol``, so the result
    is that of running every document on its own. A document with no known word gets
    the prior mean ``alpha / alpha.sum()``.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    theta = np.empty((len(bows), exp_elog_beta.shape[0]))
    for start in range(0, len(bows), batch_size):
        batch = bows[start : start + batch_size]
        theta[start : start + len(batch)] = _infer_batch(batch, exp_elog_beta, alpha, max_iter, tol)
    return theta


def _infer_batch(
    bows: Sequence[tuple[np.ndarray, np.ndarray]],
    exp_elog_beta: np.ndarray,
    alpha: np.ndarray,
    max_iter: int,
    tol: float,
) -> np.ndarray:
    eps = np.finfo(np.float64).eps
    n_docs, n_topics = len(bows), exp_elog_beta.shape[0]
    lengths = np.array([len(ids) for ids, _ in bows], dtype=np.int64)
    theta = np.tile(alpha / alpha.sum(), (n_docs, 1))
    active = np.flatnonzero(lengths > 0)
    if active.size == 0:
        return theta
    gamma = np.ones((n_docs, n_topics))
    for _ in range(max_iter):
        # Flatten the active documents' words: doc position, word id, count.
        doc_pos = np.repeat(np.arange(active.size), lengths[active])
        word_ids = np.concatenate([bows[int(d)][0] for d in active])
        counts = np.concatenate([np.asarray(bows[int(d)][1], dtype=np.float64) for d in active])
        beta = exp_elog_beta[:, word_ids]  # (K, nnz)
        exp_elog_theta = np.exp(_rows_dirichlet_expectation(gamma[active]))
        phinorm = np.einsum("kn,nk->n", beta, exp_elog_theta[doc_pos]) + eps
        ratio = counts / phinorm
        sums = np.empty((active.size, n_topics))
        for k in range(n_topics):
            sums[:, k] = np.bincount(doc_pos, weights=ratio * beta[k], minlength=active.size)
        last = gamma[active]
        # gensim order: update gamma from the exp(E[log theta]) of the previous gamma.
        new = alpha + exp_elog_theta * sums
        gamma[active] = new
        done = np.mean(np.abs(new - last), axis=1) < tol
        if done.all():
            break
        active = active[~done]
    theta_active = gamma[lengths > 0]
    theta[lengths > 0] = theta_active / theta_active.sum(axis=1, keepdims=True)
    return theta


def _rows_dirichlet_expectation(alpha: np.ndarray) -> np.ndarray:
    return digamma(alpha) - digamma(alpha.sum(axis=1))[:, None]


def bag_of_words(
    tokens: Sequence[str], vocabulary: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Known tokens -> ``(sorted word ids, counts)``."""
    ids = np.fromiter((vocabulary[t] for t in tokens if t in vocabulary), dtype=np.int64)
    if ids.size == 0:
        return ids, np.zeros(0)
    unique, counts = np.unique(ids, return_counts=True)
    return unique, counts.astype(np.float64)
