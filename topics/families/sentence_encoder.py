"""The sentence encoder the embedding families share: a BERT or MPNet encoder (the
packaged all-MiniLM-L6-v2 by default; all-mpnet-base-v2 is an MPNet) read from its
folder, run by torch at training time (:class:`TorchBertEmbedder`: mean-pooled
sentence vectors, single-token vectors for the static table, per-token means) and by
numpy in the bundle (:class:`NumpyBertEmbedder`, over :mod:`topics.kernels.transformer`).
The ``embedding_topics``, ``static`` and ``few_shot`` families embed through it.

>>> embedder = TorchBertEmbedder(MINILM, max_length=128)         # doctest: +SKIP
>>> embedder.embed(["Rail freight from China grows"]).shape       # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from topics.errors import ConfigError, DependencyError
from topics.families.encoder import INSTALL_HINT, resolve_pretrained
from topics.kernels.transformer import (
    RELATIVE_BIAS,
    NumpyEncoder,
    bert_names,
    encode_by_length,
    load_encoder_tokenizer,
    relative_buckets,
)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Texts -> sentence vectors, and the BERT state the bundle keeps to redo it in numpy."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def export(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...


class NumpyBertEmbedder:
    """Mean-pooled vectors of a BERT encoder given as float32 arrays (no torch).

    Parameters
    ----------
    weights
        ``{parameter name: array}`` as ``BertModel.named_parameters()`` names them.
    tokenizer_json
        The ``tokenizers`` JSON of its tokenizer.
    max_length, num_layers, num_heads, layer_norm_eps
        Tokens kept per text; the model's config.
    """

    def __init__(
        self,
        weights: Mapping[str, np.ndarray],
        tokenizer_json: str,
        max_length: int,
        num_layers: int,
        num_heads: int,
        layer_norm_eps: float = 1e-12,
        batch_size: int = 64,
    ) -> None:
        self.weights = {name: np.asarray(v, dtype=np.float32) for name, v in weights.items()}
        self.spec = {
            "tokenizer": tokenizer_json,
            "max_length": int(max_length),
            "num_layers": int(num_layers),
            "num_heads": int(num_heads),
            "layer_norm_eps": float(layer_norm_eps),
        }
        self.batch_size = batch_size
        self.encoder = NumpyEncoder(self.weights, num_layers, num_heads, layer_norm_eps)
        self.tokenizer = load_encoder_tokenizer(tokenizer_json, max_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        hidden = self.weights["embeddings.word_embeddings.weight"].shape[1]
        out = np.zeros((len(texts), hidden), dtype=np.float32)
        for rows, ids, mask in encode_by_length(self.tokenizer, list(texts), self.batch_size):
            out[rows] = self.encoder(ids, mask)
        return out

    def export(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return dict(self.spec), dict(self.weights)


class TorchBertEmbedder:
    """A pretrained BERT or MPNet encoder (a folder, a hub id, or the packaged MiniLM) run by torch
    at training time; exports its weights for :class:`NumpyBertEmbedder`'s numpy pass.

    It reads the folder's ``config.json``, weights and ``tokenizer.json`` itself and runs
    the pass :class:`NumpyEncoder` runs (tanh GELU, mean pooling), batch by batch of
    similar length: importing transformers and building its model would add seconds to
    every fit, and a sampled topic fit is mostly this pass.
    """

    def __init__(
        self,
        pretrained: str,
        max_length: int,
        batch_size: int = 16,
        threads: int | None = None,
        owner: str = "EmbeddingTopics",
    ) -> None:
        torch = self.torch = _import_torch_alone(owner)
        self.pretrained = pretrained
        folder = model_folder(pretrained, owner)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        kind = config.get("model_type")
        if kind not in ("bert", "mpnet"):
            raise ConfigError(
                f"The 'pretrained' parameter of {owner}: {pretrained!r} is a {kind!r} model; "
                f"give a BERT or MPNet encoder such as {MINILM!r}"
            )
        self.num_layers = int(config["num_hidden_layers"])
        self.num_heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        weights = {name: t.float() for name, t in _encoder_weights(torch, folder).items()}
        positions = int(config["max_position_embeddings"])
        if kind == "mpnet":  # in BERT's names; its positions start after the padding id's
            padding = int(config.get("pad_token_id", 1))
            mapped = bert_names({name: t.numpy() for name, t in weights.items()}, padding)
            weights = {name: torch.as_tensor(array) for name, array in mapped.items()}
            positions -= padding + 1
        self.weights = weights
        self.max_length = min(int(max_length), positions)
        self.tokenizer_json = (folder / "tokenizer.json").read_text(encoding="utf-8")
        self.tokenizer = load_encoder_tokenizer(self.tokenizer_json, self.max_length)
        self.batch_size = batch_size  # 16: faster on 2 cores than 64 at 128 tokens
        torch.set_num_threads(threads or os.cpu_count() or 1)

    def digest(self) -> str:
        """sha256 of the weights: what a cache of this encoder's outputs is keyed on
        (a folder's name stays the same when its model is trained again)."""
        if not hasattr(self, "_digest"):
            sha = hashlib.sha256()
            for name in sorted(self.weights):
                sha.update(name.encode("utf-8"))
                sha.update(self.weights[name].numpy().tobytes())
            self._digest = sha.hexdigest()
        return self._digest

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        torch = self.torch
        hidden = self.weights["embeddings.word_embeddings.weight"].shape[1]
        out = np.zeros((len(texts), hidden), dtype=np.float32)
        with torch.inference_mode():
            for rows, ids, mask in encode_by_length(self.tokenizer, list(texts), self.batch_size):
                out[rows] = self._pooled(torch.as_tensor(ids), torch.as_tensor(mask)).numpy()
        return out

    def token_vectors(self, ids: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """``(len(ids), hidden)``: each token alone, ``[CLS] token [SEP]``, through the
        encoder and mean-pooled (how model2vec distils static vectors)."""
        torch = self.torch
        cls, sep = self._ends()
        hidden = self.weights["embeddings.word_embeddings.weight"].shape[1]
        out = np.zeros((len(ids), hidden), dtype=np.float32)
        with torch.inference_mode():
            for first in range(0, len(ids), batch_size):
                chunk = torch.as_tensor(np.asarray(ids[first : first + batch_size])).unsqueeze(1)
                batch = torch.cat(
                    [torch.full_like(chunk, cls), chunk, torch.full_like(chunk, sep)], dim=1
                )
                out[first : first + len(chunk)] = self._pooled(
                    batch, torch.ones_like(batch)
                ).numpy()
        return out

    def token_means(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each vocabulary token's mean output vector over its occurrences in ``texts``
        (each cut at ``max_length`` tokens), ``(vocabulary, hidden)``, and its number of
        occurrences; the start and end tokens ([CLS] and [SEP]) are left out."""
        torch = self.torch
        size = self.tokenizer.get_vocab_size()
        hidden = self.weights["embeddings.word_embeddings.weight"].shape[1]
        sums, counts = torch.zeros((size, hidden), dtype=torch.float64), np.zeros(size)
        special = list(self._ends())
        with torch.inference_mode():
            for _, ids, mask in encode_by_length(self.tokenizer, list(texts), self.batch_size):
                states = self._hidden(torch.as_tensor(ids), torch.as_tensor(mask))
                keep = (mask > 0) & ~np.isin(ids, special)
                sums.index_add_(
                    0, torch.as_tensor(ids[keep]), states[torch.as_tensor(keep)].double()
                )
                counts += np.bincount(ids[keep], minlength=size)
        return sums.numpy() / np.maximum(counts, 1)[:, None], counts

    def _ends(self) -> tuple[int, int]:
        """The ids of the tokens that open and close a text: BERT's [CLS] and [SEP],
        MPNet's <s> and </s>."""
        for start, end in (("[CLS]", "[SEP]"), ("<s>", "</s>")):
            ids = self.tokenizer.token_to_id(start), self.tokenizer.token_to_id(end)
            if None not in ids:
                return ids
        raise ConfigError("token vectors need a tokenizer with [CLS] and [SEP] (or <s> and </s>)")

    def _pooled(self, ids: Any, mask: Any) -> Any:
        """:meth:`NumpyEncoder.__call__` in torch."""
        h = self._hidden(ids, mask)
        weights = mask.unsqueeze(-1).to(h.dtype)
        return (h * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def _hidden(self, ids: Any, mask: Any) -> Any:
        """The last layer's output at every position, ``(n, length, hidden)``."""
        functional, w = self.torch.nn.functional, self.weights
        n, length = ids.shape
        h = (
            functional.embedding(ids, w["embeddings.word_embeddings.weight"])
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        h = self._norm(h, "embeddings.LayerNorm")
        keep = mask[:, None, None, :].bool()
        if RELATIVE_BIAS in w:  # MPNet: a bias per head and offset, (n, heads, length, length)
            table = w[RELATIVE_BIAS]
            bias = table[self.torch.as_tensor(relative_buckets(length, len(table)))]
            keep = self.torch.where(keep, bias.permute(2, 0, 1), float("-inf"))
        for layer in range(self.num_layers):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                self._linear(h, p + f"attention.self.{part}")
                .view(n, length, self.num_heads, -1)
                .transpose(1, 2)
                for part in ("query", "key", "value")
            )
            attended = functional.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            attended = attended.transpose(1, 2).reshape(n, length, -1)
            h = self._norm(
                self._linear(attended, p + "attention.output.dense") + h,
                p + "attention.output.LayerNorm",
            )
            inner = functional.gelu(self._linear(h, p + "intermediate.dense"), approximate="tanh")
            h = self._norm(self._linear(inner, p + "output.dense") + h, p + "output.LayerNorm")
        return h

    def _linear(self, x: Any, name: str) -> Any:
        return self.torch.nn.functional.linear(
            x, self.weights[name + ".weight"], self.weights[name + ".bias"]
        )

    def _norm(self, x: Any, name: str) -> Any:
        return self.torch.nn.functional.layer_norm(
            x, x.shape[-1:], self.weights[name + ".weight"], self.weights[name + ".bias"], self.eps
        )

    def export(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        spec = {
            "tokenizer": self.tokenizer_json,
            "max_length": self.max_length,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "layer_norm_eps": self.eps,
        }
        return spec, {name: tensor.numpy() for name, tensor in self.weights.items()}


# what a hub download of a BERT encoder fetches
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin")


def model_folder(pretrained: str, owner: str) -> Path:
    """The local folder of ``pretrained`` (see :func:`resolve_pretrained`); a hub id that
    is not packaged is fetched from the hub. One line when neither works."""
    source = resolve_pretrained(pretrained)
    if Path(source).is_dir():
        folder = Path(source)
    else:
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(source, allow_patterns=list(MODEL_FILES)))
        except Exception as exc:  # offline, unknown id, malformed id: all one message
            raise ConfigError(
                f"The 'pretrained' parameter of {owner}: cannot load {pretrained!r} "
                f"({type(exc).__name__}). Give a local model folder, or a hub id on a "
                "machine that reaches the hub"
            ) from None
    missing = [name for name in ("config.json", "tokenizer.json") if not (folder / name).is_file()]
    if missing:
        raise ConfigError(
            f"The 'pretrained' parameter of {owner}: {folder} has no {' or '.join(missing)}; "
            "save the model and its fast tokenizer there with transformers' save_pretrained"
        )
    return folder


def _encoder_weights(torch: Any, folder: Path) -> dict[str, Any]:
    """``{name: tensor}`` of the encoder as ``BertModel.named_parameters()`` (or
    ``MPNetModel``'s) names them: a task model's ``bert.`` or ``mpnet.`` prefix dropped,
    its heads, the pooler and buffers left out."""
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        raw = load_file(str(folder / "model.safetensors"))
    elif (folder / "pytorch_model.bin").is_file():
        raw = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise ConfigError(f"{folder} holds no model.safetensors or pytorch_model.bin")
    weights = {}
    for name, tensor in raw.items():
        name = name.removeprefix("bert.").removeprefix("mpnet.")
        if name.startswith(("embeddings.", "encoder.")) and not name.endswith("position_ids"):
            weights[name] = tensor
    if "embeddings.word_embeddings.weight" not in weights:
        raise ConfigError(f"{folder}'s weights are not a BERT or MPNet encoder's")
    return weights


def _import_torch_alone(owner: str) -> Any:
    try:
        import torch
    except ImportError:
        raise DependencyError(f"{owner} needs torch to train: {INSTALL_HINT}") from None
    return torch
