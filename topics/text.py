"""Tokenization shared by training and prediction.

Pure Python (``re`` only): the TF-IDF vectorizer is given :class:`Analyzer` as its
``analyzer``, and :mod:`topics.serve.predictor` rebuilds the same object from the bundle,
so a document gets the same features in both places by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain
from typing import Any

# sklearn's default token pattern: words of two or more word characters.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# The token patterns training writes into a bundle. A bundle is untrusted data,
# and a regex from it could backtrack for minutes: nothing else is compiled.
TOKEN_PATTERNS = frozenset({TOKEN_PATTERN})
# The longest n-gram (words or characters) training makes and a bundle may ask for:
# the cost of a text grows with n times its length.
MAX_NGRAM = 16
MAX_MIN_LENGTH = 64  # TopicTokenizer.min_length


def field_error(field: str, expected: str, found: Any) -> ValueError:
    """``field: expected ..., found ...`` (the value shown short)."""
    shown = repr(found)
    return ValueError(f"{field}: expected {expected}, found {shown[:80]}")


# a mail or Usenet header line, "Name: value": a name of printable ASCII but ":" (RFC 5322)
_HEADER_LINE = re.compile(r"[!-9;-~]+:")


def keep_header_fields(text: str, fields: Iterable[str]) -> str:
    """``text`` with its opening header block (``Name: value`` lines and their indented
    continuations, up to the first blank line, as a mail or a Usenet post opens) cut to
    the named ``fields``, in any case. A text that opens otherwise comes back whole, and
    so does one whose block has a single field: a mail or a post has at least two (RFC
    5322 asks for From and Date), an article opening "Update: ..." is not one.

    >>> keep_header_fields("From: ann@x.org\\nSubject: Clipper\\nLines: 2\\n\\nBody.", ["subject"])
    'Subject: Clipper\\n\\nBody.'
    >>> keep_header_fields("Update: the vote is Friday.\\n\\nBody.", ["subject"])
    'Update: the vote is Friday.\\n\\nBody.'
    """
    lines = text.splitlines(keepends=True)
    if not lines or not _HEADER_LINE.match(lines[0]):
        return text
    wanted = {field.lower() for field in fields}
    kept: list[str] = []
    keeping = False
    fields_seen = 0
    for number, line in enumerate(lines):
        if not line.strip():  # the blank line that ends the headers
            return "".join(kept + lines[number:]) if fields_seen >= 2 else text
        if line[0] in " \t":  # a continuation of the field before
            if keeping:
                kept.append(line)
            continue
        if not _HEADER_LINE.match(line):
            return text  # not a header block
        fields_seen += 1
        keeping = line.split(":", 1)[0].lower() in wanted
        if keeping:
            kept.append(line)
    return text  # headers with no body: not a post's opening


def required(data: Any, key: str) -> Any:
    """``data[key]``; ``ValueError`` naming the key when ``data`` is no object or lacks it."""
    if not isinstance(data, dict):
        raise ValueError(f"{key}: expected inside an object, found {type(data).__name__}")
    if key not in data:
        raise ValueError(f"{key}: missing")
    return data[key]


def required_bool(data: Any, key: str) -> bool:
    """``data[key]``, which must be true or false."""
    value = required(data, key)
    if not isinstance(value, bool):
        raise field_error(key, "true or false", value)
    return value


def required_strings(data: Any, key: str, default: Any = None) -> list[str]:
    """``data[key]`` (or ``default`` when given and the key is absent): a list of strings."""
    value = required(data, key) if default is None else data.get(key, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise field_error(key, "a list of strings", value)
    return value


def ngram_range_from(data: Any, key: str = "ngram_range") -> tuple[int, int]:
    """``data[key]`` checked as training writes it: ``[low, high]`` with
    1 <= low <= high <= MAX_NGRAM."""
    value = required(data, key)
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(type(n) is int for n in value)
        and 1 <= value[0] <= value[1] <= MAX_NGRAM
    ):
        raise field_error(key, f"[low, high] with 1 <= low <= high <= {MAX_NGRAM}", value)
    return value[0], value[1]


class Analyzer:
    """Text -> list of features: lowercase, tokens, stop words removed, word n-grams.

    Matches sklearn's ``CountVectorizer`` word analyzer with the same settings.

    >>> Analyzer(ngram_range=(1, 2), stop_words=["the"])("The Silk Road rail link")
    ['silk', 'road', 'rail', 'link', 'silk road', 'road rail', 'rail link']
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 1),
        stop_words: Iterable[str] = (),
        lowercase: bool = True,
        token_pattern: str = TOKEN_PATTERN,
    ) -> None:
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.stop_words = frozenset(stop_words)
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self._regex = re.compile(token_pattern)

    def __call__(self, text: str) -> list[str]:
        return self.ngrams(self.tokens(text))

    def tokens(self, text: str) -> list[str]:
        """The text's tokens, stop words removed: what the n-grams are made of."""
        tokens = self._regex.findall(text.lower() if self.lowercase else text)
        if not self.stop_words:
            return tokens
        return [t for t in tokens if t not in self.stop_words]

    def ngrams(self, tokens: list[str]) -> list[str]:
        """The n-grams of ``tokens``, each as its tokens joined by a space."""
        low, high = self.ngram_range
        features = list(tokens) if low == 1 else []
        for n in range(max(low, 2), high + 1):
            # zip stops at the shortest slice: exactly the n-grams that fit.
            shifted = [tokens[k:] for k in range(n)]
            features.extend(map(" ".join, zip(*shifted)))  # noqa: B905
        return features

    def to_dict(self) -> dict[str, Any]:
        return {
            "ngram_range": list(self.ngram_range),
            "stop_words": sorted(self.stop_words),
            "lowercase": self.lowercase,
            "token_pattern": self.token_pattern,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analyzer:
        """The analyzer ``to_dict`` described; every value is checked (it may come
        from an untrusted bundle): ``ValueError`` names the field."""
        pattern = required(data, "token_pattern")
        if pattern not in TOKEN_PATTERNS:
            raise field_error("token_pattern", f"{TOKEN_PATTERN!r} (what training writes)", pattern)
        return cls(
            ngram_range=ngram_range_from(data),
            stop_words=required_strings(data, "stop_words"),
            lowercase=required_bool(data, "lowercase"),
            token_pattern=pattern,
        )

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**{**state, "ngram_range": tuple(state["ngram_range"])})  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Analyzer(ngram_range={self.ngram_range}, stop_words={len(self.stop_words)} words)"


class TopicTokenizer:
    """Text -> word tokens for topic models: lowercase letters-only words of at
    least ``min_length`` characters, stop words removed, then known two-word
    ``phrases`` merged into one token (``"silk road"`` -> ``"silk_road"``, left to right).

    >>> TopicTokenizer(min_length=3, stop_words=["the"])("The 2 railways of Kazakhstan")
    ['railways', 'kazakhstan']
    >>> TopicTokenizer(phrases=["silk road"])("The Silk Road railway")
    ['the', 'silk_road', 'railway']
    """

    def __init__(
        self, min_length: int = 3, stop_words: Iterable[str] = (), phrases: Iterable[str] = ()
    ) -> None:
        self.min_length = int(min_length)
        self.stop_words = frozenset(stop_words)
        self.phrases = frozenset(phrases)
        self._pairs = frozenset(tuple(p.split(" ")) for p in self.phrases)
        self._regex = re.compile(rf"(?u)\b[^\W\d_]{{{self.min_length},}}\b")

    def __call__(self, text: str) -> list[str]:
        tokens = [t for t in self._regex.findall(text.lower()) if t not in self.stop_words]
        return merge_phrases(tokens, self._pairs) if self._pairs else tokens

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "min_length": self.min_length,
            "stop_words": sorted(self.stop_words),
        }
        if self.phrases:
            data["phrases"] = sorted(self.phrases)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicTokenizer:
        """The tokenizer ``to_dict`` described, every value checked (``ValueError``
        names the field)."""
        min_length = required(data, "min_length")
        if type(min_length) is not int or not 1 <= min_length <= MAX_MIN_LENGTH:
            raise field_error("min_length", f"an integer in [1, {MAX_MIN_LENGTH}]", min_length)
        phrases = required_strings(data, "phrases", default=[])
        if not all(len(phrase.split(" ")) == 2 for phrase in phrases):
            raise field_error("phrases", "two-word phrases", phrases)
        return cls(
            min_length=min_length, stop_words=required_strings(data, "stop_words"), phrases=phrases
        )

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


def merge_phrases(tokens: list[str], pairs: frozenset[tuple[str, ...]]) -> list[str]:
    """Join adjacent tokens that form a known pair, greedily from the left.

    >>> merge_phrases(["new", "york", "city"], frozenset({("new", "york"), ("york", "city")}))
    ['new_york', 'city']
    """
    merged: list[str] = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) in pairs:
            merged.append(f"{tokens[i]}_{tokens[i + 1]}")
            i += 2
        else:
            merged.append(tokens[i])
            i += 1
    return merged


class CharAnalyzer:
    """Text -> character n-grams inside word boundaries, padded with a space.

    Matches sklearn's ``analyzer="char_wb"`` with the same settings.

    >>> CharAnalyzer(ngram_range=(2, 3))("Rail")
    [' r', 'ra', 'ai', 'il', 'l ', ' ra', 'rai', 'ail', 'il ']
    """

    kind = "char_wb"
    CACHED_WORDS = 1 << 14  # words repeat (Zipf): most are cut into n-grams once

    def __init__(self, ngram_range: tuple[int, int] = (2, 5), lowercase: bool = True) -> None:
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.lowercase = lowercase
        self._word_grams = lru_cache(maxsize=self.CACHED_WORDS)(self._grams)

    def __call__(self, text: str, prefix: str = "") -> list[str]:
        """The n-grams of ``text``, each with ``prefix`` in front."""
        if self.lowercase:
            text = text.lower()
        word_grams = self._word_grams
        return list(chain.from_iterable(word_grams(word, prefix) for word in text.split()))

    def word_grams(self, word: str, prefix: str = "") -> tuple[str, ...]:
        """The n-grams of one ``word`` (no whitespace in it), each with ``prefix`` in
        front, uncached: what :meth:`__call__` concatenates over the words of a text."""
        return self._grams(word, prefix)

    def _grams(self, word: str, prefix: str) -> tuple[str, ...]:
        padded = f" {word} "
        length = len(padded)
        grams: list[str] = []
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            if length <= n:  # a short word counts once, as itself
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(length - n + 1))
        return tuple(prefix + gram for gram in grams)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ngram_range": list(self.ngram_range),
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharAnalyzer:
        return cls(ngram_range=ngram_range_from(data), lowercase=required_bool(data, "lowercase"))

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(ngram_range=tuple(state["ngram_range"]), lowercase=state["lowercase"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"CharAnalyzer(ngram_range={self.ngram_range})"


class WordCharAnalyzer:
    """Text -> word n-grams, then character n-grams marked ``char:`` so the two
    never collide (a word feature has no colon). One vocabulary and one TF-IDF
    weighting over both: the word features carry the topic, the character
    n-grams what tokens miss (e-mail addresses, spelling variants, word pieces).

    >>> WordCharAnalyzer(Analyzer(), CharAnalyzer(ngram_range=(3, 3)))("Rail")
    ['rail', 'char: ra', 'char:rai', 'char:ail', 'char:il ']
    """

    kind = "word+char_wb"
    CHAR_PREFIX = "char:"

    def __init__(self, word: Analyzer, char: CharAnalyzer) -> None:
        self.word = word
        self.char = char

    def __call__(self, text: str) -> list[str]:
        return self.word(text) + self.char(text, prefix=self.CHAR_PREFIX)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "word": self.word.to_dict(), "char": self.char.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordCharAnalyzer:
        parts = []
        for key, part in (("word", Analyzer), ("char", CharAnalyzer)):
            try:
                parts.append(part.from_dict(required(data, key)))
            except ValueError as exc:
                raise ValueError(f"{key}.{exc}") from exc
        word, char = parts
        assert isinstance(word, Analyzer) and isinstance(char, CharAnalyzer)
        return cls(word, char)

    def __repr__(self) -> str:
        return f"WordCharAnalyzer({self.word!r}, {self.char!r})"


TextAnalyzer = Analyzer | CharAnalyzer | WordCharAnalyzer


def analyzer_from_dict(data: dict[str, Any]) -> TextAnalyzer:
    """Rebuild the analyzer a bundle describes (word n-grams unless its ``kind`` says
    otherwise). Every value is checked: ``ValueError`` names the field.

    >>> analyzer_from_dict({"ngram_range": [1, 5000], "stop_words": [], "lowercase": True,
    ...                     "token_pattern": TOKEN_PATTERN})
    Traceback (most recent call last):
    ValueError: ngram_range: expected [low, high] with 1 <= low <= high <= 16, found [1, 5000]
    """
    kind = required(data, "kind") if isinstance(data, dict) and "kind" in data else None
    if kind == CharAnalyzer.kind:
        return CharAnalyzer.from_dict(data)
    if kind == WordCharAnalyzer.kind:
        return WordCharAnalyzer.from_dict(data)
    if kind is not None:
        raise field_error("kind", f"{CharAnalyzer.kind!r}, {WordCharAnalyzer.kind!r} or none", kind)
    return Analyzer.from_dict(data)
