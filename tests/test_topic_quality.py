from __future__ import annotations

import numpy as np
import pytest

from topics.evaluate.topic_quality import align_topics, coherence, stability, topic_diversity


def random_topics(seed: int, k: int = 6, v: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(v, 0.1), size=k)


def test_alignment_recovers_a_permutation() -> None:
    topics = random_topics(0)
    perm = np.array([3, 0, 5, 1, 4, 2])
    order, similarity = align_topics(topics, topics[perm])
    np.testing.assert_array_equal(perm[order], np.arange(6))
    np.testing.assert_allclose(similarity, 1.0)


def test_stability_is_one_for_permuted_copies_and_lower_for_unrelated_topics() -> None:
    topics = random_topics(1)
    assert stability([topics, topics[::-1], topics[[1, 0, 2, 3, 4, 5]]]) == pytest.approx(1.0)
    assert stability([topics, random_topics(2)]) < 0.5


def test_alignment_needs_equal_shapes() -> None:
    with pytest.raises(ValueError, match="same"):
        align_topics(random_topics(0, k=3), random_topics(0, k=4))


def test_diversity_counts_unique_top_words() -> None:
    distinct = np.eye(4)[:, :4] + 0.0  # each topic's top word differs
    assert topic_diversity(distinct, top_n=1) == 1.0
    same = np.tile([0.7, 0.2, 0.1, 0.0], (4, 1))
    assert topic_diversity(same, top_n=2) == pytest.approx(2 / 8)


def test_coherence_prefers_words_that_co_occur() -> None:
    texts = [["bank", "rate", "inflation"], ["army", "troops", "border"]] * 10
    good = coherence([["bank", "rate"], ["army", "troops"]], texts, measures=("c_npmi",))
    bad = coherence([["bank", "army"], ["rate", "troops"]], texts, measures=("c_npmi",))
    assert good["c_npmi"] > bad["c_npmi"]
    assert len(good["c_npmi_per_topic"]) == 2
