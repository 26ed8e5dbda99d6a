from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import TINY_ARTICLES
from topics.topic_models import LdaTopics

TEXTS = [text for _, text, _ in TINY_ARTICLES] * 3


def fit_tiny(**params: object) -> LdaTopics:
    defaults = {"num_topics": 4, "passes": 5, "no_below": 1, "no_above": 0.9, "random_state": 3}
    return LdaTopics(**{**defaults, **params}).fit(TEXTS)  # type: ignore[arg-type]


def test_transform_gives_topic_proportions() -> None:
    lda = fit_tiny()
    theta = lda.transform(TEXTS[:5] + ["", "zzz unknown words only"])
    assert theta.shape == (7, 4)
    np.testing.assert_allclose(theta.sum(axis=1), 1.0)
    np.testing.assert_allclose(theta[5], lda.alpha_ / lda.alpha_.sum())  # no known word: the prior
    assert len(lda.top_words_) == 4 and all(len(words) == 10 for words in lda.top_words_)


def test_single_worker_training_is_deterministic() -> None:
    first, second = fit_tiny(), fit_tiny()
    np.testing.assert_array_equal(first.topic_word_, second.topic_word_)
    np.testing.assert_array_equal(first.transform(TEXTS), second.transform(TEXTS))
    assert not np.array_equal(first.topic_word_, fit_tiny(random_state=4).topic_word_)


def test_inference_agrees_with_gensim() -> None:
    lda = fit_tiny()
    model = lda.model_
    model.gamma_threshold = 1e-10  # let gensim converge fully from its random start
    model.iterations = 1000
    bows = [lda.dictionary_.doc2bow(lda.tokenizer_(text)) for text in TEXTS]
    gamma, _ = model.inference(bows)
    gensim_theta = gamma / gamma.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(lda.transform(TEXTS), gensim_theta, atol=1e-3)


def test_too_few_words_for_k_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="fewer than num_topics=500"):
        fit_tiny(num_topics=500)


def test_num_topics_validation_message() -> None:
    with pytest.raises(ValueError, match="The 'num_topics' parameter of LdaTopics must be an int"):
        LdaTopics(num_topics=1).fit(TEXTS)


def test_coherence_scores() -> None:
    scores = fit_tiny().coherence(TEXTS, measures=("c_v", "u_mass"))
    assert 0.0 <= scores["c_v"] <= 1.0
    assert scores["u_mass"] <= 0.0
    assert len(scores["c_v_per_topic"]) == 4
