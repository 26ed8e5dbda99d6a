"""TF-IDF features (sklearn ``TfidfVectorizer`` driven by our :class:`~topics.text.Analyzer`)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from topics.config import TfidfConfig
from topics.text import Analyzer, CharAnalyzer, TextAnalyzer, WordCharAnalyzer


def resolve_stop_words(stop_words: str | Iterable[str] | None) -> frozenset[str]:
    """``"english"`` -> sklearn's English list; a list -> itself; None -> no stop words."""
    if stop_words is None:
        return frozenset()
    if isinstance(stop_words, str):
        if stop_words != "english":
            raise ValueError(f"unknown stop word list {stop_words!r}; use 'english' or a list")
        return frozenset(ENGLISH_STOP_WORDS)
    return frozenset(w.lower() for w in stop_words)


def make_vectorizer(config: TfidfConfig) -> TfidfVectorizer:
    """A TF-IDF vectorizer configured from ``features.tfidf``."""
    words = Analyzer(
        ngram_range=config.ngram_range,
        stop_words=resolve_stop_words(config.stop_words),
        lowercase=config.lowercase,
    )
    analyzer: TextAnalyzer = words
    if config.analyzer == "char_wb":
        analyzer = CharAnalyzer(ngram_range=config.ngram_range, lowercase=config.lowercase)
    elif config.analyzer == "word+char_wb":
        chars = CharAnalyzer(ngram_range=config.char_ngram_range, lowercase=config.lowercase)
        analyzer = WordCharAnalyzer(words, chars)
    return TfidfVectorizer(
        analyzer=analyzer,
        min_df=config.min_df,
        max_df=config.max_df,
        max_features=config.max_features,
        sublinear_tf=config.sublinear_tf,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        dtype=np.float64,
    )
