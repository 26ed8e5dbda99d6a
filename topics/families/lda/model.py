"""LDA topic model as an sklearn-style transformer: raw texts -> topic proportions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from topics.evaluate.topic_quality import coherence
from topics.families.features import resolve_stop_words
from topics.families.lda.engines import train_gensim, train_tomotopy
from topics.families.lda.naming import (
    aligned_labels,
    as_mapping,
    name_topics,
    one_hot,
    override_problem,
    term_names,
)
from topics.families.lda.seeding import seed_eta
from topics.kernels.lda import bag_of_words, dirichlet_expectation, infer_topics
from topics.text import TopicTokenizer, merge_phrases

ENGINES = ("gensim", "tomotopy")


class LdaTopics(TransformerMixin, BaseEstimator):
    """LDA trained on bag-of-words of raw texts, by gensim (variational) or
    tomotopy (collapsed Gibbs sampling).

    ``transform`` returns topic proportions ``(n_docs, num_topics)`` from the
    deterministic numpy inference in :mod:`topics.kernels.lda`, for both engines,
    so training and :mod:`topics.serve.predictor` agree exactly.

    Parameters
    ----------
    num_topics : int
        Number of topics K (>= 2).
    engine : {"tomotopy", "gensim"}
        Training algorithm.
    passes : int
        gensim: passes over the corpus, shown as progress on a terminal.
    iterations : int
        gensim: maximum E-step iterations per document; tomotopy: Gibbs sweeps.
    alpha : str or float
        Document-topic prior. gensim takes its names; tomotopy a float
        ("symmetric" means 1/K there) and optimises it every ``optim_interval`` sweeps.
    eta : "symmetric", "auto", float or None
        Topic-word prior. None: 1/K for gensim, 0.01 for tomotopy.
    seeds : mapping of topic name -> seed words, or None
        Seeded topics, first and in this order (see :mod:`topics.families.lda.seeding`).
    seed_strength : float
        The prior on a seed word in its own topic.
    term_weight : {"one", "idf", "pmi"}
        tomotopy: weight of each token in the sampler.
    optim_interval : int
        tomotopy: sweeps between alpha optimisations (0 = fixed alpha).
    workers : int
        tomotopy threads; 1 makes training deterministic for a seed.
    phrases, phrase_min_count, phrase_threshold
        Learn two-word phrases with gensim ``Phrases`` (its ``min_count`` and
        ``threshold``) and merge them into one token (``"new_york"``); the
        tokenizer keeps the list, so prediction merges the same pairs.
    min_token_length, stop_words, no_below, no_above
        Tokenization and document-frequency filtering.
    top_n : int
        Words listed per topic.
    topic_names : list of str, mapping of int -> str, or None
        Names chosen by the user: one per topic, or ``{topic index: name}`` for
        some; the others are named automatically (see
        :mod:`topics.families.lda.naming`).
    label_names : list of str or None
        The names of the columns of ``y`` given to ``fit``: a free topic that
        clearly goes with one label on the training documents takes its name.
        None names free topics by their terms only.
    random_state : int
        Seed.

    Attributes
    ----------
    topic_names_ : list of str
        One unique short name per topic: the override, the seed's name, the
        aligned label's name, or its most distinctive terms (``"rail · freight · cargo"``).
    history_ : list of dict
        The training curve: ``step`` (gensim: the pass; tomotopy: Gibbs sweeps done,
        every 50) and ``log_likelihood_per_word`` (gensim: the per-word variational
        bound on up to 1000 training documents; tomotopy: the sampler's own).
    """

    def __init__(
        self,
        num_topics: int = 10,
        engine: str = "tomotopy",
        passes: int = 10,
        iterations: int = 100,
        alpha: str | float = "symmetric",
        eta: str | float | None = None,
        seeds: Mapping[str, Sequence[str]] | None = None,
        seed_strength: float = 1.0,
        term_weight: str = "one",
        optim_interval: int = 10,
        workers: int = 1,
        phrases: bool = False,
        phrase_min_count: int = 5,
        phrase_threshold: float = 10.0,
        min_token_length: int = 3,
        stop_words: str | list[str] | None = "english",
        no_below: int = 2,
        no_above: float = 0.5,
        top_n: int = 10,
        topic_names: Sequence[str] | Mapping[int, str] | None = None,
        label_names: Sequence[str] | None = None,
        random_state: int = 0,
    ) -> None:
        self.num_topics = num_topics
        self.engine = engine
        self.passes = passes
        self.iterations = iterations
        self.alpha = alpha
        self.eta = eta
        self.seeds = seeds
        self.seed_strength = seed_strength
        self.term_weight = term_weight
        self.optim_interval = optim_interval
        self.workers = workers
        self.phrases = phrases
        self.phrase_min_count = phrase_min_count
        self.phrase_threshold = phrase_threshold
        self.min_token_length = min_token_length
        self.stop_words = stop_words
        self.no_below = no_below
        self.no_above = no_above
        self.top_n = top_n
        self.topic_names = topic_names
        self.label_names = label_names
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> LdaTopics:
        from gensim.corpora import Dictionary

        self._check_params()
        stop_words = resolve_stop_words(self.stop_words)
        self.tokenizer_ = TopicTokenizer(self.min_token_length, stop_words)
        docs = [self.tokenizer_(text) for text in X]
        if self.phrases:
            self.tokenizer_ = TopicTokenizer(
                self.min_token_length, stop_words, self._learn_phrases(docs)
            )
            docs = [merge_phrases(doc, self.tokenizer_._pairs) for doc in docs]
        dictionary = Dictionary(docs)
        dictionary.filter_extremes(no_below=self.no_below, no_above=self.no_above, keep_n=None)
        if len(dictionary) < self.num_topics:
            raise ValueError(
                f"LdaTopics: the vocabulary has {len(dictionary)} words after filtering "
                f"(no_below={self.no_below}, no_above={self.no_above}), fewer than "
                f"num_topics={self.num_topics}; lower num_topics or no_below, or add documents"
            )
        self.vocabulary_ = [dictionary[i] for i in range(len(dictionary))]
        self.index_ = dict(dictionary.token2id)
        docs = [[t for t in doc if t in self.index_] for doc in docs]
        self.seed_names_ = list(self.seeds or {})
        eta = self._eta_matrix()
        trained = self._train(docs, eta)
        self.model_ = trained.model
        self.lambda_ = trained.lambda_
        self.alpha_ = trained.alpha
        self.history_ = trained.history
        self.exp_elog_beta_ = np.exp(dirichlet_expectation_rows(trained.lambda_))
        self.topic_word_ = trained.lambda_ / trained.lambda_.sum(axis=1, keepdims=True)
        self.top_words_ = self.top_words(self.top_n)
        self.n_features_in_ = 1
        self.topic_names_ = self._name_topics(X, y)
        return self

    def _name_topics(self, X: Any, y: Any) -> list[str]:
        """Overrides, seeds, labels clearly aligned on the training texts ``X``, terms."""
        word_share = self.lambda_.sum(axis=0) / self.lambda_.sum()
        generated = term_names(self.topic_word_, self.vocabulary_, word_share)
        overrides = as_mapping(self.topic_names)
        free = [k for k in range(len(self.seed_names_), self.num_topics) if k not in overrides]
        aligned: dict[int, str] = {}
        if self.label_names and y is not None and free:
            targets = one_hot(np.asarray(y), len(self.label_names))
            if targets.shape == (len(X), len(self.label_names)):
                taken = set(self.seed_names_) | set(overrides.values())
                found = aligned_labels(self.transform(X), targets, list(self.label_names), free)
                aligned = {k: name for k, name in found.items() if name not in taken}
        return name_topics(generated, self.seed_names_, aligned, overrides)

    def __getstate__(self) -> dict[str, Any]:
        # tomotopy models do not pickle; they serialise themselves to bytes.
        state = dict(self.__dict__)
        model = state.get("model_")
        if model is not None and hasattr(model, "saves"):
            state["model_"] = ("tomotopy", model.saves(full=True))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        model = state.get("model_")
        if isinstance(model, tuple) and model[0] == "tomotopy":
            import tomotopy as tp

            state["model_"] = tp.LDAModel.loads(model[1])
        self.__dict__.update(state)

    def _learn_phrases(self, docs: list[list[str]]) -> list[str]:
        from gensim.models.phrases import Phrases

        found = Phrases(
            docs, min_count=self.phrase_min_count, threshold=self.phrase_threshold, delimiter="_"
        ).export_phrases()
        return sorted(phrase.replace("_", " ") for phrase in found)

    def _check_params(self) -> None:
        if not isinstance(self.num_topics, int) or self.num_topics < 2:
            raise ValueError(
                "The 'num_topics' parameter of LdaTopics must be an int in the range [2, inf). "
                f"Got {self.num_topics!r} instead."
            )
        problem = override_problem(self.topic_names, self.num_topics)
        if problem:
            raise ValueError(f"LdaTopics: {problem}")
        if self.engine not in ENGINES:
            raise ValueError(
                f"The 'engine' parameter of LdaTopics must be one of {list(ENGINES)}. "
                f"Got {self.engine!r} instead."
            )

    def _base_eta(self) -> float:
        if isinstance(self.eta, int | float) and not isinstance(self.eta, bool):
            return float(self.eta)
        if self.eta == "symmetric" or (self.eta is None and self.engine == "gensim"):
            return 1.0 / self.num_topics
        if self.eta is None:
            return 0.01
        raise ValueError(
            f"LdaTopics: eta={self.eta!r} is not supported with engine={self.engine!r} "
            "and seeds; use a number or 'symmetric'"
        )

    def _eta_matrix(self) -> np.ndarray | str:
        if self.eta == "auto" and self.engine == "gensim" and not self.seeds:
            return "auto"  # gensim learns eta itself
        return seed_eta(
            self.vocabulary_,
            self.seeds or {},
            self.num_topics,
            self._base_eta(),
            self.seed_strength,
        )

    def _train(self, docs: list[list[str]], eta: Any) -> Any:

        if self.engine == "gensim":
            return train_gensim(
                docs,
                self.index_,
                self.num_topics,
                eta,
                alpha=self.alpha,
                passes=self.passes,
                iterations=self.iterations,
                random_state=self.random_state,
            )
        alpha = 1.0 / self.num_topics if isinstance(self.alpha, str) else float(self.alpha)
        return train_tomotopy(
            docs,
            self.vocabulary_,
            self.num_topics,
            eta,
            alpha=alpha,
            iterations=self.iterations,
            term_weight=self.term_weight,
            optim_interval=self.optim_interval,
            workers=self.workers,
            random_state=self.random_state,
        )

    def top_words(self, n: int) -> list[list[str]]:
        """The ``n`` most probable words of every topic."""
        check_is_fitted(self, "lambda_")
        return [
            [self.vocabulary_[i] for i in np.argsort(-row, kind="stable")[:n]]
            for row in self.topic_word_
        ]

    def tokenize(self, X: Any) -> list[list[str]]:
        """Texts -> in-vocabulary tokens, as the model saw them."""
        check_is_fitted(self, "lambda_")
        return [[t for t in self.tokenizer_(text) if t in self.index_] for text in X]

    def bows(self, X: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        check_is_fitted(self, "lambda_")
        return [bag_of_words(self.tokenizer_(text), self.index_) for text in X]

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "lambda_")
        return infer_topics(self.bows(X), self.exp_elog_beta_, self.alpha_)

    def coherence(
        self, X: Any, measures: tuple[str, ...] = ("c_v", "u_mass"), processes: int = 1
    ) -> dict[str, Any]:
        """gensim ``CoherenceModel`` scores of the top words against texts ``X``.

        Returns ``{measure: mean}`` plus ``{measure + "_per_topic": [...]}``.
        """
        return coherence(self.top_words_, self.tokenize(X), measures, processes=processes)


def dirichlet_expectation_rows(lambda_: np.ndarray) -> np.ndarray:
    """E[log beta_k] for every row of ``lambda_``."""
    return np.vstack([dirichlet_expectation(row) for row in lambda_])
