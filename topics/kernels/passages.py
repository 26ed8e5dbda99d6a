"""Long texts scored passage by passage (``model.passages``, ``classify --passages``).

A model learns what a label looks like at the length of its training texts. One
trained on nyt-cap (a front-page title and a one-line summary, 14 words at the
median) sees a 300-word article as a blur: the sentence that makes it a transport
story weighs little in the whole. Cut into passages nearer the training length, the
article is scored passage by passage, and a label's score is that of its best
passage. The run's evaluation, :mod:`topics.serve.predictor` and ``topics evaluate``
all cut and pool with these functions, so the bundle reproduces the run's metrics.
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


def best_of(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per text, the column-wise maximum of its passages' rows of ``scores``."""
    if len(starts) == len(scores):  # one passage each
        return scores
    return np.maximum.reduceat(np.asarray(scores), starts, axis=0)


def best_rows(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per text and label, the row of ``scores`` :func:`best_of` takes: the index of
    the passage that gives the label its score, ``(n_texts, n_labels)``."""
    ends = [*starts[1:], len(scores)]
    rows = [a + np.argmax(scores[a:b], axis=0) for a, b in zip(starts, ends, strict=True)]
    return np.array(rows, dtype=np.intp).reshape(len(starts), np.shape(scores)[1])


def best_passages(
    passages: Sequence[str], starts: np.ndarray, scores: np.ndarray, labels: Sequence[str]
) -> list[dict[str, str]]:
    """Per text cut into several ``passages`` (each text's first at ``starts``;
    ``scores``: theirs), each label's best passage, the one behind its score; ``{}``
    for a text read whole."""
    rows = best_rows(scores, starts)
    counts = np.diff(np.r_[starts, len(passages)])
    return [
        {label: passages[rows[i, j]] for j, label in enumerate(labels)} if n > 1 else {}
        for i, n in enumerate(counts)
    ]


def by_passage(
    score: Callable[[list[str]], np.ndarray], texts: Sequence[str], min_words: int
) -> np.ndarray:
    """``score(texts)`` (``(n_texts, n_labels)``), each text's row the column-wise
    maximum over its :func:`passages`; ``min_words`` 0: the texts scored whole."""
    texts = list(texts)
    if min_words <= 0 or not texts:
        return score(texts)
    flat, starts = split_passages(texts, min_words)
    return best_of(score(flat), starts)
