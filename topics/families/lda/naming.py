"""Short names for topics: seeds, aligned labels, distinctive terms, or the user's own.

Every topic of a fitted :class:`~topics.families.lda.model.LdaTopics` gets a name,
in this order of precedence:

1. the user's override (``model.lda.topic_names``: a list of K names, or a
   mapping ``{topic index: name}``);
2. a seeded topic keeps its seed's name (``economy``);
3. a free topic that clearly goes with one label on the training data takes the
   label's name (see :func:`aligned_labels`);
4. otherwise its 2-3 most distinctive terms by relevance (Sievert & Shirley, 2014,
   lambda 0.6), ``"rail · freight · cargo"``, its first term never the first term
   of another topic.

Names are unique: a generated name that collides gets its topic number appended.

>>> import numpy as np
>>> topic_word = np.array([[0.5, 0.4, 0.05, 0.05], [0.05, 0.05, 0.5, 0.4]])
>>> term_names(topic_word, ["rail", "freight", "army", "troops"], np.full(4, 0.25), n_terms=2)
['rail · freight', 'army · troops']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

SEPARATOR = " · "
NAME_TERMS = 3
RELEVANCE_LAMBDA = 0.6
# A topic takes a label's name when, weighting each training document by the
# topic's share of it, at least ALIGN_SHARE of the topic carries the label and
# that is at least ALIGN_LIFT times the label's rate in the corpus.
ALIGN_SHARE = 0.5
ALIGN_LIFT = 2.0

TopicNames = Sequence[str] | Mapping[int, str]


def override_problem(overrides: Any, num_topics: int) -> str | None:
    """What is wrong with ``model.lda.topic_names`` for ``num_topics`` topics, as one
    line (expected / found / how to fix), or None when it is usable."""
    if overrides is None:
        return None
    if isinstance(overrides, Mapping):
        bad = [k for k in overrides if isinstance(k, bool) or not isinstance(k, int)]
        if bad:
            return f"topic_names: keys must be topic indices (ints), found {bad[0]!r}"
        outside = sorted(k for k in overrides if not 0 <= k < num_topics)
        if outside:
            return (
                f"topic_names: topic index {outside[0]} is out of range, num_topics={num_topics} "
                f"has topics 0..{num_topics - 1}; use an index in that range"
            )
        names = list(overrides.values())
    elif isinstance(overrides, Sequence) and not isinstance(overrides, str):
        names = list(overrides)
        if len(names) != num_topics:
            return (
                f"topic_names: expected {num_topics} names (one per topic, num_topics="
                f"{num_topics}), found {len(names)}; give one per topic or a mapping "
                "{topic index: name}"
            )
    else:
        return f"topic_names: expected a list of names or {{index: name}}, found {overrides!r}"
    blank = [name for name in names if not isinstance(name, str) or not name.strip()]
    if blank:
        return f"topic_names: names must be non-empty text, found {blank[0]!r}"
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        return f"topic_names: names must be unique, {repeated[0]!r} is given more than once"
    return None


def as_mapping(overrides: TopicNames | None) -> dict[int, str]:
    """``model.lda.topic_names`` as ``{topic index: name}`` (a list names every topic)."""
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return {int(k): str(v).strip() for k, v in overrides.items()}
    return {k: str(name).strip() for k, name in enumerate(overrides)}


def display_term(term: str) -> str:
    """A vocabulary term as a reader writes it (merged phrases ``new_york`` -> ``new york``)."""
    return term.replace("_", " ")


def relevance(topic_word: np.ndarray, word_share: np.ndarray, lam: float) -> np.ndarray:
    """LDAvis relevance ``lam * log p(w|k) + (1 - lam) * log(p(w|k) / p(w))``, ``(K, V)``."""
    tiny = np.finfo(np.float64).tiny
    log_phi = np.log(np.maximum(topic_word, tiny))
    log_share = np.log(np.maximum(word_share, tiny))
    return lam * log_phi + (1.0 - lam) * (log_phi - log_share)


def term_names(
    topic_word: np.ndarray,
    vocabulary: Sequence[str],
    word_share: np.ndarray,
    n_terms: int = NAME_TERMS,
    lam: float = RELEVANCE_LAMBDA,
) -> list[str]:
    """Each topic's ``n_terms`` most relevant terms joined with ``" · "``; a topic's
    first (head) term is never an earlier topic's head term."""
    scores = relevance(topic_word, word_share, lam)
    heads: set[int] = set()
    names = []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        head = next((int(i) for i in order if int(i) not in heads), int(order[0]))
        heads.add(head)
        rest = [int(i) for i in order if int(i) != head][: max(0, n_terms - 1)]
        names.append(SEPARATOR.join(display_term(vocabulary[i]) for i in [head, *rest]))
    return names


def aligned_labels(
    theta: np.ndarray,
    y: np.ndarray,
    label_names: Sequence[str],
    candidates: Sequence[int],
    share: float = ALIGN_SHARE,
    lift: float = ALIGN_LIFT,
) -> dict[int, str]:
    """``{topic: label}`` for the free topics (``candidates``) that clearly go with a label.

    For topic k and label l, ``rate[k, l]`` is the share of the topic's weight, over
    the documents ``theta`` describes, that falls on documents carrying l. A label is
    given to its best topic when that rate reaches ``share`` and ``lift`` times the
    label's rate among all documents; a topic takes at most one label (its best).
    Decide this on training documents only.
    """
    y = np.asarray(y, dtype=np.float64)
    weight = theta.sum(axis=0)
    rate = (theta.T @ y) / np.maximum(weight, 1e-12)[:, None]  # (K, L)
    base = y.mean(axis=0)
    clear = (rate >= share) & (rate >= lift * base[None, :])
    allowed = np.zeros(theta.shape[1], dtype=bool)
    allowed[list(candidates)] = True
    clear &= allowed[:, None]
    aligned: dict[int, str] = {}
    for j in np.argsort(-rate.max(axis=0), kind="stable"):  # surest labels choose first
        topics = [k for k in np.argsort(-rate[:, j], kind="stable") if clear[k, j]]
        topics = [k for k in topics if int(k) not in aligned and rate[k].argmax() == j]
        if topics:
            aligned[int(topics[0])] = label_names[j]
    return aligned


def name_topics(
    generated: Sequence[str],
    seed_names: Sequence[str],
    aligned: Mapping[int, str],
    overrides: Mapping[int, str],
) -> list[str]:
    """One unique name per topic: override, else seed, else aligned label, else
    ``generated[k]``; a generated name that repeats another gets `` (topic k)``."""
    names = []
    for k, terms in enumerate(generated):
        if k in overrides:
            names.append(overrides[k])
        elif k < len(seed_names):
            names.append(seed_names[k])
        elif k in aligned:
            names.append(aligned[k])
        else:
            names.append(terms)
    fixed = {k for k in range(len(names)) if k in overrides or k < len(seed_names)}
    taken = {names[k] for k in fixed}
    if len(taken) < len(fixed):
        given = [names[k] for k in sorted(fixed)]
        repeated = sorted({name for name in given if given.count(name) > 1})
        raise ValueError(
            f"topic_names: {repeated[0]!r} names two topics (a seeded topic keeps its seed's "
            "name); give each topic its own name"
        )
    for k, name in enumerate(names):
        if k in fixed:
            continue
        if name in taken:
            names[k] = f"{name} (topic {k})"
        taken.add(names[k])
    return names


def one_hot(y: np.ndarray, n_labels: int) -> np.ndarray:
    """Class indices ``(n,)`` -> 0/1 ``(n, n_labels)``; a 0/1 matrix is returned as is."""
    y = np.asarray(y)
    if y.ndim == 2:
        return y
    matrix = np.zeros((len(y), n_labels), dtype=np.int64)
    matrix[np.arange(len(y)), y.astype(np.int64)] = 1
    return matrix
