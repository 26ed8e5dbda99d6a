"""The encoder family's fine-tuning cache: an entry per fine-tuning, keyed by every
setting, the torch and transformers versions, the pretrained files and the data, so a
rerun or a sweep reads the weights back instead of fine-tuning again (an hour on
2 cores for some experiments).

Under the same key, a checkpoint after every epoch but the last, and within an epoch
every ten minutes (``encoder-checkpoint``: the weights, the output layer,
AdamW's moments, the schedule's step, both random streams and the batches done) lets
a fine-tuning that was stopped go on from where it was saved, to the same weights it
would have reached without the stop; it is removed once the model is saved.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics.families.encoder.pretrained import resolve_pretrained
from topics.families.features import _texts_digest

if TYPE_CHECKING:
    from topics.families.encoder.classifier import EncoderClassifier

logger = logging.getLogger(__name__)

CHECKPOINT = "encoder-checkpoint"  # the cache kind of the checkpoints


@dataclass(frozen=True)
class Position:
    """Where a fine-tuning is: ``epochs`` whole epochs done, then ``batches`` batches of
    the next, whose ``losses`` they were."""

    epochs: int = 0
    batches: int = 0
    losses: tuple[float, ...] = ()

    def where(self, epochs: int) -> str:
        """The position in words, of ``epochs`` in all."""
        if self.batches:
            return f"in epoch {self.epochs + 1}/{epochs} after batch {self.batches}"
        return f"after epoch {self.epochs}/{epochs}"


def cache_key(
    model: EncoderClassifier, torch: Any, transformers: Any, texts: list[str], targets: Any
) -> str:
    """The cache key of fine-tuning ``model`` on ``texts`` and ``targets`` (every setting,
    the library versions, the pretrained files, the data); "" when caching is off."""
    if model.cache is None:
        return ""
    params = {
        k: v for k, v in model.get_params().items() if k not in ("cache", "threads", "weight_bits")
    }
    if params["train_dtype"] == "float32":  # the keys of models cached before it was a setting
        del params["train_dtype"]
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
    """The fine-tuned ``model``'s weights, head, thresholds and held-out scores under
    ``key``; its checkpoint, no longer needed, removed."""
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
    model.cache.discard(CHECKPOINT, key)


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
    state = _encoder_state(torch, arrays)
    coef = arrays.get("coef")
    try:
        # checked before loading: a failed load_state_dict would leave some loaded
        _check_encoder_state(encoder, state)
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


def save_checkpoint(
    model: EncoderClassifier,
    key: str,
    position: Position,
    torch: Any,
    head: Any,
    optimizer: Any,
    schedule: Any,
    rng_state: Mapping[str, Any],
) -> bool:
    """What fine-tuning needs to go on from ``position``; ``rng_state`` is the batch
    order's random state before the epoch under way at ``position`` drew its batches
    (the same batches are drawn again, those done skipped). False when it could not be
    written (a full disk: logged, and training goes on)."""
    assert model.cache is not None
    arrays = {f"bert.{name}": value for name, value in model.weights().items()}
    # views, not copies: written before training takes another step
    arrays["head.weight"] = head.weight.detach().numpy()
    arrays["head.bias"] = head.bias.detach().numpy()
    for index, moments in optimizer.state_dict()["state"].items():
        for name, value in moments.items():
            arrays[f"adam.{index}.{name}"] = value.detach().numpy()
    arrays["torch_rng"] = torch.get_rng_state().numpy()
    meta: dict[str, Any] = {
        "epoch": position.epochs,
        "history": [{k: _or_none(v) for k, v in r.items()} for r in model.history_],
        "steps": schedule.last_epoch,  # the schedule's steps taken
        "rng": rng_state,
    }
    if position.batches:
        meta["batches"], meta["losses"] = position.batches, list(position.losses)
    return model.cache.save(CHECKPOINT, key, meta, arrays)


def resume(
    model: EncoderClassifier,
    key: str,
    torch: Any,
    encoder: Any,
    head: Any,
    optimizer: Any,
    schedule: Any,
    rng: np.random.Generator,
    batches_per_epoch: int,
) -> Position:
    """Where a stopped fine-tuning of ``key`` was saved, its state put in place of the
    fresh one; ``Position()`` (nothing changed) when there is no checkpoint that fits."""
    assert model.cache is not None
    entry = model.cache.load(CHECKPOINT, key)
    if entry is None:
        return Position()
    meta, arrays = entry
    state = _encoder_state(torch, arrays)
    parameters = [*encoder.parameters(), *head.parameters()]
    try:
        # everything checked before anything is loaded: a half-loaded model would train on
        epoch, batches = meta["epoch"], meta.get("batches", 0)
        losses = tuple(float(loss) for loss in meta.get("losses", []))
        if not (
            isinstance(epoch, int)
            and isinstance(batches, int)
            and 0 <= batches == len(losses)
            and (epoch > 0 or batches)
            and epoch < model.epochs
        ):
            raise ValueError(f"a checkpoint after {epoch!r} of {model.epochs} epochs")
        _check_encoder_state(encoder, state)
        head_state = {name: torch.as_tensor(arrays[f"head.{name}"]) for name in ("weight", "bias")}
        moments = {
            index: {
                name: torch.as_tensor(arrays[f"adam.{index}.{name}"])
                for name in ("step", "exp_avg", "exp_avg_sq")
            }
            for index in range(len(parameters))
        }
        if any(
            moments[i][name].shape != p.shape or moments[i][name].dtype != p.dtype
            for i, p in enumerate(parameters)
            for name in ("exp_avg", "exp_avg_sq")
        ) or any(head_state[n].shape != p.shape for n, p in head.named_parameters()):
            raise ValueError("output layer or AdamW moments of another shape")
        if any(m["step"].shape != () for m in moments.values()):
            raise ValueError("AdamW steps that are not one number")
        torch_rng = torch.as_tensor(arrays["torch_rng"])
        if torch_rng.dtype != torch.uint8 or torch_rng.shape != torch.get_rng_state().shape:
            raise ValueError("not a torch random state")
        np.random.default_rng().bit_generator.state = meta["rng"]  # refused if malformed
        steps = meta["steps"]  # replayed below, so checked against the position first
        if not isinstance(steps, int) or steps != epoch * batches_per_epoch + batches:
            raise ValueError(f"{steps!r} steps of the schedule at {epoch}, {batches}")
        history = [{k: _or_nan(v) for k, v in r.items()} for r in meta["history"]]
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        logger.warning("ignoring a fine-tuning checkpoint that does not check out (%s)", exc)
        return Position()
    encoder.load_state_dict(state, strict=False)  # buffers stay as loaded
    head.load_state_dict(head_state)
    groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": moments, "param_groups": groups})
    with warnings.catch_warnings():  # "step() before optimizer.step()": not so, above
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):  # the rates the schedule had reached, by the same arithmetic
            schedule.step()
    torch.set_rng_state(torch_rng)
    rng.bit_generator.state = meta["rng"]
    model.history_ = history
    return Position(epoch, batches, losses)


def _encoder_state(torch: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k[5:]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith("bert.")}


def _check_encoder_state(encoder: Any, state: dict[str, Any]) -> None:
    if any(
        name not in state or state[name].shape != value.shape
        for name, value in encoder.named_parameters()
    ):
        raise ValueError("weights missing or of another shape")


def _or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
