"""Topic names: distinctive terms, seeds, aligned labels and the user's overrides."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import TINY_ARTICLES
from tests.test_topic_models import SEEDS, TEXTS, fit_tiny
from topics.families.lda.naming import (
    SEPARATOR,
    aligned_labels,
    name_topics,
    override_problem,
    term_names,
)

LABELS = ["economy", "defense", "human rights", "transport"]
Y_TINY = np.array(
    [[int(label in labels) for label in LABELS] for _, _, labels in TINY_ARTICLES] * 3
)


def test_term_names_never_reuse_another_topics_head_word() -> None:
    # both topics are mostly "rail": the second one's name must start elsewhere
    topic_word = np.array([[0.6, 0.3, 0.05, 0.05], [0.5, 0.05, 0.4, 0.05]])
    names = term_names(topic_word, ["rail", "freight", "metro", "bus"], np.full(4, 0.25))
    heads = [name.split(SEPARATOR)[0] for name in names]
    assert heads[0] == "rail" and heads[1] != "rail"
    assert all(len(name.split(SEPARATOR)) == 3 for name in names)


def test_term_names_prefer_distinctive_over_merely_frequent_words() -> None:
    # "said" is as likely in the topic as "tariff" but common everywhere: relevance drops it
    topic_word = np.array([[0.3, 0.3, 0.2, 0.2]])
    share = np.array([0.7, 0.01, 0.1, 0.19])
    assert term_names(topic_word, ["said", "tariff", "trade", "year"], share, n_terms=2) == [
        "tariff · trade"
    ]


def test_aligned_labels_name_only_topics_that_clearly_carry_a_label() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros((300, 2), dtype=np.int64)
    y[:100, 0] = 1  # economy: the first 100 documents
    theta = np.full((300, 3), 0.05)
    theta[:100, 0] = 0.9  # topic 0 sits on the economy documents
    theta[:, 2] += rng.uniform(0, 0.4, size=300)  # topic 2 is everywhere: no label
    theta /= theta.sum(axis=1, keepdims=True)
    aligned = aligned_labels(theta, y, ["economy", "defense"], candidates=[0, 1, 2])
    assert aligned == {0: "economy"}
    assert aligned_labels(theta, y, ["economy", "defense"], candidates=[1, 2]) == {}


def test_names_follow_override_then_seed_then_label_then_terms_and_are_unique() -> None:
    generated = ["bank · tenge", "army · troops", "rail · cargo", "rail · cargo", "x · y"]
    names = name_topics(generated, ["economy"], {1: "defense"}, {4: "Football"})
    assert names == ["economy", "defense", "rail · cargo", "rail · cargo (topic 3)", "Football"]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["a", "b"], "expected 4 names (one per topic, num_topics=4), found 2"),
        ({7: "rail"}, "topic index 7 is out of range, num_topics=4 has topics 0..3"),
        ({0: "rail", 2: "rail"}, "'rail' is given more than once"),
        ({1: " "}, "names must be non-empty text"),
    ],
    ids=["wrong-length", "index-out-of-range", "repeated-name", "blank-name"],
)
def test_bad_overrides_are_one_line_that_says_what_to_fix(overrides: object, message: str) -> None:
    problem = override_problem(overrides, 4)
    assert problem is not None and message in problem and "\n" not in problem


def test_fitted_topics_get_term_names_unless_seeded_or_overridden() -> None:
    lda = fit_tiny(num_topics=5, seeds=SEEDS, seed_strength=2.0, topic_names={4: "sport"})
    assert lda.topic_names_ == [*SEEDS, "sport"]
    free = fit_tiny(num_topics=4)
    assert len(set(free.topic_names_)) == 4
    for name, words in zip(free.topic_names_, free.top_words(20), strict=True):
        terms = name.split(SEPARATOR)
        assert len(terms) == 3 and set(terms) <= set(words), (name, words)


def test_a_topic_aligned_with_a_label_on_train_takes_its_name() -> None:
    lda = fit_tiny(num_topics=4, label_names=LABELS).fit(TEXTS, Y_TINY)
    named = [name for name in lda.topic_names_ if name in LABELS]
    assert named, lda.topic_names_  # the tiny corpus has one topic per label
    theta = lda.transform(TEXTS)
    for name in named:
        k, j = lda.topic_names_.index(name), LABELS.index(name)
        assert theta[Y_TINY[:, j] == 1, k].mean() > 2 * theta[Y_TINY[:, j] == 0, k].mean()
    assert fit_tiny(num_topics=4).topic_names_ == fit_tiny(num_topics=4).topic_names_


def test_a_bad_override_stops_the_fit_in_one_line() -> None:
    with pytest.raises(ValueError, match="expected 4 names .* found 1"):
        fit_tiny(num_topics=4, topic_names=["only one"])
