"""Embedding topics in numpy: topic proportions from sentence vectors, and class-based TF-IDF.

:class:`topics.families.embedding_topics.EmbeddingTopics` clusters unit-length
sentence embeddings around ``K`` centroids; a document's topic proportions are the
softmax of its cosine similarity to every centroid, divided by a temperature
fitted on the training documents. Training and the predictor share
:func:`topic_proportions`, so both give the same numbers.

>>> import numpy as np
>>> centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> topic_proportions(np.array([[2.0, 0.0]]), centroids, 0.1).round(3)
array([[1., 0.]])
"""

from __future__ import annotations

import numpy as np

# Temperatures tried by fit_temperature: soft (1.0) down to nearly hard (0.005).
TEMPERATURES = np.geomspace(0.005, 1.0, 40)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (all-zero rows stay zero), float64."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def topic_proportions(
    embeddings: np.ndarray, centroids: np.ndarray, temperature: float
) -> np.ndarray:
    """``(n, K)`` rows summing to 1: softmax over topics of cos(document, centroid) / temperature.

    ``centroids`` ``(K, d)`` are unit rows; ``embeddings`` ``(n, d)`` any length (normalised here).
    """
    logits = unit_rows(embeddings) @ np.asarray(centroids, dtype=np.float64).T / temperature
    logits -= logits.max(axis=1, keepdims=True)
    proportions = np.exp(logits)
    return proportions / proportions.sum(axis=1, keepdims=True)


def fit_temperature(
    embeddings: np.ndarray, centroids: np.ndarray, assignments: np.ndarray
) -> float:
    """The temperature of :data:`TEMPERATURES` under which the training documents'
    proportions give their own cluster the highest likelihood (mean log proportion)."""
    similarity = unit_rows(embeddings) @ np.asarray(centroids, dtype=np.float64).T
    rows = np.arange(len(assignments))
    best, best_score = float(TEMPERATURES[-1]), -np.inf
    for temperature in TEMPERATURES:
        logits = similarity / temperature
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        score = float(np.mean(logits[rows, assignments] - log_norm))
        if score > best_score:
            best, best_score = float(temperature), score
    return best


def class_tfidf(class_counts: np.ndarray) -> np.ndarray:
    """BERTopic's class-based TF-IDF of term counts per topic ``(K, V)``:
    ``tf[t, c] * log(1 + A / f[t])``, with ``tf`` each topic's counts scaled to sum
    to 1, ``f[t]`` the term's count over all topics and ``A`` the mean words per topic."""
    counts = np.asarray(class_counts, dtype=np.float64)
    term_totals = counts.sum(axis=0)
    average_words = counts.sum() / max(counts.shape[0], 1)
    idf = np.log1p(average_words / np.maximum(term_totals, 1.0))
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
    return tf * idf


def distinctive_terms(class_doc_counts: np.ndarray) -> np.ndarray:
    """Each term's share of the KL divergence of a topic from the whole corpus,
    ``p(t|c) * log(p(t|c) / p(t))``, from the number of each topic's documents
    holding each term ``(K, V)``: terms frequent in a topic and rare elsewhere rank
    first; terms no more frequent there than anywhere score <= 0."""
    counts = np.asarray(class_doc_counts, dtype=np.float64)
    p_term_topic = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
    p_term = counts.sum(axis=0) / max(counts.sum(), 1e-12)
    ratio = np.divide(p_term_topic, p_term, out=np.ones_like(p_term_topic), where=p_term > 0)
    return p_term_topic * np.log(np.where(p_term_topic > 0, ratio, 1.0))
