"""A vocabulary held compactly, and many n-grams looked up in it at once with numpy.

:class:`Terms` holds the terms as one string; :class:`GramCodes` and
:class:`WordCodes` turn character and word n-grams into integers, so that a batch of
texts' n-grams is found in hash tables of integers rather than in a dict of strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, count, repeat

import numpy as np


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

    # Terms sliced to strings at a time: the lists of bounds stay small.
    CHUNK = 1 << 15

    def chunks(self, mask: np.ndarray) -> Iterator[tuple[list[str], np.ndarray]]:
        """The terms where ``mask`` is true, as strings and ids, a chunk at a time."""
        ids = np.flatnonzero(mask)
        for lo in range(0, len(ids), self.CHUNK):
            chunk = ids[lo : lo + self.CHUNK]
            cuts = map(slice, self.starts[chunk].tolist(), self.ends[chunk].tolist())
            yield list(map(self.text.__getitem__, cuts)), chunk

    def where(self, mask: np.ndarray) -> dict[str, int]:
        """``{term: id}`` of the terms where ``mask`` is true."""
        index: dict[str, int] = {}
        for strings, ids in self.chunks(mask):
            index.update(zip(strings, ids.tolist(), strict=True))
        return index


class CodeTable:
    """A hash table from n-gram codes (int64, >= 0) to term ids, for looking many
    codes up at once with numpy: open addressing with linear probing, at most half
    full. A code is found in a slot or two, where a binary search of 100k sorted codes
    takes 17 dependent steps: 20 Newsgroups' n-grams are looked up twice as fast.

    >>> table = CodeTable(np.array([7, 900, 7]), np.array([0, 1, 2]))
    >>> table.find(np.array([900, 7, 8])).tolist(), len(table)
    ([1, 0, -1], 2)
    """

    MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: 2 ** 64 / golden ratio

    def __init__(self, codes: np.ndarray, ids: np.ndarray) -> None:
        # a repeated code: its first id
        self.codes, first = np.unique(np.asarray(codes, dtype=np.int64), return_index=True)
        ids = np.asarray(ids, dtype=np.int64)[first]
        self.ids = ids.astype(np.int32) if len(ids) and ids.max() < 2**31 else ids
        bits = (2 * max(len(self.codes), 1) - 1).bit_length()  # 2 ** bits >= 2 x codes
        self.shift = np.uint64(64 - bits)
        # Codes in the order of their hash, each to the first free slot from it:
        # slot i = max(hash i, slot i-1 + 1), a running maximum. Probes run on past
        # the last hash (no wrapping round), to an empty slot kept at the end.
        homes = self._slots(self.codes)
        order = np.argsort(homes)
        rank = np.arange(len(order))
        at = np.maximum.accumulate(homes[order] - rank) + rank if len(order) else rank
        self.slots = np.full(max(1 << bits, int(at.max(initial=0)) + 2), -1, dtype=np.int32)
        self.slots[at] = order  # which code, -1 for none

    def __len__(self) -> int:
        return len(self.codes)

    def _slots(self, codes: np.ndarray) -> np.ndarray:
        return ((codes.astype(np.uint64) * self.MIX) >> self.shift).astype(np.int64)

    def find(self, codes: np.ndarray) -> np.ndarray:
        """The term id of each code, -1 for a code no term has."""
        if not len(self.codes):
            return np.full(len(codes), -1, dtype=np.int64)
        slots = self._slots(codes)
        held = self.slots[slots]
        hit = (held >= 0) & (self.codes[held] == codes)
        ids = np.where(hit, self.ids[held], -1).astype(np.int64)
        # the others probe on, each to its code or to an empty slot
        active = np.flatnonzero(~hit & (held >= 0))
        slots = slots[active]
        while len(active):
            slots = slots + 1
            held = self.slots[slots]
            hit = (held >= 0) & (self.codes[held] == codes[active])
            ids[active[hit]] = self.ids[held[hit]]
            on = ~hit & (held >= 0)
            active, slots = active[on], slots[on]
        return ids


class _Tables:
    """Integer codes of n-grams, a :class:`CodeTable` per length ``n``: a code found in
    table ``n`` is that term."""

    tables: dict[int, CodeTable]

    @property
    def n_terms(self) -> int:
        """Distinct terms among the tables (fewer than their entries if some repeat)."""
        return sum(map(len, self.tables.values()))

    def fill(self, parts: dict[int, list[tuple[np.ndarray, np.ndarray]]]) -> None:
        """The tables from ``(codes, term ids)`` arrays, a list of them per length."""
        for n, found in parts.items():
            codes, ids = (np.concatenate(part) for part in zip(*found, strict=True))
            self.tables[n] = CodeTable(codes, ids)

    def find(self, n: int, keys: np.ndarray) -> np.ndarray:
        """The vocabulary id of each code of length ``n``, -1 if no term has it."""
        if n not in self.tables:
            return np.full(len(keys), -1, dtype=np.int64)
        return self.tables[n].find(keys)


class GramCodes(_Tables):
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
        tables: dict[int, CodeTable],
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
        codes.fill(parts)
        return codes, coded

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


class WordCodes(_Tables):
    """Word n-grams as integers, to look many up in the vocabulary with numpy.

    A term's tokens are its parts between spaces (as :class:`~topics.text.Analyzer`
    joins them). An n-gram of ``n`` tokens is the base-``b`` number of their ids (1 ..
    b - 1 for the tokens of the terms held; 0 for any other token, which no term's
    code then matches), with a table per ``n`` as :class:`GramCodes`. A text's tokens
    are looked up once each, and its n-grams found with numpy: no n-gram string is
    built. Usable when ``b ** longest`` fits in an int64.

    >>> codes, held = WordCodes.of(Terms.of(["rail", "rail link", "link"]), [True] * 3, 2)
    >>> codes.keys([["rail", "link", "now"]], (1, 2), width=10).tolist()
    [0, 2, 1]
    """

    def __init__(self, tokens: dict[str, int], usable: bool) -> None:
        self.tokens, self.usable = tokens, usable
        self.base = len(tokens) + 1
        self.tables = {}

    @classmethod
    def of(cls, terms: Terms, mask: np.ndarray, longest: int) -> tuple[WordCodes, np.ndarray]:
        """The codes of the terms where ``mask`` is true that have at most ``longest``
        tokens, and which terms those are (a mask)."""
        firsts: dict[str, int] = {}  # each token's first position among all terms' tokens
        chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        seen = 0  # tokens so far
        for lo in range(0, len(terms), terms.CHUNK):  # consecutive terms, some of them ours
            ours = np.asarray(mask[lo : lo + terms.CHUNK], dtype=bool)
            if not ours.any():
                continue
            ids = lo + np.flatnonzero(ours)
            starts, ends = terms.starts[lo : lo + terms.CHUNK], terms.ends[lo : lo + terms.CHUNK]
            points = _code_points(terms.text[starts[0] : ends[-1]])
            lengths = ends - starts
            if not ours.all():
                points, lengths = points[np.repeat(ours, lengths)], lengths[ours]
            # our terms' code points, a space after each but the last: then split at spaces
            bounds = np.cumsum(lengths)
            spaces = np.r_[0, np.cumsum(points == ord(" "))]
            sizes = spaces[bounds] - spaces[bounds - lengths] + 1  # tokens a term
            spaced = np.insert(points, bounds[:-1], ord(" "))
            flat = spaced.tobytes().decode("utf-32-le", "surrogatepass").split(" ")
            at = map(firsts.setdefault, flat, count(seen))
            chunks.append((sizes, np.fromiter(at, np.int64, len(flat)), ids))
            seen += len(flat)
        # a token's code: the rank of its first position (firsts keeps them in order)
        codes = cls(dict(zip(firsts, count(1))), usable=(len(firsts) + 1) ** longest < 2**63)
        held = np.zeros(len(terms), dtype=bool)
        if not codes.usable:
            return codes, held
        ranked = np.fromiter(firsts.values(), np.int64, len(firsts))
        parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for sizes, positions, ids in chunks:
            digits = np.searchsorted(ranked, positions) + 1
            starts = np.cumsum(sizes) - sizes
            for n in np.unique(sizes[sizes <= longest]).tolist():
                these = sizes == n
                keys = np.zeros(int(these.sum()), dtype=np.int64)
                for k in range(n):
                    keys = keys * codes.base + digits[starts[these] + k]
                parts.setdefault(n, []).append((keys, ids[these]))
                held[ids[these]] = True
        codes.fill(parts)
        return codes, held

    def keys(self, docs: list[list[str]], ngram_range: tuple[int, int], width: int) -> np.ndarray:
        """``doc * width + id`` of each known n-gram (``low <= n <= high`` tokens in a
        row) of the token lists ``docs``."""
        low, high = ngram_range
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        total = int(lengths.sum())
        found = map(self.tokens.get, chain.from_iterable(docs), repeat(0))
        digits = np.fromiter(found, dtype=np.int64, count=total)
        room = np.repeat(np.cumsum(lengths), lengths) - np.arange(total)  # tokens to doc end
        doc_keys = np.repeat(np.arange(len(docs), dtype=np.int64) * width, lengths)
        keys = digits
        known: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        for n in range(1, high + 1):
            if n > 1:  # keys[p]: the code of the n tokens from p
                keys = keys[:-1] * self.base + digits[n - 1 :]
            if n >= low:
                at = np.flatnonzero(room[: len(keys)] >= n)
                ids = self.find(n, keys[at])
                hit = ids >= 0
                known.append(doc_keys[at[hit]] + ids[hit])
        return np.concatenate(known)


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``0 .. n - 1`` for each ``n`` of ``lengths``, concatenated."""
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` (lone surrogates included, as Python keeps them)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
