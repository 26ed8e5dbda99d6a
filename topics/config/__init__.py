"""The experiment configuration: one typed, validated object built from YAML.

An experiment file names its base groups under ``defaults`` and overrides only
what differs::

    defaults:
      data: sample          # configs/data/sample.yaml
      features: tfidf       # configs/features/tfidf.yaml
      model: default        # configs/models/default.yaml
      tracking: local       # configs/tracking/local.yaml
    name: quickstart
    model:
      lda:
        num_topics: 8

``--set model.lda.num_topics=12`` on the command line overrides any key. Unknown
keys and bad values raise :class:`~topics.errors.ConfigError` with the full key
path, before any work starts.

The sections live in :mod:`topics.config.sections`, the safe YAML reading in
:mod:`topics.config.reading`; callers import every name from here.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)

from topics.config.reading import clip, echo, load_yaml, read_yaml
from topics.config.sections import (
    DATA_ROOT_ENV,
    DEFAULT_DATA_ROOT,
    DaskConfig,
    DataConfig,
    ExperimentSweepConfig,
    FeaturesConfig,
    ModelConfig,
    RandomParam,
    SplitConfig,
    Strict,
    TrackingConfig,
)
from topics.errors import ConfigError
from topics.families import FAMILIES

__all__ = [
    "config_hash",
    "DATA_ROOT_ENV",
    "DataConfig",
    "deep_merge",
    "DEFAULT_DATA_ROOT",
    "ExperimentConfig",
    "ExperimentSweepConfig",
    "flatten",
    "GROUPS",
    "known_keys",
    "load_config",
    "load_data_config",
    "parse_override",
    "RandomParam",
    "SplitConfig",
    "suggest_key",
    "to_yaml",
    "validate_config",
]


# Group name in ``defaults`` -> (config section, folder under configs/).
GROUPS: dict[str, tuple[str, str]] = {
    "data": ("data", "data"),
    "features": ("features", "features"),
    "model": ("model", "models"),
    "tracking": ("tracking", "tracking"),
}
# How many errors of one config a message lists.
MAX_ERRORS_SHOWN = 5


class ExperimentConfig(Strict):
    """Everything one ``topics run`` needs."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    seed: int = 0
    data: DataConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)  # type: ignore[arg-type]
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    output_dir: str = "artifacts"
    # Loaded corpora and fitted TF-IDF features are cached here, keyed by content
    # (safe to delete; null turns caching off). See topics/cache.py.
    cache_dir: str | None = ".cache/topics"
    sweep: ExperimentSweepConfig | None = None
    dask: DaskConfig = Field(default_factory=DaskConfig)

    @model_validator(mode="after")
    def _cross_checks(self) -> ExperimentConfig:
        enabled = {name for name in FAMILIES if getattr(self.model, name).enabled}
        standalone = [f"model.{name}" for name, family in FAMILIES.items() if not family.requires]
        if not enabled & {name.removeprefix("model.") for name in standalone}:
            raise ValueError(
                f"model: enable at least one of {', '.join(standalone[:-1])} or {standalone[-1]}"
            )
        for name in FAMILIES:
            missing = [r for r in FAMILIES[name].requires if r not in enabled]
            if name in enabled and missing:
                needed = " and ".join(f"model.{r}" for r in FAMILIES[name].requires)
                both = "both " if len(FAMILIES[name].requires) == 2 else ""
                raise ValueError(f"model.{name}: needs {both}{needed} enabled")
        primary = self.model.primary
        if primary and primary not in FAMILIES:
            raise ValueError(
                f"model.primary: {primary!r} is not a model; expected one of {list(FAMILIES)}"
            )
        if primary and primary not in enabled:
            raise ValueError(f"model.primary: {primary} is not enabled (model.{primary}.enabled)")
        for name in FAMILIES:
            problem = FAMILIES[name].check(
                getattr(self.model, name), self.data.labels, self.data.label_map
            )
            if problem:
                raise ValueError(problem)
        return self

    def split_seed(self) -> int:
        return self.seed if self.data.split.seed is None else self.data.split.seed

    def sample_seed(self) -> int:
        """The seed of ``data.train_sample`` (the experiment's unless it names one)."""
        sample = self.data.train_sample
        return self.seed if sample is None or sample.seed is None else sample.seed


def load_config(
    path: str | Path, overrides: list[str] | None = None, config_dir: str | Path | None = None
) -> ExperimentConfig:
    """Read an experiment file, merge its base groups and ``overrides``, validate.

    Parameters
    ----------
    path
        The experiment YAML file.
    overrides
        ``"dotted.key=value"`` strings; values are parsed as YAML (``12``, ``true``, ``[1, 2]``).
    config_dir
        Folder holding the groups (``data/``, ``features/``, ``models/``, ``tracking/``).
        Default: ``configs/`` beside the experiment's folder, else ``./configs``.
    """
    path = Path(path)
    raw = read_yaml(path)
    groups = raw.pop("defaults", {}) or {}
    if not isinstance(groups, dict):
        raise ConfigError(f"{path}: 'defaults' must map a group to a file name, got {echo(groups)}")
    merged: dict[str, Any] = {}
    groups_dir = Path(config_dir) if config_dir else _find_config_dir(path)
    for group, choice in groups.items():
        if isinstance(choice, bool):
            # YAML 1.1 reads an unquoted `off`/`on` (and no/yes) as a boolean; the
            # group file is configs/tracking/off.yaml, so take the word back.
            choice = "on" if choice else "off"
        if group not in GROUPS:
            raise ConfigError(
                f"{path}: defaults.{group}: unknown group; expected one of {sorted(GROUPS)}"
            )
        section, folder = GROUPS[group]
        group_file = groups_dir / folder / f"{choice}.yaml"
        if not group_file.is_file():
            raise ConfigError(
                f"{path}: defaults.{group}: no file {group_file}; "
                f"available: {_available(groups_dir / folder)}"
            )
        merged = deep_merge(merged, {section: read_yaml(group_file)})
    merged = deep_merge(merged, raw)
    for item in overrides or []:
        merged = deep_merge(merged, parse_override(item))
    return validate_config(merged, source=str(path))


def load_data_config(path: str | Path, name: str = "evaluation") -> ExperimentConfig:
    """An experiment file as :func:`load_config` reads it, or a data group file
    (``configs/data/NAME.yaml``: the ``data:`` section alone) as an experiment ``name``
    of that data with every other key at its default. A file with ``defaults`` or
    ``data`` at its top level is an experiment.
    """
    path = Path(path)
    raw = read_yaml(path)
    if "defaults" in raw or "data" in raw:
        return load_config(path)
    return validate_config({"name": name, "data": raw}, source=str(path))


def validate_config(data: dict[str, Any], source: str = "config") -> ExperimentConfig:
    """Build an :class:`ExperimentConfig`, turning pydantic's report into one line."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from exc


def parse_override(item: str) -> dict[str, Any]:
    """``"model.lda.num_topics=12"`` -> ``{"model": {"lda": {"num_topics": 12}}}``."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {echo(item)}: expected KEY=VALUE, e.g. model.lda.num_topics=12")
    try:
        parsed = load_yaml(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"--set {echo(item)}: value is not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
    nested: Any = parsed
    for part in reversed(key.strip().split(".")):
        nested = {part: nested}
    return nested


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``override`` wins; nested mappings merge key by key."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def config_hash(config: ExperimentConfig) -> str:
    """sha256 of the resolved config, leaving out machine-specific places
    (data root, tracking URI) so the same experiment hashes the same everywhere."""
    data = config.model_dump(mode="json")
    data["data"].pop("root", None)
    data["tracking"].pop("uri", None)
    data.pop("dask", None)  # where trials ran does not change them
    for key, default in _NEW_DATA_DEFAULTS.items():  # configs without them hash as before
        if data["data"].get(key) == default:
            data["data"].pop(key, None)
    data["model"]["tfidf"].pop("n_jobs", None)  # nor how many cores fitted the labels
    if data["model"].get("lda", {}).get("topic_names") is None:
        data["model"]["lda"].pop("topic_names", None)  # configs without names hash as before
    if data.get("sweep") is None:
        data.pop("sweep", None)  # plain runs hash as before sweeps existed
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_NEW_DATA_DEFAULTS: dict[str, Any] = {
    "test_path": None,
    "validation_path": None,
    "columns": None,
    "encoding_errors": "strict",
    "date_field": None,
    "period": "year",
    "train_sample": None,
    "extra_train": [],
    "label_descriptions": None,
    "none_descriptions": None,
    "extra_test": {},
}


def to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become their JSON text."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(list(value))
        else:
            flat[name] = value
    return flat


def _find_config_dir(experiment: Path) -> Path:
    for candidate in (experiment.resolve().parent.parent / "configs", Path("configs")):
        if candidate.is_dir():
            return candidate
    return Path("configs")


def _available(folder: Path) -> str:
    names = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
    return ", ".join(names) or "none"


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
        if error["type"] == "extra_forbidden":
            guess = suggest_key(loc)
            hint = f"did you mean `{guess}`?" if guess else "check the spelling;"
            parts.append(f"{loc}: unknown key ({hint} see configs/ for valid keys)")
            continue
        # Validators put values in their messages; both are cut, so a huge value
        # cannot make a huge message.
        message = clip(error["msg"].removeprefix("Value error, "))
        got = error.get("input")
        shown = "" if isinstance(got, dict) or error["type"] == "missing" else f", got {echo(got)}"
        parts.append(f"{loc}: {message}{shown}" if loc else f"{message}")
    if len(parts) > MAX_ERRORS_SHOWN:  # one line, however many values were wrong
        parts = [*parts[:MAX_ERRORS_SHOWN], f"and {len(parts) - MAX_ERRORS_SHOWN} more errors"]
    return "; ".join(parts)


def known_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """Every config key as a full dotted path (``model.tfidf.C``), sections included."""
    keys: list[str] = []
    for name, field in (model or ExperimentConfig).model_fields.items():
        path = f"{prefix}{name}"
        keys.append(path)
        section = _section_model(field.annotation)
        if section is not None:
            keys += known_keys(section, f"{path}.")
    return keys


def suggest_key(key: str) -> str | None:
    """The known key closest to a misspelled or misplaced ``key``, if one is close.

    >>> suggest_key("model.tfidf.c"), suggest_key("model.C")
    ('model.tfidf.C', 'model.tfidf.C')
    """
    keys = _known_keys()
    parent, _, leaf = key.rpartition(".")
    # 1. a typo in the last part, among the keys of the same section
    siblings = {k.rpartition(".")[2]: k for k in keys if k.rpartition(".")[0] == parent}
    near = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.6)
    if near:
        return siblings[near[0]]
    # 2. the right key in the wrong section (`model.C` for `model.tfidf.C`)
    same_leaf = [k for k in keys if k.rpartition(".")[2].lower() == leaf.lower() and k != key]
    if same_leaf:
        return same_leaf[0]  # the first in config order (model.tfidf before other models)
    # 3. anything close elsewhere (not the section the key is in, nor its own keys)
    others = [k for k in keys if not key.startswith(k + ".") and k.rpartition(".")[0] != parent]
    close = difflib.get_close_matches(key, others, n=1, cutoff=0.75)
    return close[0] if close else None


@functools.cache
def _known_keys() -> tuple[str, ...]:
    return tuple(known_keys())


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The model class of a nested section (``X`` or ``X | None``), else None."""
    candidates = (
        get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    )
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
