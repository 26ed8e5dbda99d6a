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


class Terms:
    """A vocabulary as one string and its terms' lengths: term ``i`` is
    ``text[starts[i]:ends[i]]``. 20 Newsgroups' 623k terms take 5 MB this way and
    40 MB as Python strings; the counter builds its lookups from the text directly.

    >>> terms = Terms.of(["rail", "port"])
    >>> terms.text, len(terms), terms[1]
    ('railport', 2, 'port')
    """

    def __init__(self, text: str, lengths: np.ndarray) -> None:
        self.text = text
        self.ends = np.cumsum(lengths, dtype=np.int64)
        self.starts = self.ends - lengths

    @classmethod
    def of(cls, terms: Sequence[str]) -> Terms:
        return cls("".join(terms), np.fromiter(map(len, terms), np.int64, count=len(terms)))

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> str:
        return self.text[self.starts[i] : self.ends[i]]

    def where(self, mask: np.ndarray) -> dict[str, int]:
        """``{term: id}`` of the terms where ``mask`` is true (sliced a chunk at a
        time: the lists of bounds stay small beside the dict)."""
        index: dict[str, int] = {}
        ids = np.flatnonzero(mask)
        for lo in range(0, len(ids), 1 << 15):
            chunk = ids[lo : lo + (1 << 15)]
            cuts = map(slice, self.starts[chunk].tolist(), self.ends[chunk].tolist())
            index.update(zip(map(self.text.__getitem__, cuts), chunk.tolist(), strict=True))
        return index


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
    word part of :class:`~topics.text.WordCharAnalyzer`) are few and looked up as
    strings, and so are character n-grams whose codes would overflow an int64.

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
        coded = np.zeros(len(terms), dtype=bool)
        if self.chars is not None:  # codes unusable: none is coded
            codes, coded = GramCodes.of(terms, self.prefix, self.chars.ngram_range[1])
            self.codes = codes if codes.usable else None
        self.index = terms.where(~coded)  # the terms without codes, by string
        self.n_terms = len(self.index) + (self.codes.n_terms if self.codes else 0)
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def count(self, texts: Sequence[str]) -> SparseRows:
        """The features' counts, one row per text."""
        width = self.width
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

    # Terms turned into code points at a time: their transient arrays stay a few MB.
    BUILD_CHUNK = 1 << 15

    @classmethod
    def of(cls, terms: Terms, prefix: str, longest: int) -> tuple[GramCodes, np.ndarray]:
        """The codes of the terms that are ``prefix`` + a gram of at most ``longest``
        characters, and which terms those are (a mask). Built with numpy from the
        code points of a chunk of consecutive terms at a time."""
        cut = len(prefix)
        chunks = [
            (lo, min(lo + cls.BUILD_CHUNK, len(terms)))
            for lo in range(0, len(terms), cls.BUILD_CHUNK)
        ]

        def grams(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            """The chunk's code points, and its grams' ids, first points and lengths."""
            first = terms.starts[lo]
            points = _code_points(terms.text[first : terms.ends[hi - 1]])
            starts, sizes = terms.starts[lo:hi] - first, terms.ends[lo:hi] - terms.starts[lo:hi]
            ours = (sizes > cut) & (sizes <= cut + longest)
            for k, character in enumerate(prefix if len(points) else ""):
                ours &= points[np.minimum(starts + k, len(points) - 1)] == ord(character)
            return lo + np.flatnonzero(ours), starts[ours] + cut, sizes[ours] - cut, points

        seen = np.zeros(0, dtype=bool)
        for lo, hi in chunks:
            _, firsts, lengths, points = grams(lo, hi)
            used = points[np.repeat(firsts, lengths) + _ranges(lengths)]
            if len(used) and used.max() >= len(seen):
                seen = np.pad(seen, (0, int(used.max()) + 1 - len(seen)))
            seen[used] = True
        alphabet = np.flatnonzero(seen).astype(np.uint32)
        coded = np.zeros(len(terms), dtype=bool)
        if (len(alphabet) + 1) ** longest >= 2**63:
            return cls(alphabet, {}, usable=False), coded
        codes = cls(alphabet, {}, usable=True)
        parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for lo, hi in chunks:
            ids, firsts, lengths, points = grams(lo, hi)
            coded[ids] = True
            for n in np.unique(lengths).tolist():
                these = lengths == n
                keys = np.zeros(int(these.sum()), dtype=np.int64)
                for k in range(n):
                    keys = keys * codes.base + codes.digits(points[firsts[these] + k])
                parts.setdefault(n, []).append((keys, ids[these]))
        for n, found in parts.items():
            keys, term_ids = (np.concatenate(part) for part in zip(*found, strict=True))
            order = np.argsort(keys)
            codes.tables[n] = (keys[order], term_ids[order])
        return codes, coded

    @property
    def n_terms(self) -> int:
        """Distinct terms among the tables (fewer than their entries if some repeat)."""
        return sum(int(np.count_nonzero(np.diff(keys))) + 1 for keys, _ in self.tables.values())

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


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``0 .. n - 1`` for each ``n`` of ``lengths``, concatenated."""
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


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
