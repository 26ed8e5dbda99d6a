"""LDA topic model as an sklearn-style transformer: raw texts -> topic proportions."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from topics.features import resolve_stop_words
from topics.lda_inference import bag_of_words, infer_topics
from topics.progress import progress
from topics.text import TopicTokenizer


class LdaTopics(TransformerMixin, BaseEstimator):
    """gensim ``LdaModel`` trained on bag-of-words of raw texts.

    ``transform`` returns topic proportions ``(n_docs, num_topics)`` from the
    deterministic numpy inference in :mod:`topics.lda_inference`.

    Parameters
    ----------
    num_topics : int
        Number of topics K (>= 2).
    passes : int
        Passes over the corpus, shown as progress on a terminal.
    iterations : int
        Maximum E-step iterations per document during training.
    alpha, eta
        Dirichlet priors, as gensim takes them.
    min_token_length : int
        Shortest token kept.
    stop_words : "english", list of str or None
        Words dropped before counting.
    no_below, no_above
        Keep words in at least ``no_below`` documents and at most a
        ``no_above`` fraction of them.
    top_n : int
        Words listed per topic.
    random_state : int
        Seed; with it, training is deterministic.
    """

    def __init__(
        self,
        num_topics: int = 10,
        passes: int = 10,
        iterations: int = 100,
        alpha: str | float = "symmetric",
        eta: str | float | None = None,
        min_token_length: int = 3,
        stop_words: str | list[str] | None = "english",
        no_below: int = 2,
        no_above: float = 0.5,
        top_n: int = 10,
        random_state: int = 0,
    ) -> None:
        self.num_topics = num_topics
        self.passes = passes
        self.iterations = iterations
        self.alpha = alpha
        self.eta = eta
        self.min_token_length = min_token_length
        self.stop_words = stop_words
        self.no_below = no_below
        self.no_above = no_above
        self.top_n = top_n
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> LdaTopics:
        from gensim.corpora import Dictionary
        from gensim.models import LdaModel

        if not isinstance(self.num_topics, int) or self.num_topics < 2:
            raise ValueError(
                "The 'num_topics' parameter of LdaTopics must be an int in the range [2, inf). "
                f"Got {self.num_topics!r} instead."
            )
        self.tokenizer_ = TopicTokenizer(self.min_token_length, resolve_stop_words(self.stop_words))
        docs = [self.tokenizer_(text) for text in X]
        dictionary = Dictionary(docs)
        dictionary.filter_extremes(no_below=self.no_below, no_above=self.no_above, keep_n=None)
        if len(dictionary) < self.num_topics:
            raise ValueError(
                f"LdaTopics: the vocabulary has {len(dictionary)} words after filtering "
                f"(no_below={self.no_below}, no_above={self.no_above}), fewer than "
                f"num_topics={self.num_topics}; lower num_topics or no_below, or add documents"
            )
        corpus = [dictionary.doc2bow(doc) for doc in docs]
        model = LdaModel(
            id2word=dictionary,
            num_topics=self.num_topics,
            iterations=self.iterations,
            alpha=self.alpha,
            eta=self.eta,
            random_state=self.random_state,
            dtype=np.float64,
            eval_every=None,
        )
        # One update per pass so a terminal shows progress pass by pass.
        for _ in progress(range(self.passes), desc="LDA passes", unit="pass"):
            model.update(corpus, passes=1)
        self.model_ = model
        self.dictionary_ = dictionary
        self.vocabulary_ = [dictionary[i] for i in range(len(dictionary))]
        self.exp_elog_beta_ = np.asarray(model.expElogbeta, dtype=np.float64)
        self.alpha_ = np.asarray(model.alpha, dtype=np.float64)
        self.topic_word_ = model.get_topics()
        self.top_words_ = [
            [self.vocabulary_[i] for i in np.argsort(-row, kind="stable")[: self.top_n]]
            for row in self.topic_word_
        ]
        self.n_features_in_ = 1
        return self

    def bows(self, X: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        check_is_fitted(self, "model_")
        index = self.dictionary_.token2id
        return [bag_of_words(self.tokenizer_(text), index) for text in X]

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        return infer_topics(self.bows(X), self.exp_elog_beta_, self.alpha_)

    def coherence(self, X: Any, measures: tuple[str, ...] = ("c_v", "u_mass")) -> dict[str, Any]:
        """gensim ``CoherenceModel`` scores of the top words against texts ``X``.

        Returns ``{measure: mean}`` plus ``{measure + "_per_topic": [...]}``.
        """
        from gensim.models import CoherenceModel

        check_is_fitted(self, "model_")
        docs = [self.tokenizer_(text) for text in X]
        corpus = [self.dictionary_.doc2bow(doc) for doc in docs]
        scores: dict[str, Any] = {}
        for measure in measures:
            model = CoherenceModel(
                topics=self.top_words_,
                texts=docs,
                corpus=corpus,
                dictionary=self.dictionary_,
                coherence=measure,
                topn=self.top_n,
                processes=1,
            )
            per_topic = [float(v) for v in model.get_coherence_per_topic()]
            scores[measure] = float(np.nanmean(per_topic))
            scores[f"{measure}_per_topic"] = per_topic
        return scores
