"""TF-IDF features (sklearn ``TfidfVectorizer`` driven by our :class:`~topics.text.Analyzer`)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from topics.text import Analyzer, CharAnalyzer, TextAnalyzer, WordCharAnalyzer

if TYPE_CHECKING:
    from topics.families.base import ArrayStore

logger = logging.getLogger(__name__)


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


def fit_transform_cached(
    vectorizer: TfidfVectorizer,
    texts: Sequence[str],
    cache: ArrayStore | None,
    params: Mapping[str, Any],
) -> sparse.csr_matrix:
    """``vectorizer.fit_transform(texts)``, or the same fit read back from ``cache``.

    ``params`` are the keyword arguments ``vectorizer`` was made from
    (:func:`make_vectorizer`); with the texts and the sklearn version they key the
    entry. An entry holds the vocabulary (JSON) and the idf and TF-IDF matrix
    (``.npz``), and is used only when it is consistent with the texts it is for.
    """
    if cache is None:
        return vectorizer.fit_transform(list(texts))
    key = cache.key("tfidf", sklearn.__version__, dict(params), _texts_digest(texts))
    entry = cache.load("tfidf", key)
    matrix = None if entry is None else _restore(vectorizer, len(texts), *entry)
    if matrix is not None:
        return matrix
    matrix = vectorizer.fit_transform(list(texts)).tocsr()
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        vocabulary[index] = term
    arrays = {
        "idf": vectorizer.idf_,
        "data": matrix.data,
        "indices": matrix.indices,
        "indptr": matrix.indptr,
    }
    cache.save("tfidf", key, {"vocabulary": vocabulary}, arrays)
    return matrix


def _texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little") + encoded)
    return digest.hexdigest()


def _restore(
    vectorizer: TfidfVectorizer,
    n_texts: int,
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> sparse.csr_matrix | None:
    """Set ``vectorizer``'s fitted state from a cache entry and return its matrix,
    or None (``vectorizer`` untouched) when the entry does not check out."""
    vocabulary = meta.get("vocabulary")
    if not (
        isinstance(vocabulary, list)
        and all(isinstance(term, str) for term in vocabulary)
        and len(set(vocabulary)) == len(vocabulary)
        and set(arrays) == {"idf", "data", "indices", "indptr"}
    ):
        return None
    idf = arrays["idf"]
    if idf.dtype != np.float64 or idf.shape != (len(vocabulary),) or not np.isfinite(idf).all():
        return None
    try:
        matrix = sparse.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]),
            shape=(n_texts, len(vocabulary)),
        )
        matrix.check_format(full_check=True)
    except (ValueError, TypeError) as exc:
        logger.warning("ignoring a cached TF-IDF matrix that does not check out: %s", exc)
        return None
    if matrix.dtype != np.float64:
        return None
    vectorizer.vocabulary_ = {term: index for index, term in enumerate(vocabulary)}
    vectorizer.fixed_vocabulary_ = False
    vectorizer.idf_ = idf
    return matrix
