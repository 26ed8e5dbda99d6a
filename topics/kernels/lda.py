"""Doc-topic inference for a trained LDA model, in numpy alone.

The variational E-step of Hoffman, Blei & Bach (2010), as gensim runs it in
``LdaModel.inference``, but started from gamma = 1 (gensim draws a random start
with mean 1) so the result is deterministic. Training (:class:`topics.families.lda.model.LdaTopics`)
and :mod:`topics.serve.predictor` both call :func:`infer_topics`, so they agree exactly;
against gensim's own inference they agree to within the convergence tolerance
(tested to 1e-3 per topic weight).
For a Gibbs-trained model (tomotopy) the topics come in as lambda = eta +
topic-word counts; against tomotopy's own ``infer`` the weights agree to a mean
absolute difference below 0.03 (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_MAX_ITER = 200
DEFAULT_TOL = 1e-6


def digamma(x: np.ndarray) -> np.ndarray:
    """The digamma function for positive arrays: psi(x) = psi(x + 6) - sum 1/(x + k),
    k = 0..5, then the asymptotic series at x + 6 >= 6 (error < 1e-12)."""
    x = np.asarray(x, dtype=np.float64)
    shift = 1.0 / x + 1.0 / (x + 1) + 1.0 / (x + 2) + 1.0 / (x + 3) + 1.0 / (x + 4) + 1.0 / (x + 5)
    y = x + 6.0
    inv = 1.0 / y
    inv2 = inv * inv
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return np.log(y) - 0.5 * inv - series - shift


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

    Documents go through :func:`infer_topics_flat` ``batch_size`` at a time (memory
    grows with a batch's words times K). A document with no known word gets the
    prior mean ``alpha / alpha.sum()``.
    """
    theta = np.empty((len(bows), exp_elog_beta.shape[0]))
    for start in range(0, len(bows), batch_size):
        batch = bows[start : start + batch_size]
        lengths = np.array([len(ids) for ids, _ in batch], dtype=np.int64)
        ids = np.concatenate([ids for ids, _ in batch]).astype(np.int64)
        counts = np.concatenate([counts for _, counts in batch])
        docs = np.repeat(np.arange(len(batch)), lengths)
        theta[start : start + len(batch)] = infer_topics_flat(
            docs, ids, counts, len(batch), exp_elog_beta, alpha, max_iter, tol
        )
    return theta


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
    gamma = np.tile(alpha, (n_docs, 1))
    present = np.bincount(docs, minlength=n_docs) > 0
    gamma[present] = 1.0
    batch = _Batch(docs, ids, np.asarray(counts, dtype=np.float64), exp_elog_beta)
    active = np.flatnonzero(present)  # documents still iterating, ascending
    exp_elog_theta = np.exp(_row_dirichlet_expectation(gamma))
    for _ in range(max_iter):
        if active.size == 0:
            break
        if active.size < 0.7 * batch.n_rows:
            batch = batch.keep(active)  # compact: converged documents cost nothing more
        stats = batch.sufficient_stats(exp_elog_theta[batch.doc_ids])
        stats = stats[np.searchsorted(batch.doc_ids, active)]
        updated = alpha + exp_elog_theta[active] * stats
        change = np.mean(np.abs(updated - gamma[active]), axis=1)
        gamma[active] = updated
        exp_elog_theta[active] = np.exp(_row_dirichlet_expectation(updated))
        active = active[change >= tol]
    return gamma / gamma.sum(axis=1, keepdims=True)


class _Batch:
    """Flat entries of the documents still iterating; rows are renumbered 0..n_rows-1
    in the order of the ``active`` array they were built for."""

    def __init__(
        self, docs: np.ndarray, ids: np.ndarray, counts: np.ndarray, exp_elog_beta: np.ndarray
    ) -> None:
        self.doc_ids = np.unique(docs)  # original document of each row
        self.rows = np.searchsorted(self.doc_ids, docs)
        self.n_rows = len(self.doc_ids)
        self.counts = counts
        self.beta = exp_elog_beta[:, ids].T  # (entries, K)
        self.starts = np.flatnonzero(np.r_[True, self.rows[1:] != self.rows[:-1]])

    def keep(self, documents: np.ndarray) -> _Batch:
        """The entries of ``documents`` (a subset of this batch's, ascending)."""
        kept = np.isin(self.doc_ids[self.rows], documents)
        smaller = object.__new__(_Batch)
        smaller.doc_ids = documents
        smaller.rows = np.searchsorted(documents, self.doc_ids[self.rows[kept]])
        smaller.n_rows = len(documents)
        smaller.counts = self.counts[kept]
        smaller.beta = self.beta[kept]
        smaller.starts = np.flatnonzero(np.r_[True, smaller.rows[1:] != smaller.rows[:-1]])
        return smaller

    def sufficient_stats(self, exp_elog_theta: np.ndarray) -> np.ndarray:
        """Sum over each document's words of ``count * beta_w / phinorm_w`` per topic;
        ``exp_elog_theta`` has one row per batch row."""
        phinorm = np.einsum("ek,ek->e", exp_elog_theta[self.rows], self.beta)
        phinorm += np.finfo(np.float64).eps
        weighted = self.beta * (self.counts / phinorm)[:, None]
        return np.add.reduceat(weighted, self.starts, axis=0)


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
