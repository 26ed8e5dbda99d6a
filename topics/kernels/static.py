"""Static sentence vectors in numpy: a text is the unit-length sum of its tokens' vectors.

:class:`topics.families.static.StaticVectors` distils one vector per token from a
sentence encoder (SIF weights folded in); a text's vector is then a tokenization
and a lookup, no transformer pass. Training and the predictor share
:func:`token_ids` and :func:`text_vectors`, so both give the same numbers.

>>> import numpy as np
>>> table = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
>>> rows = np.array([-1, 0, 1])  # token 0 has no vector
>>> text_vectors(np.array([0, 1, 1, 2]), np.array([2, 2]), rows, table).round(3)
array([[1.   , 0.   ],
       [0.447, 0.894]])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from topics.kernels.embedding_topics import unit_rows
from topics.kernels.transformer import load_tokenizer

# Token vectors gathered and summed at once by text_vectors: small blocks stay in
# cache (512: 2.5x faster than 8,192 at 384 dimensions on nyt-cap's test texts).
BLOCK = 1 << 9


def static_tokenizer(tokenizer_json: str) -> Any:
    """The tokenizer of static vectors: every token of a text, no length limit."""
    tokenizer = load_tokenizer(tokenizer_json, 1)
    tokenizer.no_truncation()
    return tokenizer


def token_rows(n_tokens: int, ids: np.ndarray) -> np.ndarray:
    """Token id -> its row of the kept vectors ``ids``, -1 for a token without one."""
    rows = np.full(n_tokens, -1, dtype=np.int64)
    rows[ids] = np.arange(len(ids))
    return rows


def token_ids(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every text's token ids (no special tokens, no length limit), concatenated,
    and each text's number of tokens."""
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
    ids = np.fromiter(
        itertools.chain.from_iterable(e.ids for e in encodings),
        dtype=np.int64,
        count=int(lengths.sum()),
    )
    return ids, lengths


def text_vectors(
    ids: np.ndarray, lengths: np.ndarray, rows: np.ndarray, table: np.ndarray
) -> np.ndarray:
    """``(n_texts, dims)``: the unit-length sum of ``table[rows[id]]`` over each text's
    tokens; ``rows[id]`` is -1 for a token without a vector (a text of only those
    stays zero). Summed in float32, a block of tokens at a time (a float16 table
    stays float16 in memory)."""
    docs = np.repeat(np.arange(len(lengths)), lengths)
    found = rows[ids]
    keep = found >= 0
    found, docs = found[keep], docs[keep]
    out = np.zeros((len(lengths), table.shape[1]), dtype=np.float32)
    starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]]) if len(docs) else docs
    bounds = np.r_[starts, len(docs)]
    blocks = np.searchsorted(starts, np.arange(0, len(docs), BLOCK))
    cuts = np.unique(np.r_[blocks, len(starts)])
    for first, last in zip(cuts[:-1], cuts[1:], strict=True):  # texts starts[first..last-1]
        lo, hi = bounds[first], bounds[last]
        out[docs[starts[first:last]]] = np.add.reduceat(
            table[found[lo:hi]].astype(np.float32, copy=False), starts[first:last] - lo, axis=0
        )
    return unit_rows(out)
