from __future__ import annotations

import numpy as np
import pytest

from topics.families.lda.seeding import missing_seed_words, seed_eta, seed_recall

VOCAB = ["trade", "export", "army", "troops", "rain", "snow"]
SEEDS = {"economy": ["trade", "export", "tariff"], "defense": ["army", "troops"]}


def test_seeded_topics_come_first_in_mapping_order() -> None:
    eta = seed_eta(VOCAB, SEEDS, num_topics=4, base=0.01, strength=2.0)
    assert eta.shape == (4, 6)
    np.testing.assert_array_equal(eta[0], [2.0, 2.0, 0.01, 0.01, 0.01, 0.01])
    np.testing.assert_array_equal(eta[1], [0.01, 0.01, 2.0, 2.0, 0.01, 0.01])
    np.testing.assert_array_equal(eta[2:], 0.01)  # free topics keep the base prior


def test_no_seeds_is_the_symmetric_prior() -> None:
    np.testing.assert_array_equal(seed_eta(VOCAB, {}, 3, 0.1, 1.0), np.full((3, 6), 0.1))


def test_more_seeded_topics_than_k_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="raise num_topics to at least 2"):
        seed_eta(VOCAB, SEEDS, num_topics=1, base=0.01, strength=1.0)


def test_missing_seed_words_are_reported() -> None:
    assert missing_seed_words(VOCAB, SEEDS) == {"economy": ["tariff"]}


def test_seed_recall_counts_in_vocabulary_seed_words_in_top_words() -> None:
    top = [["trade", "rain"], ["army", "troops"]]
    assert seed_recall(top, SEEDS, VOCAB) == {"economy": 0.5, "defense": 1.0}
