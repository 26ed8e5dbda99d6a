"""The interactive topic view of ``report.html``: an intertopic map and a term panel.

Model-agnostic: the input is plain arrays (a row-normalised topic-term matrix, the
terms, their overall frequency, the topic prevalence, optional names and up to three
representative documents per topic), so any topic family can feed it.

- :func:`topic_view_data` computes, in numpy, the map (Jensen-Shannon divergence
  between topics, then classical multidimensional scaling to 2-D, as LDAvis does)
  and the pool of terms the page may rank; the result is a small JSON-able dict
  that a run saves beside its plots (:func:`write_topic_view`).
- :func:`render_topic_views` (from :mod:`topics.evaluate.topic_view_page`) turns
  saved views into one HTML fragment: the map as
  inline SVG (drawn without JavaScript too), the data in a
  ``<script type="application/json">`` block, and a short script (no library, no
  CDN: the page still opens from disk) that shows a clicked topic's terms ranked by
  relevance, ``lambda * log p(w|k) + (1 - lambda) * log(p(w|k) / p(w))``, with a
  slider for lambda, the topic's size and its representative documents.

A hand-written SVG/JS view, data included, weighs ~190 KB for a K=50 LDA on 20
Newsgroups, where plotly's inlined JS alone is ~4.8 MB (see
``benchmarks/results/topic_view.md``).

>>> import numpy as np
>>> topic_term = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
>>> data = topic_view_data(topic_term, ["rail", "port", "tax"], [5, 4, 5], [0.5, 0.5])
>>> [t["name"] for t in data["topics"]]
['topic 0', 'topic 1']
>>> "<svg" in render_topic_views([data])
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from topics.evaluate.topic_view_page import render_topic_views, script_json

FORMAT = "topics.topic_view"
VERSION = 1
SUFFIX = "_topic_view.json"  # plots/<model>_topic_view.json, one per topic family
TOP_TERMS = 30
DEFAULT_LAMBDA = 0.6
# lambda = 0, 0.01, ..., 1: the breakpoints of the pool's bound. A finer grid ships
# fewer terms (K=50 on 20 Newsgroups: 11 points ~470 per topic; see the benchmark).
LAMBDA_GRID = 101
MAX_DOCUMENTS = 3
SNIPPET = 200

Document = tuple[str, float]  # (title or first characters, weight of the topic in it)


def topic_view_data(
    topic_term: Any,
    terms: Sequence[str],
    term_frequency: Any,
    prevalence: Any,
    names: Sequence[str] | None = None,
    documents: Sequence[Sequence[Document]] | None = None,
    *,
    model: str = "topics",
    top_n: int = TOP_TERMS,
) -> dict[str, Any]:
    """Everything the page needs for one topic model, as a JSON-able dict.

    Parameters
    ----------
    topic_term : array of shape (K, V)
        ``p(w|k)``: each row a distribution over the terms (rows sum to 1).
    terms : sequence of str, length V
        The term of every column.
    term_frequency : array of shape (V,)
        Each term's count (or share) in the corpus: ``p(w)`` for relevance.
    prevalence : array of shape (K,)
        Each topic's share of the corpus (normalised here); sizes the circles.
    names : sequence of K str or None
        Topic names; None gives ``"topic k"``.
    documents : K sequences of (text, weight) or None
        The most representative documents of each topic (the first 3 are kept,
        each cut to its first 200 characters).
    model : str
        Which model the view shows (``"lda"``), for the heading.
    top_n : int
        Terms listed per topic.
    """
    if not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n: expected an int >= 1 (terms listed per topic), found {top_n!r}")
    matrix, frequency, shares = _checked(topic_term, terms, term_frequency, prevalence)
    num_topics = matrix.shape[0]
    names = [f"topic {k}" for k in range(num_topics)] if names is None else list(names)
    if len(names) != num_topics:
        raise ValueError(f"names: expected {num_topics} (one per topic), found {len(names)}")
    if documents is not None and len(documents) != num_topics:
        raise ValueError(
            f"documents: expected {num_topics} lists (one per topic), found {len(documents)}"
        )
    log_term = np.log(frequency / frequency.sum())
    log_topic = np.log(np.maximum(matrix, np.finfo(float).tiny))
    pools = [relevance_pool(row, log_term, top_n) for row in log_topic]
    used = np.unique(np.concatenate(pools))
    position = {int(v): i for i, v in enumerate(used)}
    xy = intertopic_coordinates(matrix)
    topics = []
    for k in range(num_topics):
        docs = documents[k][:MAX_DOCUMENTS] if documents is not None else []
        topics.append(
            {
                "name": str(names[k]),
                "share": round(float(shares[k]), 6),
                "x": round(float(xy[k, 0]), 5),
                "y": round(float(xy[k, 1]), 5),
                "terms": [position[int(v)] for v in pools[k]],
                "log_probs": [round(float(log_topic[k, v]), 4) for v in pools[k]],
                "documents": [
                    {"text": _snippet(text), "weight": round(float(weight), 4)}
                    for text, weight in docs
                ],
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": model,
        "top_n": int(top_n),
        "lambda": DEFAULT_LAMBDA,
        "terms": [str(terms[v]) for v in used],
        "log_term_share": [round(float(log_term[v]), 4) for v in used],
        "topics": topics,
    }


def _checked(
    topic_term: Any, terms: Sequence[str], term_frequency: Any, prevalence: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    matrix = np.asarray(topic_term, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 2:
        raise ValueError(
            f"topic_term: expected a (K, V) matrix with K >= 2 topics and V >= 2 terms, "
            f"found shape {matrix.shape}"
        )
    num_topics, num_terms = matrix.shape
    sums = matrix.sum(axis=1)
    if not np.all(np.isfinite(matrix)) or matrix.min() < 0 or not np.allclose(sums, 1, atol=1e-4):
        raise ValueError(
            "topic_term: expected rows of p(w|k) (finite, >= 0, each summing to 1), found row "
            f"sums {sums.min():.4g}..{sums.max():.4g}; divide each row by its sum first"
        )
    if len(terms) != num_terms:
        raise ValueError(f"terms: expected {num_terms} (one per column), found {len(terms)}")
    frequency = np.asarray(term_frequency, dtype=float)
    if frequency.shape != (num_terms,) or not np.all(np.isfinite(frequency)):
        raise ValueError(
            f"term_frequency: expected {num_terms} finite values, found shape {frequency.shape}"
        )
    # A term the corpus never counts (possible with smoothed topics) gets the least
    # positive count, so its log share stays finite.
    positive = frequency[frequency > 0]
    if positive.size == 0:
        raise ValueError("term_frequency: expected some positive counts, found none")
    frequency = np.where(frequency > 0, frequency, positive.min())
    shares = np.asarray(prevalence, dtype=float)
    if shares.shape != (num_topics,) or not np.all(shares >= 0) or shares.sum() <= 0:
        raise ValueError(
            f"prevalence: expected {num_topics} non-negative values with a positive sum, "
            f"found shape {shares.shape}"
        )
    return matrix, frequency, shares / shares.sum()


def jensen_shannon(topic_term: np.ndarray) -> np.ndarray:
    """``(K, K)`` Jensen-Shannon divergences (natural log) between the rows."""
    p = np.asarray(topic_term, dtype=float)
    # x log x with 0 log 0 = 0
    entropy_terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    out = np.zeros((len(p), len(p)))
    for i in range(len(p)):
        mix = (p[i] + p) / 2
        mix_terms = np.where(mix > 0, mix * np.log(np.where(mix > 0, mix, 1.0)), 0.0).sum(axis=1)
        out[i] = (entropy_terms[i] + entropy_terms) / 2 - mix_terms
    out = np.maximum((out + out.T) / 2, 0.0)
    np.fill_diagonal(out, 0.0)
    return out


def intertopic_coordinates(topic_term: np.ndarray) -> np.ndarray:
    """``(K, 2)`` map coordinates: the principal coordinates of the Jensen-Shannon
    divergences between topics, as LDAvis' default ``jsPCA``."""
    return principal_coordinates(jensen_shannon(topic_term))


def principal_coordinates(distance: np.ndarray, dimensions: int = 2) -> np.ndarray:
    """Classical multidimensional scaling of a ``(K, K)`` distance matrix.

    The double-centred matrix ``B = -1/2 J D^2 J`` is eigendecomposed; the largest
    eigenvalues' eigenvectors, scaled by their roots, are the coordinates (negative
    eigenvalues, from distances no plane can hold exactly, count as zero). Signs are
    fixed so the largest entry of each axis is positive: the same model always
    draws the same map.
    """
    size = len(distance)
    centring = np.eye(size) - np.full((size, size), 1.0 / size)
    inner = -0.5 * centring @ (np.asarray(distance, dtype=float) ** 2) @ centring
    values, vectors = np.linalg.eigh((inner + inner.T) / 2)
    order = np.argsort(values)[::-1][:dimensions]
    coords = vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))
    for axis in range(coords.shape[1]):
        if coords[np.argmax(np.abs(coords[:, axis])), axis] < 0:
            coords[:, axis] *= -1
    return coords


def relevance(log_topic: np.ndarray, log_term: np.ndarray, lam: float) -> np.ndarray:
    """LDAvis relevance of every term to a topic: ``lam * log p(w|k) + (1 - lam) * lift``."""
    return lam * log_topic + (1 - lam) * (log_topic - log_term)


def relevance_pool(log_topic: np.ndarray, log_term: np.ndarray, top_n: int) -> np.ndarray:
    """Every term that is among a topic's ``top_n`` by relevance for SOME lambda in [0, 1].

    Relevance is linear in lambda, so on a grid interval ``[a, b]`` a term's relevance
    is at most the larger of its two end values, and the n-th best relevance is at
    least the smallest end value over the top n at ``a`` (those n terms stay at least
    that good all along), and likewise for the top n at ``b``. A term whose larger end
    value is below that bound cannot enter the top n inside the interval. Keeping
    every other term makes the pool a superset, so the page's ranking, computed
    exactly from the shipped ``log p(w|k)`` and ``log p(w)``, is the true top n for
    every slider position, not an approximation between grid points.
    """
    top_n = min(top_n, len(log_topic))
    keep = np.zeros(len(log_topic), dtype=bool)
    previous = previous_best = None
    for lam in np.linspace(0.0, 1.0, LAMBDA_GRID):
        scores = relevance(log_topic, log_term, lam)
        best = np.argpartition(-scores, top_n - 1)[:top_n]
        if previous is not None and previous_best is not None:
            ends_min = np.minimum(previous, scores)
            bound = max(ends_min[previous_best].min(), ends_min[best].min())
            keep |= np.maximum(previous, scores) >= bound
        previous, previous_best = scores, best
    pool = np.flatnonzero(keep)
    return pool[np.argsort(-log_topic[pool], kind="stable")]


def representative_documents(
    doc_topic: Any, texts: Sequence[str], count: int = MAX_DOCUMENTS
) -> list[list[Document]]:
    """For each topic, the ``count`` documents where its weight is highest, as
    ``(text, weight)``: what :func:`topic_view_data` takes as ``documents``."""
    theta = np.asarray(doc_topic, dtype=float)
    if theta.ndim != 2 or theta.shape[0] != len(texts):
        raise ValueError(
            f"doc_topic: expected ({len(texts)}, K), one row per text, found {theta.shape}"
        )
    order = np.argsort(-theta, axis=0, kind="stable")[:count]
    return [[(texts[d], float(theta[d, k])) for d in order[:, k]] for k in range(theta.shape[1])]


def write_topic_view(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return path


def read_topic_view(path: Path) -> dict[str, Any]:
    """A saved view, checked for its format and version before it is used."""
    data = json.loads(path.read_text(encoding="utf-8"))
    found = (data.get("format"), data.get("version")) if isinstance(data, dict) else None
    if found != (FORMAT, VERSION):
        raise ValueError(
            f"{path.name}: expected a {FORMAT} version {VERSION} file, found {found}; "
            "rerun the experiment to rewrite it"
        )
    return data


def _snippet(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= SNIPPET else flat[:SNIPPET] + "…"


__all__ = [
    "SUFFIX",
    "intertopic_coordinates",
    "jensen_shannon",
    "principal_coordinates",
    "read_topic_view",
    "relevance",
    "relevance_pool",
    "render_topic_views",
    "representative_documents",
    "script_json",
    "topic_view_data",
    "write_topic_view",
]
