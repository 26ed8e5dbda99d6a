"""Choosing K: train one LDA per K, score coherence and held-out perplexity.

Held-out perplexity is by document completion: each held-out document's tokens
are split alternately in two; topic proportions inferred from the first half
(:func:`topics.kernels.lda.infer_topics`) predict the second half.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def sweep_k(
    make_lda: Callable[[int], Any],
    ks: Sequence[int],
    train_texts: Sequence[str],
    heldout_texts: Sequence[str],
    on_result: Callable[[KScore], None] | None = None,
) -> list[KScore]:
    """Fit ``make_lda(k)`` on ``train_texts`` for each ``k``; score each (see module doc)."""
    import time

    from topics.evaluate.topic_quality import topic_diversity

    results = []
    for k in ks:
        start = time.perf_counter()
        lda = make_lda(k).fit(list(train_texts))
        seconds = time.perf_counter() - start
        scores = lda.coherence(train_texts, measures=("c_v", "c_npmi", "u_mass"))
        result = KScore(
            num_topics=k,
            c_v=scores["c_v"],
            c_npmi=scores["c_npmi"],
            u_mass=scores["u_mass"],
            diversity=topic_diversity(lda.topic_word_),
            perplexity=heldout_perplexity(lda, heldout_texts),
            fit_seconds=round(seconds, 3),
        )
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results


def best_k(results: Sequence[KScore], select_by: str) -> KScore:
    """Highest coherence, or lowest perplexity."""
    if select_by == "perplexity":
        return min(results, key=lambda r: r.perplexity)
    return max(results, key=lambda r: getattr(r, select_by))
