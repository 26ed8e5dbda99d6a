"""Topic quality: coherence, diversity, and stability across seeds.

- coherence: gensim ``CoherenceModel`` (c_v, c_npmi, u_mass) of each topic's top
  words against the tokenized training texts;
- diversity: unique words among the top 25 of every topic / (25 K);
- stability: topics of runs with different seeds matched one-to-one (Hungarian
  algorithm on the cosine similarity of topic-word distributions); the mean
  similarity of matched pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DIVERSITY_TOP_N = 25


def coherence(
    top_words: Sequence[Sequence[str]],
    texts: Sequence[Sequence[str]],
    measures: Sequence[str] = ("c_v", "c_npmi", "u_mass"),
    topn: int | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """``{measure: mean over topics, measure + "_per_topic": [...]}`` for tokenized ``texts``."""
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    topn = topn or min(len(words) for words in top_words)
    topics = [list(words[:topn]) for words in top_words]
    texts = [list(doc) for doc in texts if len(doc)]  # empty documents carry no co-occurrence
    dictionary = Dictionary(texts)
    corpus = [dictionary.doc2bow(doc) for doc in texts]
    scores: dict[str, Any] = {}
    for measure in measures:
        model = CoherenceModel(
            topics=topics,
            texts=texts,
            corpus=corpus,
            dictionary=dictionary,
            coherence=measure,
            topn=topn,
            processes=processes,
        )
        per_topic = [float(v) for v in model.get_coherence_per_topic()]
        scores[measure] = float(np.nanmean(per_topic))
        scores[f"{measure}_per_topic"] = per_topic
    return scores


def topic_diversity(topic_word: np.ndarray, top_n: int = DIVERSITY_TOP_N) -> float:
    """Unique words among every topic's ``top_n`` / ``top_n * K`` (1 = no word shared)."""
    top = np.argsort(-topic_word, axis=1, kind="stable")[:, :top_n]
    return float(len(np.unique(top)) / top.size)


def align_topics(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Match the topics of ``other`` to those of ``reference`` one-to-one.

    Returns ``(order, similarity)``: ``other[order[k]]`` is matched to
    ``reference[k]`` with cosine similarity ``similarity[k]``.
    """
    from scipy.optimize import linear_sum_assignment

    if reference.shape != other.shape:
        raise ValueError(
            f"align_topics: both models need the same (K, V); got {reference.shape} "
            f"and {other.shape}"
        )
    a = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    b = other / np.linalg.norm(other, axis=1, keepdims=True)
    sim = a @ b.T
    rows, cols = linear_sum_assignment(-sim)
    order = cols[np.argsort(rows)]
    return order, sim[np.arange(len(order)), order]


def stability(topic_words: Sequence[np.ndarray]) -> float:
    """Mean matched similarity over all pairs of runs (1 = the same topics every run)."""
    if len(topic_words) < 2:
        raise ValueError(f"stability needs at least 2 runs, got {len(topic_words)}")
    scores = [
        float(align_topics(topic_words[i], topic_words[j])[1].mean())
        for i in range(len(topic_words))
        for j in range(i + 1, len(topic_words))
    ]
    return float(np.mean(scores))
