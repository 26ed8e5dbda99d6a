"""Long texts scored passage by passage (``model.passages``, ``classify --passages``).

A model learns what a label looks like at the length of its training texts. One
trained on nyt-cap (a front-page title and a one-line summary, 14 words at the
median) sees a 300-word article as a blur: the sentence that makes it a transport
story weighs little in the whole. Cut into passages nearer the training length, the
article is scored passage by passage, and a label's score is that of its best
passage. In a long article one side sentence would then be enough for a label (a
defence story's line on trade makes it an economy story); with ``model.passage_support``
S, one passage in S must carry it: the label scores its ``ceil(n / S)``-th best of the
article's ``n`` passages. The run's evaluation, :mod:`topics.serve.predictor` and
``topics evaluate`` all cut and pool with these functions, so the bundle reproduces the
run's metrics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def passages(text: str, min_words: int) -> list[str]:
    """``text`` cut into windows of whole sentences of at least ``min_words`` words
    (a last window of fewer than half that joins the one before); ``[text]`` itself
    when it has fewer than ``2 * min_words`` words, or ``min_words`` is 0."""
    if min_words <= 0 or len(text.split()) < 2 * min_words:
        return [text]
    windows: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in SENTENCE_END.split(text):
        words = len(sentence.split())
        if not words:
            continue
        current.append(sentence)
        count += words
        if count >= min_words:
            windows.append(" ".join(current))
            current, count = [], 0
    if current:
        if windows and count < min_words / 2:
            windows[-1] += " " + " ".join(current)
        else:
            windows.append(" ".join(current))
    return windows


def split_passages(texts: Sequence[str], min_words: int) -> tuple[list[str], np.ndarray]:
    """Every text's :func:`passages`, in order, and where each text's first one is."""
    if min_words <= 0:  # every text whole
        return list(texts), np.arange(len(texts), dtype=np.intp)
    flat: list[str] = []
    starts = np.zeros(len(texts), dtype=np.intp)
    for i, text in enumerate(texts):
        starts[i] = len(flat)
        flat.extend(passages(text, min_words))
    return flat, starts


def ranks(starts: np.ndarray, n_passages: int, support: int = 0) -> np.ndarray:
    """Per text, which of its passages scores a label, counted from its best (0): the
    ``k``-th best, ``k = ceil(n / support)`` for a text of ``n`` passages (one passage
    in ``support`` must carry the label, so one side sentence of a long article does
    not give it); 0 (``support`` 0, or ``n <= support``): the best."""
    counts = np.diff(np.r_[starts, n_passages])
    if support <= 0:
        return np.zeros(len(counts), dtype=np.intp)
    return (-(-counts // support) - 1).astype(np.intp)


def best_of(scores: np.ndarray, starts: np.ndarray, support: int = 0) -> np.ndarray:
    """Per text, each label's score over its passages' rows of ``scores``: the
    column-wise maximum, or with ``support`` the :func:`ranks`-th best."""
    if len(starts) == len(scores):  # one passage each
        return scores
    if not ranks(starts, len(scores), support).any():
        return np.maximum.reduceat(np.asarray(scores), starts, axis=0)
    rows = best_rows(scores, starts, support)
    return np.take_along_axis(np.asarray(scores), rows, axis=0)


def best_rows(scores: np.ndarray, starts: np.ndarray, support: int = 0) -> np.ndarray:
    """Per text and label, the row of ``scores`` :func:`best_of` takes: the index of
    the passage that gives the label its score, ``(n_texts, n_labels)``."""
    scores = np.asarray(scores)
    ends = [*starts[1:], len(scores)]
    rank = ranks(starts, len(scores), support)
    rows = [  # a stable sort: the first of equal passages, as argmax takes
        a + np.argsort(-scores[a:b], axis=0, kind="stable")[k]
        for a, b, k in zip(starts, ends, rank, strict=True)
    ]
    return np.array(rows, dtype=np.intp).reshape(len(starts), scores.shape[1])


def best_passages(
    passages: Sequence[str],
    starts: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    support: int = 0,
) -> list[dict[str, str]]:
    """Per text cut into several ``passages`` (each text's first at ``starts``;
    ``scores``: theirs), the passage behind each label's score (its best, or as
    ``support`` says: :func:`best_of`); ``{}`` for a text read whole."""
    rows = best_rows(scores, starts, support)
    counts = np.diff(np.r_[starts, len(passages)])
    return [
        {label: passages[rows[i, j]] for j, label in enumerate(labels)} if n > 1 else {}
        for i, n in enumerate(counts)
    ]


def by_passage(
    score: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    min_words: int,
    support: int = 0,
) -> np.ndarray:
    """``score(texts)`` (``(n_texts, n_labels)``), each text's row its
    :func:`passages`' scores as :func:`best_of` pools them (``support``); ``min_words``
    0: the texts scored whole."""
    texts = list(texts)
    if min_words <= 0 or not texts:
        return score(texts)
    flat, starts = split_passages(texts, min_words)
    return best_of(score(flat), starts, support)
