"""BERT's WordPiece tokenizer in the standard library, token for token as ``tokenizers``.

A MiniLM bundle keeps its tokenizer as the JSON of the ``tokenizers`` library. Building
that library's tokenizer from the JSON takes 20-30 ms of a cold start (10 of them the
import), all holding the GIL; reading the vocabulary with :func:`json.loads` takes
about 8. :class:`WordPiece` runs the same steps for the one shape BERT-style models
use (``BertNormalizer`` lowercasing, ``BertPreTokenizer``, ``WordPiece``, ``[CLS] text
[SEP]``), and :func:`supports` says when a JSON has that shape:

- special tokens (``[CLS]``, ``[MASK]``, ...) are matched in the raw text first;
- the rest is cleaned (control characters dropped, white space made a space), CJK
  ideographs spaced apart, NFD-decomposed with the non-spacing marks dropped, and
  lowercased character by character;
- then split on spaces, every punctuation character a word of its own, and each word
  cut greedily into the longest vocabulary pieces (``##`` inside a word; a word that
  cannot be cut, or is longer than ``max_input_chars_per_word``, is the unknown token);
- truncated to ``max_length`` tokens with ``[CLS]`` and ``[SEP]``, so it stops reading
  a long text as soon as it has enough pieces (the library reads every word first).

Unicode categories come from :mod:`unicodedata`; ``tokenizers`` uses older tables.
:data:`UNKNOWN_TO_TOKENIZERS` lists the characters it does not know (it keeps them as
letters) and :data:`RECATEGORIZED` the three whose category changed since, both for the
Unicode version :data:`UNICODE_VERSION` (Python 3.11's) against ``tokenizers`` 0.23.
:func:`supports` is false under any other Unicode version, so the caller falls back to
the library there. ``tests/test_wordpiece.py`` checks every code point and the shipped
datasets against the library.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

UNICODE_VERSION = "14.0.0"

# Rust's char::is_whitespace (Unicode White_Space); str.isspace differs (\x1c-\x1f)
WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# code points (inclusive ranges) with a category in Unicode 14 that tokenizers' tables
# lack: marks, punctuation and format characters it treats as letters
UNKNOWN_TO_TOKENIZERS = (
    (0x61D, 0x61D), (0x7FD, 0x7FD), (0x890, 0x891), (0x898, 0x89F), (0x8CA, 0x8E2),
    (0x9FD, 0x9FE), (0xA76, 0xA76), (0xAFA, 0xAFF), (0xB55, 0xB55), (0xC04, 0xC04),
    (0xC3C, 0xC3C), (0xC77, 0xC77), (0xC84, 0xC84), (0xD00, 0xD00), (0xD3B, 0xD3C),
    (0xD81, 0xD81), (0xEBA, 0xEBA), (0x180F, 0x180F), (0x1885, 0x1886),
    (0x1ABF, 0x1ACE), (0x1B7D, 0x1B7E), (0x1DF6, 0x1DFB), (0x2E43, 0x2E4F),
    (0x2E52, 0x2E5D), (0xA82C, 0xA82C), (0xA8C5, 0xA8C5), (0xA8FF, 0xA8FF),
    (0xA9BD, 0xA9BD), (0x10D24, 0x10D27), (0x10EAB, 0x10EAD), (0x10F46, 0x10F50),
    (0x10F55, 0x10F59), (0x10F82, 0x10F89), (0x11070, 0x11070), (0x11073, 0x11074),
    (0x110C2, 0x110C2), (0x110CD, 0x110CD), (0x111CF, 0x111CF), (0x1123E, 0x1123E),
    (0x1133B, 0x1133B), (0x11438, 0x1143F), (0x11442, 0x11444), (0x11446, 0x11446),
    (0x1144B, 0x1144F), (0x1145A, 0x1145B), (0x1145D, 0x1145E), (0x11660, 0x1166C),
    (0x116B9, 0x116B9), (0x1182F, 0x11837), (0x11839, 0x1183B), (0x1193B, 0x1193C),
    (0x1193E, 0x1193E), (0x11943, 0x11946), (0x119D4, 0x119D7), (0x119DA, 0x119DB),
    (0x119E0, 0x119E0), (0x119E2, 0x119E2), (0x11A01, 0x11A0A), (0x11A33, 0x11A38),
    (0x11A3B, 0x11A47), (0x11A51, 0x11A56), (0x11A59, 0x11A5B), (0x11A8A, 0x11A96),
    (0x11A98, 0x11A9C), (0x11A9E, 0x11AA2), (0x11C30, 0x11C36), (0x11C38, 0x11C3D),
    (0x11C3F, 0x11C3F), (0x11C41, 0x11C45), (0x11C70, 0x11C71), (0x11C92, 0x11CA7),
    (0x11CAA, 0x11CB0), (0x11CB2, 0x11CB3), (0x11CB5, 0x11CB6), (0x11D31, 0x11D36),
    (0x11D3A, 0x11D3A), (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45), (0x11D47, 0x11D47),
    (0x11D90, 0x11D91), (0x11D95, 0x11D95), (0x11D97, 0x11D97), (0x11EF3, 0x11EF4),
    (0x11EF7, 0x11EF8), (0x11FFF, 0x11FFF), (0x12FF1, 0x12FF2), (0x13430, 0x13438),
    (0x16E97, 0x16E9A), (0x16F4F, 0x16F4F), (0x16FE2, 0x16FE2), (0x16FE4, 0x16FE4),
    (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46), (0x1E000, 0x1E006), (0x1E008, 0x1E018),
    (0x1E01B, 0x1E021), (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E130, 0x1E136),
    (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF), (0x1E944, 0x1E94A), (0x1E95E, 0x1E95F),
)  # fmt: skip
# recategorized since tokenizers' tables: it keeps the old category
RECATEGORIZED = {0x166D: "Po", 0x111C9: "Po", 0x1734: "Mn"}

NORMALIZER = {
    "type": "BertNormalizer",
    "clean_text": True,
    "handle_chinese_chars": True,
    "strip_accents": None,
    "lowercase": True,
}


def _category(c: str) -> str:
    """``c``'s Unicode category as ``tokenizers`` sees it."""
    o = ord(c)
    if o in RECATEGORIZED:
        return RECATEGORIZED[o]
    if any(low <= o <= high for low, high in UNKNOWN_TO_TOKENIZERS):
        return "Cn"
    return unicodedata.category(c)


def _clean(c: str) -> str:
    if c in "\t\n\r":
        return " "
    if c in "\x00\ufffd" or _category(c) in ("Cc", "Cf", "Co", "Cs"):
        return ""
    if c in WHITE_SPACE:
        return " "
    if any(low <= ord(c) <= high for low, high in CJK):
        return f" {c} "
    return c


def _unmarked(c: str) -> str:
    return "" if _category(c) == "Mn" else c


def _lower(c: str) -> str:
    return c.lower()  # one character at a time: no final sigma, as tokenizers


def _spaced(c: str) -> str:
    """A space for white space, punctuation between spaces (a word of its own)."""
    if c in WHITE_SPACE:
        return " "
    if c.isascii() and c.isprintable() and not c.isalnum() or _category(c)[0] == "P":
        return f" {c} "
    return c


class _Table(dict[int, str]):
    """A :meth:`str.translate` table filled on first sight of each character."""

    def __init__(self, rule: Callable[[str], str]) -> None:
        super().__init__()
        self.rule = rule

    def __missing__(self, key: int) -> str:
        value = self[key] = self.rule(chr(key))
        return value


def _special_ids(spec: dict[str, Any]) -> tuple[int, int] | None:
    """``([CLS] id, [SEP] id)`` of a post-processor that wraps one text in them."""
    post = spec.get("post_processor") or {}
    if post.get("type") != "TemplateProcessing":
        return None
    single = post.get("single") or []
    if len(single) != 3 or [next(iter(part)) for part in single] != [
        "SpecialToken",
        "Sequence",
        "SpecialToken",
    ]:
        return None
    ids = [post["special_tokens"][single[k]["SpecialToken"]["id"]]["ids"] for k in (0, 2)]
    if any(len(i) != 1 for i in ids):
        return None
    return int(ids[0][0]), int(ids[1][0])


def supports(spec: dict[str, Any]) -> bool:
    """Whether :class:`WordPiece` tokenizes as ``tokenizers`` would with this JSON."""
    model = spec.get("model") or {}
    added = spec.get("added_tokens") or []
    return (
        unicodedata.unidata_version == UNICODE_VERSION
        and spec.get("normalizer") == NORMALIZER
        and spec.get("pre_tokenizer") == {"type": "BertPreTokenizer"}
        and model.get("type") == "WordPiece"
        and model.get("unk_token") in (model.get("vocab") or {})
        and _special_ids(spec) is not None
        and all(
            not token["normalized"]
            and not token["lstrip"]
            and not token["rstrip"]
            and not token["single_word"]
            for token in added
        )
    )


class WordPiece:
    """The tokenizer of a ``tokenizers`` JSON that :func:`supports` accepts.

    Parameters
    ----------
    spec
        The JSON, parsed.
    max_length
        Tokens per text at most, ``[CLS]`` and ``[SEP]`` included.
    """

    def __init__(self, spec: dict[str, Any], max_length: int) -> None:
        if not supports(spec):
            raise ValueError("not a BERT WordPiece tokenizer this module reproduces")
        model = spec["model"]
        self.vocab: dict[str, int] = model["vocab"]
        self.unknown = self.vocab[model["unk_token"]]
        self.prefix: str = model["continuing_subword_prefix"]
        self.max_chars: int = model["max_input_chars_per_word"]
        self.cls, self.sep = _special_ids(spec)  # type: ignore[misc]
        self.added = {token["content"]: int(token["id"]) for token in spec["added_tokens"]}
        # leftmost, longest first, as the library's matcher
        by_length = sorted(self.added, key=len, reverse=True)
        self.split_added = re.compile("(" + "|".join(map(re.escape, by_length)) + ")")
        self.budget = max(max_length - 2, 0)
        self.clean, self.unmarked = _Table(_clean), _Table(_unmarked)
        self.lower, self.spaced = _Table(_lower), _Table(_spaced)

    def get_vocab_size(self) -> int:
        return len(self.vocab) + sum(1 for i in self.added.values() if i >= len(self.vocab))

    def token_to_id(self, token: str) -> int | None:
        return self.added.get(token, self.vocab.get(token))

    def _words(self, text: str) -> list[str]:
        text = text.translate(self.clean)
        if not text.isascii():
            text = unicodedata.normalize("NFD", text).translate(self.unmarked)
        return text.translate(self.lower).translate(self.spaced).split()

    def _pieces(self, word: str, out: list[int]) -> None:
        vocab = self.vocab
        if len(word) > self.max_chars:
            out.append(self.unknown)
            return
        whole = vocab.get(word)
        if whole is not None:
            out.append(whole)
            return
        pieces, start, n = [], 0, len(word)
        while start < n:
            end = n
            while end > start:
                piece = vocab.get(self.prefix + word[start:end] if start else word[start:end])
                if piece is not None:
                    break
                end -= 1
            else:
                out.append(self.unknown)
                return
            pieces.append(piece)
            start = end
        out.extend(pieces)

    def ids(self, text: str) -> list[int]:
        """``[CLS]``, the text's first pieces, ``[SEP]``: at most ``max_length`` ids."""
        ids: list[int] = []
        parts = self.split_added.split(text) if self.added else [text]
        for k, part in enumerate(parts):
            if k % 2:
                ids.append(self.added[part])
            elif part:
                for word in self._words(part):
                    self._pieces(word, ids)
                    if len(ids) >= self.budget:
                        break
            if len(ids) >= self.budget:
                break
        return [self.cls, *ids[: self.budget], self.sep]

    def ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.ids(text) for text in texts]


def load(tokenizer_json: str, max_length: int) -> WordPiece | None:
    """A :class:`WordPiece` for this JSON, or None when :func:`supports` says no."""
    spec = json.loads(tokenizer_json)
    return WordPiece(spec, max_length) if supports(spec) else None
