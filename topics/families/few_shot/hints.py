"""Hints of the few-shot family: where a label's seed words or descriptions point
at a text of the archive, read from the texts' unit sentence vectors (see
:mod:`topics.families.few_shot`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from topics.families.base import ArrayStore
from topics.families.features import _texts_digest
from topics.families.sentence_encoder import TorchBertEmbedder
from topics.kernels.embedding_topics import unit_rows

logger = logging.getLogger(__name__)

WORD = re.compile(r"\w+")
Descriptions = Mapping[str, str | Sequence[str]]
Embed = Callable[[list[str]], np.ndarray]


def sentences(descriptions: Descriptions | None) -> dict[str, list[str]]:
    """Label -> its description sentences, labels with none left out."""
    out = {}
    for name, value in (descriptions or {}).items():
        lines = [value] if isinstance(value, str) else list(value)
        if lines := [text for text in lines if text.strip()]:
            out[name] = lines
    return out


def description_similarity(
    vectors: np.ndarray,
    descriptions: Descriptions | None,
    labels: Sequence[str],
    embed: Embed,
) -> np.ndarray:
    """``(n_texts, n_labels)`` cosine similarity of each unit vector in ``vectors`` to
    the nearest of a label's description sentences, embedded by ``embed``; NaN in the
    columns of labels with no description."""
    described = sentences(descriptions)
    similarity = np.full((len(vectors), len(labels)), np.nan)
    for j, name in enumerate(labels):
        if name in described:
            similarity[:, j] = (vectors @ unit_rows(embed(described[name])).T).max(axis=1)
    return similarity


def closeness(
    vectors: np.ndarray,
    descriptions: Descriptions | None,
    none_lines: list[str],
    labels: Sequence[str],
    embed: Embed,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each text to its label's nearest description sentence
    ``(n, n_labels)`` (NaN: no description) and to each of ``none_lines``
    ``(n, n_none)``."""
    similarity = description_similarity(vectors, descriptions, labels, embed)
    if not none_lines:
        return similarity, np.zeros((len(vectors), 0))
    return similarity, vectors @ unit_rows(embed(none_lines)).T


def seeded_hints(
    texts: Sequence[str],
    similarity: np.ndarray,
    to_none: np.ndarray,
    labels: Sequence[str],
    seed_words: Mapping[str, Sequence[str]] | None,
    described: set[str],
    threshold: float,
    none_margin: float,
) -> np.ndarray:
    """1 where a label's seed word or description points at a text, 0 where neither
    does, -1 in the columns of labels with neither. A description points at a text
    whose ``similarity`` reaches ``threshold``; a text whose nearest none line
    (``to_none``) is nearer than a described label's description by ``none_margin``
    gets no hint of that label, from its description or its seed words."""
    hints = np.full((len(texts), len(labels)), -1, dtype=np.int8)
    seeds = {name: {w.lower() for w in words} for name, words in (seed_words or {}).items()}
    nearest_none = to_none.max(axis=1) if to_none.shape[1] else np.full(len(texts), -np.inf)
    words = [set(WORD.findall(text.lower())) for text in texts] if seeds else []
    for j, name in enumerate(labels):
        if name not in seeds and name not in described:
            continue
        hit = similarity[:, j] >= threshold  # NaN (no description): False
        if name in seeds:
            hit |= np.array([bool(seeds[name] & found) for found in words], dtype=bool)
        if name in described:
            hit &= similarity[:, j] >= nearest_none + none_margin
        hints[:, j] = hit
    return hints


def none_shadows(
    similarity: np.ndarray,
    to_none: np.ndarray,
    y_lab: np.ndarray,
    labels: Sequence[str],
    none_lines: list[str],
    none_margin: float,
) -> dict[str, dict[str, int]]:
    """Label -> none line -> how many of the label's labelled examples (the rows of
    ``similarity`` and ``to_none``, labelled ``y_lab``) that line takes the label's
    hints from: it is their nearest none line, and nearer than the label's
    description by ``none_margin``. One warning per line that takes a quarter or more
    of a label's examples (two at least): a none line that overlaps a label, e.g.
    "courts" for human rights."""
    shadows: dict[str, dict[str, int]] = {}
    for j, name in enumerate(labels):
        mine = y_lab[:, j] == 1
        lost = mine & (similarity[:, j] < to_none.max(axis=1) + none_margin)
        if not lost.any():  # NaN (no description) compares False: nothing lost
            continue
        lines, counts = np.unique(to_none[lost].argmax(axis=1), return_counts=True)
        shadows[name] = {none_lines[i]: int(c) for i, c in zip(lines, counts, strict=True)}
        for line, count in shadows[name].items():
            if count >= max(2, mine.sum() / 4):
                logger.warning(
                    "few_shot: the none description %r is nearer than %s's description "
                    "for %d of its %d labelled examples, so texts like them get no %s "
                    "hint; reword or remove that line, or lower model.few_shot.none_margin",
                    line,
                    name,
                    count,
                    mine.sum(),
                    name,
                )
    return shadows


def embed_unique(
    texts: Sequence[str],
    embedder: TorchBertEmbedder,
    cache: ArrayStore | None,
) -> np.ndarray:
    """Unit vectors of ``texts``, each distinct text embedded once, sorted first so
    that one set of texts is one cache entry whatever their order (every draw of a
    learning curve shares the archive's)."""
    unique = sorted(set(texts))
    vectors = None
    key = ""
    if cache is not None:
        key = cache.key("embeddings", embedder.digest(), embedder.max_length, _texts_digest(unique))
        entry = cache.load("embeddings", key)
        vectors = None if entry is None else entry[1].get("vectors")
        if vectors is not None and vectors.shape[0] != len(unique):
            logger.warning("ignoring a cached embedding entry that does not check out")
            vectors = None
    if vectors is None:
        vectors = embedder.embed(unique)
        if cache is not None:
            cache.save("embeddings", key, {"model": embedder.pretrained}, {"vectors": vectors})
    row = {text: i for i, text in enumerate(unique)}
    return unit_rows(vectors[[row[text] for text in texts]])
