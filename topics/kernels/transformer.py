"""A BERT-style encoder's forward pass in numpy, for the predict path.

:class:`topics.families.encoder.EncoderClassifier` fine-tunes a transformer with torch;
the bundle keeps its weights as float32 arrays and its tokenizer as the JSON of
the ``tokenizers`` library. This module runs them with numpy alone (no torch,
no transformers), so ``classify`` stays light:

- tokenize with :class:`topics.kernels.wordpiece.WordPiece` (the standard library)
  when it reproduces the tokenizer, else with ``tokenizers`` (a small Rust extension,
  imported on first use): :func:`load_encoder_tokenizer`, as the training side does;
- embeddings, ``num_layers`` post-LayerNorm self-attention blocks with
  tanh-approximated GELU, mean pooling over the real tokens;
- an MPNet encoder (all-mpnet-base-v2) is the same pass plus a learned bias of the
  relative position in every attention block; its weights arrive in BERT's names
  (:func:`bert_names`).
- the linear head, then softmax (mapped to labels by ``groups``) or sigmoid.

Both sides share :func:`encode`, so the token ids are the same by construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from topics.kernels import wordpiece
from topics.kernels.linear import sigmoid

# torch runs the fine-tuning with this activation, so numpy reproduces it exactly
# (the exact-erf GELU would need scipy or a slow per-element math.erf here).
HIDDEN_ACT = "gelu_pytorch_tanh"


def load_tokenizer(tokenizer_json: str, max_length: int) -> Any:
    """A ``tokenizers.Tokenizer`` that truncates to ``max_length`` tokens and pads a batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


class _LibraryTokenizer:
    """:func:`load_tokenizer`'s tokenizer behind the methods of :class:`WordPiece`."""

    def __init__(self, tokenizer_json: str, max_length: int) -> None:
        self.tokenizer = load_tokenizer(tokenizer_json, max_length)

    def get_vocab_size(self) -> int:
        return int(self.tokenizer.get_vocab_size())

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]


def load_encoder_tokenizer(tokenizer_json: str, max_length: int) -> Any:
    """The encoder's tokenizer, truncating to ``max_length`` tokens: a :class:`WordPiece`
    where it gives the library's tokens (a faster start), else the library's own; both
    have ``ids_batch(texts)``, ``get_vocab_size()`` and ``token_to_id(token)``."""
    tokenizer = wordpiece.load(tokenizer_json, max_length)
    return tokenizer if tokenizer is not None else _LibraryTokenizer(tokenizer_json, max_length)


def _pad(rows: Sequence[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(map(len, rows), default=0)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


def encode(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, mask)``, both ``(n_texts, longest)`` int64, padded with id 0 / mask 0."""
    return _pad(tokenizer.ids_batch(texts))


def token_lengths(tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Tokens per text, as :func:`encode` cuts them."""
    return _lengths(tokenizer.ids_batch(texts))


def _lengths(rows: Sequence[list[int]]) -> np.ndarray:
    return np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))


def encode_by_length(
    tokenizer: Any, texts: Sequence[str], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(indices, ids, mask)`` batches of texts of similar length (less padding),
    longest first; every text is tokenized once."""
    rows = tokenizer.ids_batch(texts)
    order = np.argsort(-_lengths(rows), kind="stable")
    for k in range(0, len(order), batch_size):
        batch = order[k : k + batch_size]
        yield (batch, *_pad([rows[i] for i in batch]))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * gamma + beta


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    """``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``, in place on one temporary
    (the activations are the largest arrays of the pass)."""
    y = x * x
    y *= x
    y *= x.dtype.type(0.044715)
    y += x
    y *= x.dtype.type(math.sqrt(2.0 / math.pi))
    np.tanh(y, out=y)
    y += 1
    y *= x
    y *= x.dtype.type(0.5)
    return y


# int8 weights: the matrix ``name`` as int8 rows, ``name + SCALE`` each row's float32 scale
SCALE = "_scale"
WORDS = "embeddings.word_embeddings.weight"


def int8_names(weights: dict[str, Any]) -> list[str]:
    """The weights an int8 encoder keeps as int8 rows: the token embeddings and every
    layer's matrices (a layer's biases and norms, and the positions, stay float32)."""
    return [
        name
        for name, value in weights.items()
        if len(value.shape) == 2 and (name == WORDS or name.startswith("encoder.layer."))
    ]


def quantize_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(q, scale)``: int8 ``q`` and a float32 scale per row, with ``q * scale[:, None]``
    the nearest such value to each weight (a row's largest magnitude is 127 steps)."""
    weight = np.asarray(weight, dtype=np.float32)
    scale = np.abs(weight).max(axis=1) / np.float32(127)
    scale[scale == 0] = 1
    q = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def dequantize_rows(q: np.ndarray, scale: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The float32 weights of int8 rows ``q`` and their ``scale`` (in ``out`` if given)."""
    return np.multiply(q, scale[:, None], out=out, dtype=np.float32)


def to_int8(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``weights`` with each of :func:`int8_names` as int8 rows and its ``SCALE``."""
    out = dict(weights)
    for name in int8_names(weights):
        out[name], out[name + SCALE] = quantize_rows(weights[name])
    return out


# what MPNet's relative position bias has, as in transformers' MPNetEncoder
RELATIVE_MAX_DISTANCE = 128
RELATIVE_BIAS = "encoder.relative_attention_bias.weight"


def relative_buckets(length: int, num_buckets: int) -> np.ndarray:
    """``(length, length)`` bucket of each (query, key) offset, as MPNet computes it: half
    the buckets per direction, exact up to a quarter of them, then logarithmic up to
    :data:`RELATIVE_MAX_DISTANCE`."""
    positions = np.arange(length)
    n = positions[:, None] - positions[None, :]  # query minus key
    half = num_buckets // 2
    out = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    far = exact + (
        np.log(np.maximum(n, 1) / exact) / math.log(RELATIVE_MAX_DISTANCE / exact) * (half - exact)
    ).astype(np.int64)
    return out + np.where(n < exact, n, np.minimum(far, half - 1))


def bert_names(weights: dict[str, np.ndarray], padding_idx: int) -> dict[str, np.ndarray]:
    """MPNetModel's ``named_parameters()`` in BertModel's names: attention ``attn.q/k/v/o``
    as ``self.query/key/value`` and ``output.dense``; position rows from
    ``padding_idx + 1`` on (where MPNet's positions start), so row ``i`` is position
    ``i`` as in BERT; a zero token-type row; the relative bias kept as it is."""
    renames = {
        ".attention.attn.q.": ".attention.self.query.",
        ".attention.attn.k.": ".attention.self.key.",
        ".attention.attn.v.": ".attention.self.value.",
        ".attention.attn.o.": ".attention.output.dense.",
        ".attention.LayerNorm.": ".attention.output.LayerNorm.",
    }
    out = {}
    for name, value in weights.items():
        for old, new in renames.items():
            name = name.replace(old, new)
        out[name] = value
    positions = out["embeddings.position_embeddings.weight"]
    out["embeddings.position_embeddings.weight"] = positions[padding_idx + 1 :]
    out["embeddings.token_type_embeddings.weight"] = np.zeros_like(positions[:1])
    return out


class NumpyEncoder:
    """Mean-pooled sentence vectors from BertModel weights.

    Parameters
    ----------
    weights
        ``{parameter name: array}`` as in ``BertModel.named_parameters()``; with
        :data:`RELATIVE_BIAS` ``(buckets, heads)`` too, an MPNet encoder
        (:func:`bert_names`). A matrix may be int8 rows with its scale
        (:func:`to_int8`): the token embeddings stay int8, scaled as they are looked up.
    num_layers, num_heads, layer_norm_eps
        From the model's config.
    """

    def __init__(
        self, weights: dict[str, np.ndarray], num_layers: int, num_heads: int, layer_norm_eps: float
    ) -> None:
        # at most one float32 copy of each weight (none of a float32 bundle's: its
        # arrays are used as they are); int8 rows dequantized row by row, contiguously,
        # and read through ``.T``, which BLAS takes as it is
        self.w: dict[str, np.ndarray] = {}
        self.word_scale = weights.get(WORDS + SCALE)
        int8 = []
        for name, value in weights.items():
            scale = weights.get(name + SCALE)
            if name.endswith(SCALE) or name == WORDS and scale is not None:
                self.w[name] = value
            elif scale is not None:
                int8.append(name)
            else:
                self.w[name] = value.astype(np.float32, copy=False)
        # into one buffer: numpy asks the kernel for huge pages for a large one, so a cold
        # start faults in far fewer pages (Reuters' layers: 16-17 ms instead of 21-23)
        flat = np.empty(sum(weights[name].size for name in int8), dtype=np.float32)
        start = 0
        for name in int8:
            q = weights[name]
            out = flat[start : start + q.size].reshape(q.shape)
            self.w[name] = dequantize_rows(q, weights[name + SCALE], out=out)
            start += q.size
        self.num_layers, self.num_heads, self.eps = num_layers, num_heads, layer_norm_eps

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        out = x.reshape(-1, x.shape[-1]) @ self.w[name + ".weight"].T + self.w[name + ".bias"]
        return out.reshape(*x.shape[:-1], -1)

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``(n, hidden)`` float32: the mean of the last layer over unmasked tokens."""
        w, n, length = self.w, ids.shape[0], ids.shape[1]
        words = w[WORDS][ids]
        if self.word_scale is not None:
            words = words * self.word_scale[ids][..., None]
        h = (
            words
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        h = self._norm(h, "embeddings.LayerNorm")
        hidden = h.shape[-1]
        head_dim = hidden // self.num_heads
        blocked = np.where(mask[:, None, None, :] == 1, 0.0, -np.inf).astype(np.float32)
        if RELATIVE_BIAS in w:  # (heads, length, length), the same for every block
            table = w[RELATIVE_BIAS]
            blocked = blocked + table[relative_buckets(length, len(table))].transpose(2, 0, 1)
        scale = np.float32(1.0 / math.sqrt(head_dim))
        for layer in range(self.num_layers):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                self._linear(h, p + f"attention.self.{part}")
                .reshape(n, length, self.num_heads, head_dim)
                .transpose(0, 2, 1, 3)
                for part in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += blocked
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
            h = self._norm(
                self._linear(attended, p + "attention.output.dense") + h,
                p + "attention.output.LayerNorm",
            )
            inner = _gelu_tanh(self._linear(h, p + "intermediate.dense"))
            h = self._norm(self._linear(inner, p + "output.dense") + h, p + "output.LayerNorm")
        weights = mask[..., None].astype(np.float32)
        return (h * weights).sum(1) / np.maximum(weights.sum(1), 1.0)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)


def head_proba(
    pooled: np.ndarray, coef: np.ndarray, intercept: np.ndarray, groups: np.ndarray, softmax: bool
) -> np.ndarray:
    """Label probabilities from pooled vectors: softmax over the head's classes summed
    into labels through ``groups`` ``(n_classes, n_labels)``, or one sigmoid per label."""
    logits = pooled.astype(np.float64) @ coef.T + intercept
    if not softmax:
        return sigmoid(logits)
    logits -= logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba @ groups
