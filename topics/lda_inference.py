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
    lengths = np.array([len(ids) for ids, _ in bows], dtype=np.int64)
    flat_ids = np.concatenate([ids for ids, _ in bows]) if bows else np.zeros(0, np.int64)
    flat_counts = np.concatenate([c for _, c in bows]) if bows else np.zeros(0)
    docs = np.repeat(np.arange(len(bows)), lengths)
    return infer_topics_flat(
        docs, flat_ids.astype(np.int64), flat_counts, len(bows), exp_elog_beta, alpha, max_iter, tol
    )


def infer_topics_flat(
    docs: np.ndarray,
    ids: np.ndarray,
    counts: np.ndarray,
    n_docs: int,
    exp_elog_beta: np.ndarray,
    alpha: np.ndarray,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> np.ndarray:
    """:func:`infer_topics` for a batch in flat form: entry ``e`` says document
    ``docs[e]`` (non-decreasing) holds word ``ids[e]`` ``counts[e]`` times.

    All documents iterate together; each stops updating once its own mean change
    in gamma drops below ``tol``, exactly as the one-document loop would.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    gamma = np.tile(alpha, (n_docs, 1))
    present = np.bincount(docs, minlength=n_docs) > 0
    gamma[present] = 1.0
    active = present.copy()
    if not active.any():
        return gamma / gamma.sum(axis=1, keepdims=True)
    starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]]) if len(docs) else docs
    doc_rows = docs[starts]
    beta_entries = exp_elog_beta[:, ids].T  # (entries, K)
    counts = np.asarray(counts, dtype=np.float64)
    exp_elog_theta = np.exp(_row_dirichlet_expectation(gamma))
    for _ in range(max_iter):
        phinorm = np.einsum("ek,ek->e", exp_elog_theta[docs], beta_entries) + eps
        weighted = beta_entries * (counts / phinorm)[:, None]
        sufficient = np.zeros_like(gamma)
        sufficient[doc_rows] = np.add.reduceat(weighted, starts, axis=0)
        updated = alpha + exp_elog_theta * sufficient
        change = np.mean(np.abs(updated - gamma), axis=1)
        gamma[active] = updated[active]
        exp_elog_theta[active] = np.exp(_row_dirichlet_expectation(gamma[active]))
        active &= change >= tol
        if not active.any():
            break
    return gamma / gamma.sum(axis=1, keepdims=True)


def _row_dirichlet_expectation(alpha: np.ndarray) -> np.ndarray:
    return digamma(alpha) - digamma(alpha.sum(axis=1, keepdims=True))


def bag_of_words(
    tokens: Sequence[str], vocabulary: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Known tokens -> ``(sorted word ids, counts)``."""
    ids = np.fromiter((vocabulary[t] for t in tokens if t in vocabulary), dtype=np.int64)
    if ids.size == 0:
        return ids, np.zeros(0)
    unique, counts = np.unique(ids, return_counts=True)
    return unique, counts.astype(np.float64)
