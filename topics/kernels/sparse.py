"""Sparse document-feature rows in flat form, and TF-IDF weighting, in numpy.

The predictor's feature blocks build these from text; linear scorers multiply
them with weight matrices. They reproduce sklearn's ``TfidfVectorizer`` (l2
norm, optional sublinear tf) without sklearn.
"""

from __future__ import annotations

from itertools import chain, repeat

import numpy as np


class SparseRows:
    """A batch of sparse rows: entry ``e`` is ``(docs[e], ids[e], values[e])``,
    sorted by document then feature."""

    def __init__(self, docs: np.ndarray, ids: np.ndarray, values: np.ndarray, n_docs: int) -> None:
        self.docs, self.ids, self.values, self.n_docs = docs, ids, values, n_docs

    @classmethod
    def count(cls, features: list[list[str]], index: dict[str, int]) -> SparseRows:
        """Count known features per document."""
        lengths = np.fromiter(map(len, features), dtype=np.int64, count=len(features))
        # One C-level pass over every feature of the batch; unknown ones map to -1.
        found = map(index.get, chain.from_iterable(features), repeat(-1))
        ids = np.fromiter(found, dtype=np.int64, count=int(lengths.sum()))
        docs = np.repeat(np.arange(len(features), dtype=np.int64), lengths)
        known = ids >= 0
        width = len(index) + 1
        keys, counts = np.unique(docs[known] * width + ids[known], return_counts=True)
        docs, ids = np.divmod(keys, width)
        return cls(docs, ids, counts.astype(np.float64), len(features))

    def row(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.searchsorted(self.docs, [d, d + 1])
        return self.ids[lo:hi], self.values[lo:hi]

    def dot(self, weights_t: np.ndarray) -> np.ndarray:
        """``X @ weights_t`` for ``weights_t`` of shape ``(n_features, n_out)``."""
        out = np.zeros((self.n_docs, weights_t.shape[1]))
        if len(self.ids):  # entries are sorted by document: sum each document's run of rows
            starts = np.flatnonzero(np.r_[True, self.docs[1:] != self.docs[:-1]])
            contributions = weights_t[self.ids] * self.values[:, None]
            out[self.docs[starts]] = np.add.reduceat(contributions, starts, axis=0)
        return out


def tfidf_weight(rows: SparseRows, idf: np.ndarray, sublinear_tf: bool) -> SparseRows:
    """Counts -> l2-normalised TF-IDF values, in place, as sklearn computes them."""
    tf = np.log(rows.values) + 1.0 if sublinear_tf else rows.values
    values = tf * idf[rows.ids]
    norms = np.sqrt(np.bincount(rows.docs, weights=values * values, minlength=rows.n_docs))
    rows.values = values / norms[rows.docs]
    return rows
