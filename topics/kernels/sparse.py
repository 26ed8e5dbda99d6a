"""Sparse document-feature rows in flat form, and TF-IDF weighting, in numpy.

The predictor's feature blocks build these from text; linear scorers multiply
them with weight matrices. They reproduce sklearn's ``TfidfVectorizer`` (l2
norm, optional sublinear tf) without sklearn.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from itertools import chain, count, repeat

import numpy as np

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
        keys, counts = np.unique(keys, return_counts=True)
        docs, ids = np.divmod(keys, width)
        return cls(docs, ids, counts.astype(np.float64), n_docs)

    def row(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.searchsorted(self.docs, [d, d + 1])
        return self.ids[lo:hi], self.values[lo:hi]

    # Entries per block of :meth:`dot`: the weight rows it gathers stay a few MB.
    DOT_BLOCK = 1 << 15

    def dot(self, weights_t: np.ndarray) -> np.ndarray:
        """``X @ weights_t`` for ``weights_t`` of shape ``(n_features, n_out)``."""
        out = np.zeros((self.n_docs, weights_t.shape[1]))
        if not len(self.ids):
            return out
        # Entries are sorted by document: sum each document's run of rows, a block of
        # whole documents at a time (gathering every entry's row at once is ~8x slower
        # for posts with thousands of features each).
        starts = np.flatnonzero(np.r_[True, self.docs[1:] != self.docs[:-1]])
        bounds = np.r_[starts, len(self.ids)]
        blocks = np.searchsorted(starts, np.arange(0, len(self.ids), self.DOT_BLOCK))
        cuts = np.unique(np.r_[blocks, len(starts)])
        for first, last in zip(cuts[:-1], cuts[1:], strict=True):  # documents first..last-1
            lo, hi = bounds[first], bounds[last]
            contributions = weights_t[self.ids[lo:hi]] * self.values[lo:hi, None]
            out[self.docs[starts[first:last]]] = np.add.reduceat(
                contributions, starts[first:last] - lo, axis=0
            )
        return out


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
    ``SparseRows.count([analyzer(text) for text in texts], index)`` gives them, but
    with character n-grams counted by word.

    A post has thousands of character n-grams and a few hundred words, most of them
    repeated. The n-grams of each distinct word of a batch are looked up once, as
    the array of their vocabulary ids (kept in an LRU cache of :attr:`CACHED_WORDS`
    words across batches); a document's character ids are its words' arrays
    concatenated, gathered and counted with numpy. Once many new words have come,
    their n-grams are looked up as integer codes with numpy (:class:`GramCodes`)
    rather than as strings one by one. Word n-grams (of
    :class:`~topics.text.Analyzer` or the word part of
    :class:`~topics.text.WordCharAnalyzer`) are few and looked up as strings.

    >>> counter = TermCounter(CharAnalyzer(ngram_range=(2, 2)), {" r": 0, "ai": 1, "l ": 2})
    >>> rows = counter.count(["Rail rail", ""])
    >>> rows.docs.tolist(), rows.ids.tolist(), rows.values.tolist()
    ([0, 0, 0], [0, 1, 2], [2.0, 2.0, 2.0])
    """

    CACHED_WORDS = 1 << 14  # as CharAnalyzer's: words repeat (Zipf)
    # New words are looked up as strings until this many have been: the integer
    # codes of a large vocabulary take about a second to build (a cold start
    # classifying one text should not pay that) and save ~10 µs a word.
    CODES_AFTER_WORDS = 50_000

    def __init__(self, analyzer: TextAnalyzer, index: dict[str, int]) -> None:
        self.index = index
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
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._codes: GramCodes | None = None  # built once CODES_AFTER_WORDS words missed
        self._missed = 0
        self._lock = threading.Lock()

    def count(self, texts: Sequence[str]) -> SparseRows:
        """The features' counts, one row per text."""
        width = len(self.index) + 1
        keys: list[np.ndarray] = []
        if self.words is not None:
            keys.append(_known_keys([self.words(text) for text in texts], self.index, width))
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
        cache = self._cache
        found = list(map(cache.get, words))
        missing = [word for word, ids in zip(words, found, strict=True) if ids is None]
        for word, ids in zip(words, found, strict=True):
            if ids is not None:
                cache.move_to_end(word)
        if missing:
            computed = dict(zip(missing, self._lookup(missing), strict=True))
            found = [
                computed[word] if ids is None else ids
                for word, ids in zip(words, found, strict=True)
            ]
            cache.update(computed)
            while len(cache) > self.CACHED_WORDS:
                cache.popitem(last=False)
        return found  # type: ignore[return-value]

    def _lookup(self, words: list[str]) -> list[np.ndarray]:
        """The known n-gram ids of each of ``words``, looked up together."""
        assert self.chars is not None
        self._missed += len(words)
        if self._codes is None and self._missed >= self.CODES_AFTER_WORDS:
            self._codes = GramCodes.of(self.index, self.prefix, self.chars.ngram_range[1])
        if self._codes is not None and self._codes.usable:
            word_of_gram, ids = self._codes.lookup(words, self.chars.ngram_range)
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


class GramCodes:
    """Character n-grams as integers, to look many up in the vocabulary with numpy.

    A gram of ``n`` characters is the base-``b`` number of its characters' ranks in
    the vocabulary's alphabet (1 .. b - 1; 0 for a character no term has, which no
    term's code then matches). Codes are distinct among grams of one length, and
    each length has its own sorted table, so a code found there is that term.
    Usable when ``b ** longest`` fits in an int64; otherwise the counter looks the
    n-gram strings up one by one.
    """

    def __init__(
        self,
        alphabet: np.ndarray,
        tables: dict[int, tuple[np.ndarray, np.ndarray]],
        usable: bool,
    ) -> None:
        self.alphabet, self.tables, self.usable = alphabet, tables, usable
        self.base = len(alphabet) + 1
        # rank of each code point up to the alphabet's last, then 0 for any beyond
        self.ranks = np.zeros(int(alphabet.max()) + 2 if len(alphabet) else 1, dtype=np.int32)
        self.ranks[alphabet] = np.arange(1, len(alphabet) + 1)

    @classmethod
    def of(cls, index: dict[str, int], prefix: str, longest: int) -> GramCodes:
        """The codes of ``index``'s terms that are ``prefix`` + a gram of at most
        ``longest`` characters."""
        cut = len(prefix)
        by_length: dict[int, tuple[list[str], list[int]]] = {}
        for term, i in index.items():
            if term.startswith(prefix) and 0 < len(term) - cut <= longest:
                grams, ids = by_length.setdefault(len(term) - cut, ([], []))
                grams.append(term[cut:])
                ids.append(i)
        points = {
            n: _code_points("".join(grams)).reshape(-1, n) for n, (grams, _) in by_length.items()
        }
        alphabet = np.unique(
            np.concatenate([p.ravel() for p in points.values()] or [np.zeros(0, np.uint32)])
        )
        if (len(alphabet) + 1) ** longest >= 2**63:
            return cls(alphabet, {}, usable=False)
        codes = cls(alphabet, {}, usable=True)
        for n, (_, ids) in by_length.items():
            digits = codes.digits(points[n].ravel()).reshape(-1, n)
            keys = np.zeros(len(digits), dtype=np.int64)
            for column in digits.T:
                keys = keys * codes.base + column
            order = np.argsort(keys)
            codes.tables[n] = (keys[order], np.asarray(ids, dtype=np.int64)[order])
        return codes

    def digits(self, points: np.ndarray) -> np.ndarray:
        """Each code point's rank in the alphabet, from 1; 0 if it is not in it."""
        return self.ranks[np.minimum(points, len(self.ranks) - 1)].astype(np.int64)

    def lookup(
        self, words: list[str], ngram_range: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(word_of_gram, ids)``: CharAnalyzer's n-grams of each of ``words`` (of the
        padded word, ``low <= n <= high``, or the padded word itself when shorter
        than ``low``) with their vocabulary ids, -1 if unknown; grams in no order."""
        low, high = ngram_range
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        digits = self.digits(_code_points("".join(f" {word} " for word in words)))
        word_of_point = np.repeat(np.arange(len(words)), lengths)
        starts = np.cumsum(lengths) - lengths
        # characters from each position to the end of its padded word
        room = (starts + lengths)[word_of_point] - np.arange(len(digits))
        keys = digits
        words_found: list[np.ndarray] = []
        ids_found: list[np.ndarray] = []
        for n in range(1, high + 1):
            if n > 1:  # keys[p]: the code of the n characters from p
                keys = keys[:-1] * self.base + digits[n - 1 :]
            # below low, only a word of n characters counts, once, as itself
            at = np.flatnonzero(room[: len(keys)] >= n) if n >= low else starts[lengths == n]
            words_found.append(word_of_point[at])
            ids_found.append(self.find(n, keys[at]))
        return np.concatenate(words_found), np.concatenate(ids_found)

    def find(self, n: int, keys: np.ndarray) -> np.ndarray:
        """The vocabulary id of each code of ``n`` characters, -1 if no term has it."""
        if n not in self.tables:
            return np.full(len(keys), -1, dtype=np.int64)
        table, ids = self.tables[n]
        at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return np.where(table[at] == keys, ids[at], -1)


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` (lone surrogates included, as Python keeps them)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def tfidf_weight(rows: SparseRows, idf: np.ndarray, sublinear_tf: bool) -> SparseRows:
    """Counts -> l2-normalised TF-IDF values, in place, as sklearn computes them."""
    tf = np.log(rows.values) + 1.0 if sublinear_tf else rows.values
    values = tf * idf[rows.ids]
    norms = np.sqrt(np.bincount(rows.docs, weights=values * values, minlength=rows.n_docs))
    rows.values = values / norms[rows.docs]
    return rows
