"""Which articles an editor should label next: uncertain, diverse, every label covered.

The rule (numpy only, deterministic: ties go to the earlier document):

1. **Uncertainty.** For each document and label, the *margin* is how far the
   model's calibrated probability is from that label's threshold,
   ``|p - threshold|``; a small margin is a label the model is unsure of. On
   single-label bundles the margin is the gap between the two most probable
   labels (the guess could flip either way).
2. **Queues.** One queue per label, in the bundle's label order: the documents the
   model guesses that label for, the smallest margin first. A label the model
   guesses for no document (a zero-shot model that never says "human rights")
   gets the documents with its highest scores instead, so it still has
   candidates. Last, a ``none`` queue: documents the model gives no label, the
   smallest margin over all labels first (multi-label bundles only).
3. **Coverage.** Picks go round-robin over the queues (label 1, label 2, ...,
   none, label 1, ...), so the first ``n_labels + 1`` picks cover every label
   and the unlabelled guesses; an empty queue is passed over.
4. **Diversity.** Each document is a hashed word-count vector (words of two or
   more letters, lowercased, :data:`HASH_BUCKETS` buckets, unit length). A
   queue's next pick is the document with the smallest ``rank key + DIVERSITY *
   max cosine`` to the documents already picked, where the rank key is the
   margin (or minus the score on a never-guessed label's queue); a document at
   or above :data:`NEAR_DUPLICATE` cosine to a pick is not picked at all.

>>> import numpy as np
>>> proba = np.array([[0.9, 0.1], [0.55, 0.2], [0.2, 0.45], [0.1, 0.1]])
>>> vectors = hashed_word_vectors(["tenge rate", "bank rate", "army drill", "football"])
>>> picks = pick_for_labelling(proba, np.array([0.5, 0.5]), ["economy", "defense"],
...                            vectors, n=3)
>>> [(pick.index, pick.why) for pick in picks]  # doctest: +NORMALIZE_WHITESPACE
[(1, 'uncertain about economy (0.55 vs threshold 0.50)'),
 (2, 'defense is guessed for no document: among its highest scores (0.45 vs threshold 0.50)'),
 (3, 'no label guessed; closest: economy (0.10 vs threshold 0.50)')]
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["HASH_BUCKETS", "Pick", "guesses", "hashed_word_vectors", "pick_for_labelling"]

HASH_BUCKETS = 1 << 18  # few collisions for a news vocabulary; sparse, so size is free
NEAR_DUPLICATE = 0.9  # cosine at which a document repeats one already picked
DIVERSITY = 1.0  # weight of the cosine to the picks against the rank key (both in [0, 1])
_WORD = re.compile(r"(?u)\b\w\w+\b")
NONE = "none"


@dataclass(frozen=True)
class Pick:
    """One document to label: its index, the queue it came from (a label or
    ``"none"``) and why, in words."""

    index: int
    queue: str
    why: str


@dataclass(frozen=True)
class WordVectors:
    """Unit-length hashed word counts, as rows of a sparse matrix (CSR arrays)."""

    indptr: np.ndarray
    columns: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def cosine_to(self, row: int) -> np.ndarray:
        """Cosine of every document to document ``row``."""
        start, end = self.indptr[row], self.indptr[row + 1]
        if start == end:  # no words: like nothing
            return np.zeros(len(self))
        keys, weights = self.columns[start:end], self.values[start:end]  # unique columns
        order = np.argsort(keys)
        keys, weights = keys[order], weights[order]
        where = np.searchsorted(keys, self.columns)
        where[where == len(keys)] = 0
        hits = keys[where] == self.columns
        products = np.where(hits, self.values * weights[where], 0.0)
        rows = np.repeat(np.arange(len(self)), np.diff(self.indptr))
        return np.bincount(rows, weights=products, minlength=len(self))


def hashed_word_vectors(texts: Sequence[str], buckets: int = HASH_BUCKETS) -> WordVectors:
    """Each text's words (two or more letters, lowercased) counted into ``buckets``
    by CRC-32 (the same in every process), weighted by their inverse document
    frequency in ``texts`` (words every article has say nothing of duplicates) and
    scaled to unit length."""
    indptr: list[int] = [0]
    columns: list[int] = []
    counts: list[float] = []
    for text in texts:
        row: dict[int, int] = {}
        for word in _WORD.findall(text.lower()):
            bucket = zlib.crc32(word.encode("utf-8")) % buckets
            row[bucket] = row.get(bucket, 0) + 1
        columns.extend(row)
        counts.extend(row.values())
        indptr.append(len(columns))
    starts = np.asarray(indptr, dtype=np.int64)
    cols = np.asarray(columns, dtype=np.int64)
    frequency = np.bincount(cols, minlength=buckets)
    idf = np.log((1 + len(texts)) / (1 + frequency)) + 1.0  # sklearn's smooth idf
    values = np.asarray(counts, dtype=np.float64) * idf[cols]
    rows = np.repeat(np.arange(len(texts)), np.diff(starts))
    norms = np.sqrt(np.bincount(rows, weights=values**2, minlength=len(texts)))
    values = values / np.where(norms > 0, norms, 1.0)[rows]
    return WordVectors(starts, cols, values)


def guesses(proba: np.ndarray, thresholds: np.ndarray, single_label: bool = False) -> np.ndarray:
    """The model's guesses as a boolean matrix: each label at or over its threshold,
    or the most probable label on single-label bundles."""
    if single_label:
        return np.eye(proba.shape[1], dtype=bool)[proba.argmax(axis=1)]
    return proba >= thresholds


def pick_for_labelling(
    proba: np.ndarray,
    thresholds: np.ndarray,
    labels: Sequence[str],
    vectors: WordVectors,
    n: int,
    single_label: bool = False,
) -> list[Pick]:
    """Up to ``n`` documents to label, in pick order (see the module docstring).

    Parameters
    ----------
    proba
        Calibrated probabilities ``(n_docs, n_labels)``.
    thresholds
        The per-label decision thresholds ``(n_labels,)``.
    labels
        Label names, in column order.
    vectors
        :func:`hashed_word_vectors` of the same documents.
    n
        How many to pick; fewer come back when the queues run out.
    single_label
        The bundle predicts exactly one label (argmax).
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(labels) or len(vectors) != len(proba):
        raise ValueError(
            f"The 'proba' parameter of pick_for_labelling must be (n_docs, {len(labels)}) "
            f"with one vector per document. Got {proba.shape} and {len(vectors)} vectors instead."
        )
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (proba.shape[1],))
    if n < 0:
        raise ValueError(f"The 'n' parameter of pick_for_labelling must be >= 0. Got {n} instead.")
    queues = _queues(proba, thresholds, labels, single_label)
    picked: list[Pick] = []
    taken = np.zeros(len(proba), dtype=bool)
    closeness = np.zeros(len(proba))  # max cosine to the picks so far
    while len(picked) < n and queues:
        for queue in list(queues):
            if len(picked) >= n:
                break
            index = queue.best(taken, closeness)
            if index is None:
                queues.remove(queue)
                continue
            picked.append(Pick(index, queue.name, queue.describe(index)))
            taken[index] = True
            closeness = np.maximum(closeness, vectors.cosine_to(index))
    return picked


@dataclass
class _Queue:
    name: str
    members: np.ndarray  # document indices in the queue
    keys: np.ndarray  # their rank keys: smaller is picked first
    describe: Callable[[int], str]  # why a document of the queue is picked

    def best(self, taken: np.ndarray, closeness: np.ndarray) -> int | None:
        """The member to pick next, or None when none is left."""
        free = ~taken[self.members] & (closeness[self.members] < NEAR_DUPLICATE)
        if not free.any():
            return None
        cost = np.where(free, self.keys + DIVERSITY * closeness[self.members], np.inf)
        return int(self.members[int(np.argmin(cost))])


def _queues(
    proba: np.ndarray, thresholds: np.ndarray, labels: Sequence[str], single_label: bool
) -> list[_Queue]:
    guessed = guesses(proba, thresholds, single_label)
    if single_label:
        order = np.sort(proba, axis=1)
        gap = order[:, -1] - (order[:, -2] if proba.shape[1] > 1 else 0.0)
        margin = np.repeat(gap[:, None], proba.shape[1], axis=1)
    else:
        margin = np.abs(proba - thresholds)
    queues = []
    for j, label in enumerate(labels):
        members = np.flatnonzero(guessed[:, j])
        if len(members):
            describe = functools.partial(_uncertain, proba, thresholds, labels, j, single_label)
            queues.append(_Queue(str(label), members, margin[members, j], describe))
        else:  # never guessed: its highest scores, so the label still gets candidates
            describe = functools.partial(_top_score, proba, thresholds, labels, j)
            queues.append(_Queue(str(label), np.arange(len(proba)), -proba[:, j], describe))
    unguessed = np.flatnonzero(~guessed.any(axis=1))
    if len(unguessed) and not single_label:
        describe = functools.partial(_closest, proba, thresholds, labels, margin)
        queues.append(_Queue(NONE, unguessed, margin[unguessed].min(axis=1), describe))
    return queues


def _top_score(
    proba: np.ndarray, thresholds: np.ndarray, labels: Sequence[str], j: int, i: int
) -> str:
    return (
        f"{labels[j]} is guessed for no document: among its highest scores "
        f"({proba[i, j]:.2f} vs threshold {thresholds[j]:.2f})"
    )


def _closest(
    proba: np.ndarray, thresholds: np.ndarray, labels: Sequence[str], margin: np.ndarray, i: int
) -> str:
    j = int(np.argmin(margin[i]))
    return (
        f"no label guessed; closest: {labels[j]} ({proba[i, j]:.2f} vs threshold "
        f"{thresholds[j]:.2f})"
    )


def _uncertain(
    proba: np.ndarray,
    thresholds: np.ndarray,
    labels: Sequence[str],
    j: int,
    single_label: bool,
    i: int,
) -> str:
    scores = proba[i]
    if single_label:
        runner_up = int(np.argsort(-scores, kind="stable")[1]) if len(labels) > 1 else j
        return (
            f"unsure between {labels[j]} and {labels[runner_up]} "
            f"({scores[j]:.2f} vs {scores[runner_up]:.2f})"
        )
    return f"uncertain about {labels[j]} ({scores[j]:.2f} vs threshold {thresholds[j]:.2f})"
