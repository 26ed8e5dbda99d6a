"""Seeded LDA: per-label seed words become a K x V topic-word prior ``eta``.

Seeded topics come first, in the order of the ``seeds`` mapping, and keep their
label names, so topic 0 is "economy" in every run; the remaining topics are free.

>>> eta = seed_eta(["trade", "army", "rain"], {"economy": ["trade"]}, 3, 0.01, 1.0)
>>> eta.tolist()
[[1.0, 0.01, 0.01], [0.01, 0.01, 0.01], [0.01, 0.01, 0.01]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def seed_eta(
    vocabulary: Sequence[str],
    seeds: Mapping[str, Sequence[str]],
    num_topics: int,
    base: float,
    strength: float,
) -> np.ndarray:
    """``(num_topics, V)`` prior: ``base`` everywhere, ``strength`` for each seeded
    topic's own seed words. Seed words not in ``vocabulary`` are skipped
    (see :func:`missing_seed_words`).

    Raises ``ValueError`` when there are more seeded topics than ``num_topics``.
    """
    if len(seeds) > num_topics:
        raise ValueError(
            f"seeded LDA: {len(seeds)} seeded topics ({', '.join(seeds)}) but "
            f"num_topics={num_topics}; raise num_topics to at least {len(seeds)}"
        )
    if base <= 0 or strength <= 0:
        raise ValueError(f"seeded LDA: eta and seed strength must be > 0, got {base}, {strength}")
    index = {word: i for i, word in enumerate(vocabulary)}
    eta = np.full((num_topics, len(vocabulary)), float(base))
    for k, words in enumerate(seeds.values()):
        ids = [index[w] for w in words if w in index]
        eta[k, ids] = float(strength)
    return eta


def missing_seed_words(
    vocabulary: Sequence[str], seeds: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """``{topic: [seed words absent from the vocabulary]}`` (topics with none left out)."""
    known = set(vocabulary)
    missing = {name: [w for w in words if w not in known] for name, words in seeds.items()}
    return {name: words for name, words in missing.items() if words}


def seed_recall(
    top_words: Sequence[Sequence[str]],
    seeds: Mapping[str, Sequence[str]],
    vocabulary: Sequence[str],
) -> dict[str, float]:
    """Per seeded topic: the fraction of its in-vocabulary seed words found in its top words."""
    known = set(vocabulary)
    recall = {}
    for k, (name, words) in enumerate(seeds.items()):
        usable = [w for w in words if w in known]
        top = set(top_words[k])
        recall[name] = sum(w in top for w in usable) / len(usable) if usable else float("nan")
    return recall
