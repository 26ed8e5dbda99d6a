"""The encoder family's fine-tuning cache: an entry per fine-tuning, keyed by every
setting, the torch and transformers versions, the pretrained files and the data, so a
rerun or a sweep reads the weights back instead of fine-tuning again (an hour on
2 cores for some experiments)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics.families.encoder.pretrained import resolve_pretrained
from topics.families.features import _texts_digest

if TYPE_CHECKING:
    from topics.families.encoder.classifier import EncoderClassifier

logger = logging.getLogger(__name__)


def cache_key(
    model: EncoderClassifier, torch: Any, transformers: Any, texts: list[str], targets: Any
) -> str:
    """The cache key of fine-tuning ``model`` on ``texts`` and ``targets`` (every setting,
    the library versions, the pretrained files, the data); "" when caching is off."""
    if model.cache is None:
        return ""
    params = {k: v for k, v in model.get_params().items() if k not in ("cache", "threads")}
    targets = np.ascontiguousarray(targets)
    target_digest = hashlib.sha256(
        f"{targets.dtype}{targets.shape}".encode() + targets.tobytes()
    ).hexdigest()
    versions = [torch.__version__, transformers.__version__]
    folder = Path(resolve_pretrained(model.pretrained))
    # the pretrained weights, by the files of their folder (a hub id: its name)
    files = sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size)
        for p in (folder.rglob("*") if folder.is_dir() else [])
        if p.is_file()
    )
    return model.cache.key("encoder", params, versions, files, _texts_digest(texts), target_digest)


def save(model: EncoderClassifier, key: str) -> None:
    """The fine-tuned ``model``'s weights, head, thresholds and held-out scores under ``key``."""
    assert model.cache is not None
    arrays = {
        "coef": model.coef_,
        "intercept": model.intercept_,
        "thresholds": model.thresholds_,
        **{f"bert.{name}": value for name, value in model.weights().items()},
    }
    if hasattr(model, "validation_indices_"):
        arrays["validation_indices"] = model.validation_indices_
        arrays["validation_proba"] = model.validation_proba_
    meta = {  # NaN (no held-out share) as null: the cache writes strict JSON
        "validation_score": _or_none(model.validation_score_),
        "history": [{k: _or_none(v) for k, v in r.items()} for r in model.history_],
    }
    model.cache.save("encoder", key, meta, arrays)


def restore(
    model: EncoderClassifier, torch: Any, encoder: Any, groups: np.ndarray, key: str
) -> bool:
    """The fine-tuned weights, head, thresholds and held-out scores of the cache's
    entry ``key`` in place of fine-tuning; False when there is none that fits."""
    assert model.cache is not None
    entry = model.cache.load("encoder", key)
    if entry is None:
        return False
    meta, arrays = entry
    state = {k[5:]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith("bert.")}
    coef = arrays.get("coef")
    parameters = dict(encoder.named_parameters())
    try:
        # checked before loading: a failed load_state_dict would leave some loaded
        if any(
            name not in state or state[name].shape != value.shape
            for name, value in parameters.items()
        ):
            raise ValueError("weights missing or of another shape")
        if coef is None or coef.shape != (groups.shape[0], encoder.config.hidden_size):
            raise ValueError("no head, or one of another shape")
        encoder.load_state_dict(state, strict=False)  # buffers stay as loaded
        model.coef_, model.intercept_ = coef, arrays["intercept"]
        model.thresholds_ = arrays["thresholds"]
        model.validation_score_ = _or_nan(meta["validation_score"])
        model.history_ = [{k: _or_nan(v) for k, v in r.items()} for r in meta["history"]]
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        logger.warning("ignoring a cached encoder that does not check out (%s)", exc)
        return False
    if "validation_indices" in arrays:
        model.validation_indices_ = arrays["validation_indices"]
        model.validation_proba_ = arrays["validation_proba"]
    model.encoder_, model.groups_ = encoder.eval(), groups
    return True


def _or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
