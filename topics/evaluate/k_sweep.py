"""Choosing K: score each K's fitted LDA by coherence and held-out perplexity.

The fits are the run side's (:mod:`topics.run.topic_runs`, one sweep trial per K);
this module only scores a fitted model and picks the best K.

Held-out perplexity is by document completion: each held-out document's tokens
are split alternately in two; topic proportions inferred from the first half
(:func:`topics.kernels.lda.infer_topics`) predict the second half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from topics.evaluate.topic_quality import topic_diversity
from topics.kernels.lda import bag_of_words, infer_topics


@dataclass
class KScore:
    num_topics: int
    c_v: float
    c_npmi: float
    u_mass: float
    diversity: float
    perplexity: float
    fit_seconds: float

    def metrics(self) -> dict[str, float]:
        return {
            "lda_coherence_c_v": self.c_v,
            "lda_coherence_c_npmi": self.c_npmi,
            "lda_coherence_u_mass": self.u_mass,
            "lda_topic_diversity": self.diversity,
            "lda_heldout_perplexity": self.perplexity,
            "lda_fit_seconds": self.fit_seconds,
        }

    @classmethod
    def from_metrics(cls, num_topics: int, metrics: dict[str, float]) -> KScore:
        """The inverse of :meth:`metrics` (a K sweep trial sends back its metrics)."""
        return cls(
            num_topics=num_topics,
            c_v=metrics["lda_coherence_c_v"],
            c_npmi=metrics["lda_coherence_c_npmi"],
            u_mass=metrics["lda_coherence_u_mass"],
            diversity=metrics["lda_topic_diversity"],
            perplexity=metrics["lda_heldout_perplexity"],
            fit_seconds=metrics["lda_fit_seconds"],
        )


def heldout_perplexity(lda: Any, texts: Sequence[str]) -> float:
    """exp(-log-likelihood per word) of the second halves of ``texts``, given the first halves."""
    firsts, seconds = [], []
    for tokens in lda.tokenize(texts):
        if len(tokens) >= 2:
            firsts.append(bag_of_words(tokens[0::2], lda.index_))
            seconds.append(bag_of_words(tokens[1::2], lda.index_))
    if not firsts:
        raise ValueError("held-out perplexity: no held-out document has two known words")
    theta = infer_topics(firsts, lda.exp_elog_beta_, lda.alpha_)
    log_lik, n_words = 0.0, 0.0
    for d, (ids, counts) in enumerate(seconds):
        p = theta[d] @ lda.topic_word_[:, ids]
        log_lik += float(counts @ np.log(p))
        n_words += float(counts.sum())
    return float(np.exp(-log_lik / n_words))


def score_k(
    lda: Any, train_texts: Sequence[str], heldout_texts: Sequence[str], fit_seconds: float
) -> KScore:
    """Coherence (on ``train_texts``), diversity and held-out perplexity of a fitted LDA."""
    scores = lda.coherence(train_texts, measures=("c_v", "c_npmi", "u_mass"))
    return KScore(
        num_topics=lda.num_topics,
        c_v=scores["c_v"],
        c_npmi=scores["c_npmi"],
        u_mass=scores["u_mass"],
        diversity=topic_diversity(lda.topic_word_),
        perplexity=heldout_perplexity(lda, heldout_texts),
        fit_seconds=round(fit_seconds, 3),
    )


def best_k(results: Sequence[KScore], select_by: str) -> KScore:
    """Highest coherence, or lowest perplexity."""
    if select_by == "perplexity":
        return min(results, key=lambda r: r.perplexity)
    return max(results, key=lambda r: getattr(r, select_by))
