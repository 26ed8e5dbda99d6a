"""TF-IDF features (sklearn ``TfidfVectorizer`` driven by our :class:`~topics.text.Analyzer`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

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


def make_vectorizer(
    analyzer: str = "word",
    ngram_range: Sequence[int] = (1, 2),
    char_ngram_range: Sequence[int] = (2, 5),
    min_df: int | float = 1,
    max_df: int | float = 1.0,
    max_features: int | None = None,
    sublinear_tf: bool = True,
    lowercase: bool = True,
    stop_words: str | list[str] | None = "english",
) -> TfidfVectorizer:
    """A TF-IDF vectorizer with our analyzers; the arguments are ``features.tfidf``'s keys.

    ``analyzer`` is ``"word"`` (word n-grams), ``"char_wb"`` (character n-grams
    inside word boundaries, from ``ngram_range``) or ``"word+char_wb"`` (both in
    one vocabulary, characters from ``char_ngram_range``).
    """
    words = Analyzer(
        ngram_range=(ngram_range[0], ngram_range[1]),
        stop_words=resolve_stop_words(stop_words),
        lowercase=lowercase,
    )
    text_analyzer: TextAnalyzer = words
    if analyzer == "char_wb":
        text_analyzer = CharAnalyzer(
            ngram_range=(ngram_range[0], ngram_range[1]), lowercase=lowercase
        )
    elif analyzer == "word+char_wb":
        chars = CharAnalyzer(
            ngram_range=(char_ngram_range[0], char_ngram_range[1]), lowercase=lowercase
        )
        text_analyzer = WordCharAnalyzer(words, chars)
    return TfidfVectorizer(
        analyzer=text_analyzer,
        min_df=min_df,
        max_df=max_df,
        max_features=max_features,
        sublinear_tf=sublinear_tf,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        dtype=np.float64,
    )
