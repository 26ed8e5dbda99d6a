"""Sparse document-feature rows in flat form, and TF-IDF weighting, in numpy.

The predictor's feature blocks build these from text; linear scorers multiply
them with weight matrices. They reproduce sklearn's ``TfidfVectorizer`` (l2
norm, optional sublinear tf) without sklearn.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from itertools import chain, compress, count, islice, repeat
from operator import is_

import numpy as np

from topics.kernels.vocabulary import GramCodes, Terms, WordCodes
from topics.text import Analyzer, CharAnalyzer, TextAnalyzer, WordCharAnalyzer


class SparseRows:
    """A batch of sparse rows: entry ``e`` is ``(docs[e], ids[e], values[e])``,
    sorted by document then feature."""

    def __init__(self, docs: np.ndarray, ids: np.ndarray, values: np.ndarray, n_docs: int) -> None:
        self.docs, self.ids, self.values, self.n_docs = docs, ids, values, n_docs

    @classmethod
    def count(cls, features: list[list[str]], index: dict[str, int]) -> SparseRows:
        """Count known features per document."""
        width = len(index) + 1  # > 0, as divmod needs, even for an empty vocabulary
        return cls.from_keys(_known_keys(features, index, width), len(features), width)

    @classmethod
    def from_keys(cls, keys: np.ndarray, n_docs: int, width: int) -> SparseRows:
        """Count features given as ``doc * width + id``: one entry per distinct key,
        its count as value."""
        # np.unique, in place and in int32 when the keys fit: AVX2 sorts twice as
        # many int32 as int64 in a step (a sixth of 20 Newsgroups' scoring before).
        keys = keys.astype(np.int32 if n_docs * width < 2**31 else np.int64)
        keys.sort()
        first = np.empty(len(keys), dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(starts, append=len(keys)).astype(np.float64)
        docs, ids = np.divmod(keys[starts].astype(np.int64), width)
        return cls(docs, ids, counts, n_docs)

    @classmethod
    def stack(cls, parts: Sequence[SparseRows]) -> SparseRows:
        """``parts``' rows, one batch after the other."""
        offsets = np.cumsum([0] + [part.n_docs for part in parts])
        return cls(
            np.concatenate([part.docs + offsets[i] for i, part in enumerate(parts)]),
            np.concatenate([part.ids for part in parts]),
            np.concatenate([part.values for part in parts]),
            int(offsets[-1]),
        )

    def row(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.searchsorted(self.docs, [d, d + 1])
        return self.ids[lo:hi], self.values[lo:hi]

    # Entries per block of :meth:`dot`: its per-column products stay a few MB.
    DOT_BLOCK = 1 << 18

    def dot(self, weights_t: np.ndarray) -> np.ndarray:
        """``X @ weights_t`` for ``weights_t`` of shape ``(n_features, n_out)``, best
        passed as the transpose of a C-ordered ``(n_out, n_features)`` array (a
        linear model's ``coef``): each output's weights are then contiguous; any other
        layout is copied to that one."""
        columns = np.ascontiguousarray(weights_t.T)  # a view for coef.T
        out = np.zeros((columns.shape[0], self.n_docs))
        if not len(self.ids):
            return out.T
        # Entries are sorted by document: for each output, gather every entry's
        # weight and sum each document's run with reduceat (the same additions, in
        # the same order, as a CSR product), a block of whole documents at a time.
        # One output at a time moves 1/n_out of the memory a 2-D gather of the
        # entries' weight rows does: 40% less time for 20 Newsgroups' 20 outputs.
        starts = np.flatnonzero(np.r_[True, self.docs[1:] != self.docs[:-1]])
        bounds = np.r_[starts, len(self.ids)]
        blocks = np.searchsorted(starts, np.arange(0, len(self.ids), self.DOT_BLOCK))
        cuts = np.unique(np.r_[blocks, len(starts)])
        for first, last in zip(cuts[:-1], cuts[1:], strict=True):  # documents first..last-1
            lo, hi = bounds[first], bounds[last]
            ids, values = self.ids[lo:hi], self.values[lo:hi]
            runs, docs = starts[first:last] - lo, self.docs[starts[first:last]]
            for j, column in enumerate(columns):
                out[j, docs] = np.add.reduceat(column[ids] * values, runs)
        return out.T


def _known_keys(features: list[list[str]], index: dict[str, int], width: int) -> np.ndarray:
    """``doc * width + id`` of every feature of ``features[doc]`` that ``index`` knows."""
    lengths = np.fromiter(map(len, features), dtype=np.int64, count=len(features))
    # One C-level pass over every feature of the batch; unknown ones map to -1.
    found = map(index.get, chain.from_iterable(features), repeat(-1))
    ids = np.fromiter(found, dtype=np.int64, count=int(lengths.sum()))
    docs = np.repeat(np.arange(len(features), dtype=np.int64), lengths)
    known = ids >= 0
    return docs[known] * width + ids[known]


class TermCounter:
    """Counts of a text analyzer's known features per document, as
    ``SparseRows.count([analyzer(text) for text in texts], index)`` gives them (the
    index of each term of ``terms``), but with character n-grams counted by word.

    A post has thousands of character n-grams and a few hundred words, most of them
    repeated. The n-grams of each distinct word of a batch are looked up once, as
    the array of their vocabulary ids (a cache keeps the last :attr:`CACHED_WORDS`
    new words across batches); a document's character ids are its words' arrays
    concatenated, gathered and counted with numpy. The vocabulary's character
    n-grams are held as integer codes (:class:`GramCodes`), built at once with numpy
    and looked up together, rather than as a dict of strings: a third of the memory
    for 20 Newsgroups' 407k. Word n-grams (of :class:`~topics.text.Analyzer` or the
    word part of :class:`~topics.text.WordCharAnalyzer`) are codes too
    (:class:`WordCodes`): a text's tokens are looked up once each, and no n-gram
    string is built. Codes that would overflow an int64 fall back to strings,
    looked up in :attr:`index`.

    >>> counter = TermCounter(CharAnalyzer(ngram_range=(2, 2)), [" r", "ai", "l "])
    >>> rows = counter.count(["Rail rail", ""])
    >>> rows.docs.tolist(), rows.ids.tolist(), rows.values.tolist()
    ([0, 0, 0], [0, 1, 2], [2.0, 2.0, 2.0])
    """

    CACHED_WORDS = 1 << 14  # as CharAnalyzer's: words repeat (Zipf)

    def __init__(self, analyzer: TextAnalyzer, terms: Terms | Sequence[str]) -> None:
        terms = terms if isinstance(terms, Terms) else Terms.of(terms)
        self.width = len(terms) + 1  # > 0, as divmod needs, even for no vocabulary
        self.words: Analyzer | None = None
        self.chars: CharAnalyzer | None = None
        self.prefix = ""
        if isinstance(analyzer, WordCharAnalyzer):
            self.words, self.chars = analyzer.word, analyzer.char
            self.prefix = analyzer.CHAR_PREFIX
        elif isinstance(analyzer, CharAnalyzer):
            self.chars = analyzer
        else:
            self.words = analyzer
        self.codes: GramCodes | None = None
        self.word_codes: WordCodes | None = None
        coded = np.zeros(len(terms), dtype=bool)
        if self.chars is not None:  # codes unusable: none is coded
            codes, coded = GramCodes.of(terms, self.prefix, self.chars.ngram_range[1])
            self.codes = codes if codes.usable else None
        if self.words is not None and (self.chars is None or self.codes is not None):
            # the terms left are the word n-grams
            words, held = WordCodes.of(terms, ~coded, self.words.ngram_range[1])
            self.word_codes = words if words.usable else None
            coded |= held
        self.index = terms.where(~coded)  # the terms without codes, by string
        self.n_terms = len(self.index) + sum(
            codes.n_terms for codes in (self.codes, self.word_codes) if codes is not None
        )
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def single_words(self) -> dict[str, int]:
        """``{term: id}`` of the vocabulary's one-word terms."""
        found = {
            term: i
            for term, i in self.index.items()
            if " " not in term and not (self.prefix and term.startswith(self.prefix))
        }
        if self.word_codes is not None and 1 in self.word_codes.tables:
            tokens = list(self.word_codes.tokens)  # in the order of their codes, from 1
            table = self.word_codes.tables[1]
            codes, ids = table.codes, table.ids
            found.update(
                zip(map(tokens.__getitem__, (codes - 1).tolist()), ids.tolist(), strict=True)
            )
        return found

    # Texts counted at a time: their keys stay int32 and a few hundred MB at most.
    # 20 Newsgroups' 7,532 test posts (7,000 n-grams a post) in one predict_proba
    # call: about 500 a second counted at once (int64 keys), 800 by blocks, 1,100
    # to 1,300 in calls of 1,024 texts; the same values.
    COUNT_BLOCK = 1024

    def count(self, texts: Sequence[str]) -> SparseRows:
        """The features' counts, one row per text, a block of texts at a time."""
        width = self.width
        block = max(1, min(self.COUNT_BLOCK, (2**31 - 1) // width))
        if len(texts) > block:
            return SparseRows.stack(
                [self.count(texts[i : i + block]) for i in range(0, len(texts), block)]
            )
        keys: list[np.ndarray] = []
        if self.words is not None:
            tokens = [self.words.tokens(text) for text in texts]
            if self.word_codes is not None:
                keys.append(self.word_codes.keys(tokens, self.words.ngram_range, width))
            else:
                keys.append(_known_keys(list(map(self.words.ngrams, tokens)), self.index, width))
        if self.chars is not None:
            keys.append(self._char_keys(texts, self.chars.lowercase, width))
        return SparseRows.from_keys(np.concatenate(keys), len(texts), width)

    def _char_keys(self, texts: Sequence[str], lowercase: bool, width: int) -> np.ndarray:
        """``doc * width + id`` of each known character n-gram of ``texts[doc]``."""
        # CharAnalyzer's words: lowercase the text, then split on whitespace.
        split = [(text.lower() if lowercase else text).split() for text in texts]
        tokens = list(chain.from_iterable(split))
        if not tokens:
            return np.zeros(0, dtype=np.int64)
        # Each token's first position among the tokens, then its word's rank among
        # the batch's distinct words (ranks follow first positions).
        first: dict[str, int] = {}
        firsts = np.fromiter(map(first.setdefault, tokens, count()), np.int64, len(tokens))
        rank_at = np.cumsum(firsts == np.arange(len(tokens))) - 1
        word_of_token = rank_at[firsts]
        per_word = self._word_ids(list(first))
        sizes = np.fromiter(map(len, per_word), dtype=np.int64, count=len(per_word))
        flat = np.concatenate(per_word)
        lengths = sizes[word_of_token]
        # Token t's ids are flat[starts[w] : starts[w] + lengths[t]], w its word.
        starts = np.cumsum(sizes) - sizes
        shift = starts[word_of_token] - (np.cumsum(lengths) - lengths)
        ids = flat[np.repeat(shift, lengths) + np.arange(int(lengths.sum()))]
        words_per_doc = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
        doc_of_token = np.repeat(np.arange(len(texts), dtype=np.int64) * width, words_per_doc)
        return np.repeat(doc_of_token, lengths) + ids

    def _word_ids(self, words: list[str]) -> list[np.ndarray]:
        """For each of ``words`` (distinct), the vocabulary ids of its known n-grams,
        repeats kept: from the cache, the others looked up together."""
        with self._lock:  # one predictor may serve several threads
            return self._cached_word_ids(words)

    def _cached_word_ids(self, words: list[str]) -> list[np.ndarray]:
        # Every step a C-level pass: the batch's distinct words run to tens of
        # thousands (a Python loop over them, as an LRU's bookkeeping, cost 7% of
        # 20 Newsgroups' scoring). The cache forgets its oldest words first.
        cache = self._cache
        missing = list(compress(words, map(is_, map(cache.get, words), repeat(None))))
        if missing:
            cache.update(zip(missing, self._lookup(missing), strict=True))
        found = list(map(cache.__getitem__, words))
        if len(cache) > self.CACHED_WORDS:
            self._cache = dict(islice(cache.items(), len(cache) - self.CACHED_WORDS, None))
        return found

    def _lookup(self, words: list[str]) -> list[np.ndarray]:
        """The known n-gram ids of each of ``words``, looked up together."""
        assert self.chars is not None
        if self.codes is not None:
            word_of_gram, ids = self.codes.lookup(words, self.chars.ngram_range)
        else:
            grams = [self.chars.word_grams(word, self.prefix) for word in words]
            n_grams = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
            found = map(self.index.get, chain.from_iterable(grams), repeat(-1))
            ids = np.fromiter(found, dtype=np.int64, count=int(n_grams.sum()))
            word_of_gram = np.repeat(np.arange(len(words)), n_grams)
        known = ids >= 0
        word_of_gram, ids = word_of_gram[known], ids[known]
        order = np.argsort(word_of_gram, kind="stable")
        kept = np.bincount(word_of_gram, minlength=len(words))
        # copies: a cached word must not keep this whole batch's array alive
        ends = np.cumsum(kept).tolist()
        ids = ids[order]
        return [ids[start:end].copy() for start, end in zip([0, *ends], ends, strict=False)]


def tfidf_weight(rows: SparseRows, idf: np.ndarray, sublinear_tf: bool) -> SparseRows:
    """Counts -> l2-normalised TF-IDF values, in place, as sklearn computes them."""
    tf = np.log(rows.values) + 1.0 if sublinear_tf else rows.values
    values = tf * idf[rows.ids]
    norms = np.sqrt(np.bincount(rows.docs, weights=values * values, minlength=rows.n_docs))
    rows.values = values / norms[rows.docs]
    return rows
