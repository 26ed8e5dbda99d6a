"""The pick rule of ``topics suggest``: uncertain, diverse, every label covered."""

from __future__ import annotations

import numpy as np
import pytest

from topics.evaluate.suggest import guesses, hashed_word_vectors, pick_for_labelling

LABELS = ["economy", "defense", "human rights"]
THRESHOLDS = np.array([0.5, 0.5, 0.5])


def distinct_texts(n: int) -> list[str]:
    return [f"article{i} words{i} about{i} topic{i}" for i in range(n)]


def test_round_robin_covers_every_label_then_the_unguessed() -> None:
    proba = np.array(
        [
            [0.9, 0.1, 0.1],
            [0.52, 0.1, 0.1],  # economy, uncertain
            [0.1, 0.6, 0.1],  # defense
            [0.1, 0.95, 0.1],
            [0.1, 0.1, 0.55],  # human rights
            [0.45, 0.1, 0.1],  # no guess, near economy
            [0.05, 0.05, 0.05],
        ]
    )
    vectors = hashed_word_vectors(distinct_texts(len(proba)))
    picks = pick_for_labelling(proba, THRESHOLDS, LABELS, vectors, n=7)
    assert [pick.queue for pick in picks[:4]] == [*LABELS, "none"]
    assert [pick.index for pick in picks[:4]] == [1, 2, 4, 5]  # the most uncertain of each
    assert picks[0].why == "uncertain about economy (0.52 vs threshold 0.50)"
    assert picks[3].why == "no label guessed; closest: economy (0.45 vs threshold 0.50)"
    assert sorted(pick.index for pick in picks) == list(range(7))  # no duplicates


def test_a_label_never_guessed_gets_its_highest_scoring_documents() -> None:
    # a zero-shot model that never says "human rights"
    proba = np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.35], [0.3, 0.2, 0.4], [0.1, 0.1, 0.1]])
    vectors = hashed_word_vectors(distinct_texts(4))
    picks = pick_for_labelling(proba, THRESHOLDS, LABELS, vectors, n=3)
    rights = [pick for pick in picks if pick.queue == "human rights"]
    assert [pick.index for pick in rights] == [2]
    assert rights[0].why == (
        "human rights is guessed for no document: among its highest scores (0.40 vs threshold 0.50)"
    )


def test_near_duplicates_of_a_pick_are_passed_over() -> None:
    story = "The national bank raised the base rate as inflation in Almaty kept rising"
    texts = [story, story + ".", "Army units held border drills with new drones", "Tenge fell"]
    proba = np.array([[0.51, 0.1, 0.1], [0.52, 0.1, 0.1], [0.9, 0.1, 0.1], [0.7, 0.1, 0.1]])
    picks = pick_for_labelling(proba, THRESHOLDS, LABELS, hashed_word_vectors(texts), n=4)
    indices = [pick.index for pick in picks]
    assert indices[0] == 0 and 1 not in indices  # the copy of the first pick is never picked
    assert sorted(indices) == [0, 2, 3]


def test_picks_are_deterministic_and_at_most_n() -> None:
    rng = np.random.default_rng(0)
    proba = rng.random((50, 3))
    vectors = hashed_word_vectors(distinct_texts(50))
    first = pick_for_labelling(proba, THRESHOLDS, LABELS, vectors, n=10)
    again = pick_for_labelling(proba, THRESHOLDS, LABELS, vectors, n=10)
    assert first == again and len(first) == 10
    assert len({pick.index for pick in first}) == 10


def test_single_label_bundles_pick_the_closest_calls() -> None:
    proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.38, 0.22], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7]])
    guessed = guesses(proba, THRESHOLDS, single_label=True)
    assert guessed.sum(axis=1).tolist() == [1, 1, 1, 1]
    vectors = hashed_word_vectors(distinct_texts(4))
    picks = pick_for_labelling(proba, THRESHOLDS, LABELS, vectors, n=1, single_label=True)
    assert picks[0].index == 1
    assert picks[0].why == "unsure between economy and defense (0.40 vs 0.38)"


def test_hashed_vectors_are_unit_length_and_see_copies_as_one() -> None:
    vectors = hashed_word_vectors(["rail cargo grew", "rail cargo grew", "army drills", ""])
    assert vectors.cosine_to(0).round(6).tolist()[:3] == [1.0, 1.0, 0.0]
    assert vectors.cosine_to(3).tolist() == [0.0] * 4


def test_bad_shapes_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="'proba' parameter of pick_for_labelling"):
        pick_for_labelling(np.zeros((2, 2)), THRESHOLDS, LABELS, hashed_word_vectors(["a"]), 1)
