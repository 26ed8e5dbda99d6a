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
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
import os
import reprlib
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from topics.errors import ConfigError
from topics.families import FAMILIES
from topics.text import MAX_NGRAM

# Group name in ``defaults`` -> (config section, folder under configs/).
GROUPS: dict[str, tuple[str, str]] = {
    "data": ("data", "data"),
    "features": ("features", "features"),
    "model": ("model", "models"),
    "tracking": ("tracking", "tracking"),
}
# Relative data paths resolve against data.root, else $TOPICS_DATA_DIR, else the
# current directory: nothing outside the user's own choice is assumed.
DEFAULT_DATA_ROOT = "."
DATA_ROOT_ENV = "TOPICS_DATA_DIR"
BUILTIN_PREFIX = "builtin:"
# The corpora shipped in topics/sample_data/: the only names ``builtin:`` accepts,
# so a ``builtin:`` path can never reach outside the package.
BUILTIN_CORPORA = ("central_asia_news",)
# Values a YAML file may add through aliases (each ``*name`` counting as the values
# it repeats): far above any real use (the shipped configs use no alias), far below
# what an alias bomb expands to (10^9 values from 500 bytes).
MAX_ALIAS_VALUES = 10_000
# How much of a bad value an error message shows, and how many errors.
MAX_ECHO_CHARS = 200
MAX_ERRORS_SHOWN = 5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SplitConfig(_Strict):
    """How documents are divided into train and test.

    - ``random``: seeded, stratified on every label (``test_size``, ``seed``);
    - ``predefined``: the split the data ships with (Reuters ModApte, 20NG bydate),
      or a column of a CSV/JSONL naming ``train``/``test`` (``field``);
    - ``temporal``: documents whose ``field`` (e.g. ``year``) is ``<= train_until``
      train, the later ones test;
    - ``kfold``: ``folds``-fold stratified cross-validation for small data: the
      ``cv_*`` metrics pool the out-of-fold predictions of every document; the
      saved model and the ``test_*`` metrics are those of the first fold.
    """

    kind: Literal["random", "predefined", "temporal", "kfold"] = "random"
    test_size: float = Field(0.25, gt=0.0, lt=1.0)
    seed: int | None = None  # None: the experiment's seed
    field: str | None = None  # predefined: default "split"; temporal: default "year"
    train_until: int | None = None
    folds: int = Field(5, ge=2)

    @model_validator(mode="after")
    def _temporal_needs_boundary(self) -> SplitConfig:
        if self.kind == "temporal" and self.train_until is None:
            raise ValueError("kind 'temporal' needs train_until (documents with year <= it train)")
        return self


class TrainSampleConfig(_Strict):
    """The few-shot protocol, drawn from the train part of the split (never test):
    ``per_label`` documents for each label, label by label in ``data.labels`` order
    without replacement (a document drawn for one label keeps all its labels), plus
    ``none`` documents that carry no label. The rest of train is the run's unlabelled
    archive. ``per_label: 0`` with ``none: 0`` is zero-shot (no training labels).
    """

    per_label: int = Field(ge=0)
    # None: as many as per_label (0 for single-label data, where every document has a label)
    none: int | None = Field(None, ge=0)
    seed: int | None = None  # None: the experiment's seed


class DataConfig(_Strict):
    """Where the articles are and how to read them."""

    name: str = Field("dataset", min_length=1)
    root: str | None = None
    path: str = Field(min_length=1)
    # Train and test shipped as two files: ``path`` trains, ``test_path`` tests (the
    # split is then ``predefined`` from the files); ``validation_path`` gives the
    # sweep's val_* metrics their documents. Relative paths resolve as ``path`` does.
    test_path: str | None = Field(None, min_length=1)
    validation_path: str | None = Field(None, min_length=1)
    format: Literal["jsonl", "csv", "folder", "reuters21578", "20newsgroups"] | None = None
    # A CSV/TSV without a header row: its column names, in order.
    columns: list[str] | None = Field(None, min_length=1)
    encoding: str = "utf-8"
    # "replace": bytes that do not decode become U+FFFD, counted in one warning.
    encoding_errors: Literal["strict", "replace"] = "strict"
    id_field: str | None = "id"
    text_fields: list[str] = Field(default_factory=lambda: ["title", "text"], min_length=1)
    label_field: str = "labels"
    label_sep: str | None = None
    # Source value -> target label (null: none of the labels). Values it does not
    # list carry no label either. ``{"16": defense, "1": economy, "15": economy}``.
    label_map: dict[str, str | None] | None = None
    labels: list[str] = Field(min_length=1)
    # Label -> a sentence or a few keywords saying what it means, or a list of them
    # (e.g. a codebook's subtopics; a text's nearest one counts): what the few_shot
    # model learns from when no (or few) labelled texts exist.
    label_descriptions: dict[str, str | list[str]] | None = None
    # What the texts with none of the labels are about (e.g. the codebook's other
    # topics): a text gets no few_shot hint of a label, from its description or its
    # seed words, unless the description is nearer than these by
    # model.few_shot.none_margin.
    none_descriptions: list[str] | None = None
    # More labelled sets the primary model is scored on after training: name -> a
    # JSONL file (id, title, text, labels; relative paths resolve as ``path``). A run
    # reports <name>_micro_f1, <name>_macro_f1, <name>_labels_found and <name>_false_labels.
    extra_test: dict[str, str] = Field(default_factory=dict)
    # One label per document (20 Newsgroups): trained as multiclass, argmax
    # prediction, ``test_accuracy`` reported.
    single_label: bool = False
    # Drop documents that carry none of ``labels`` (the usual Reuters ModApte setup).
    drop_unlabeled: bool = False
    # 20newsgroups: strip "headers", "footers" (signatures), "quotes" as sklearn does.
    remove: list[Literal["headers", "footers", "quotes"]] = Field(default_factory=list)
    split: SplitConfig = Field(default_factory=SplitConfig)
    # A record field holding each document's date: an ISO date, a year-month or a
    # year. A run then writes topic and label prevalence per ``period``; documents
    # without a usable date are counted and left out of those files only.
    date_field: str | None = Field(None, min_length=1)
    period: Literal["year", "quarter", "month"] = "year"
    # A few-shot sample of the train part: {per_label: 16, none: 16, seed: 3}.
    train_sample: TrainSampleConfig | None = None
    # Labelled rounds (JSONL with id, text, labels; see topics/data/rounds.py) added to
    # the train part after the split and the sample; a later file wins for an id.
    # Relative paths resolve as ``path`` does.
    extra_train: list[str] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _builtin_is_shipped(cls, value: str) -> str:
        if value.startswith(BUILTIN_PREFIX) and value[len(BUILTIN_PREFIX) :] not in BUILTIN_CORPORA:
            shipped = ", ".join(BUILTIN_PREFIX + name for name in BUILTIN_CORPORA)
            raise ValueError(
                f"builtin: names a corpus shipped with topics ({shipped}); "
                "for your own data give its path"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _files_split_is_predefined(cls, data: Any) -> Any:
        # test_path is the split: predefined, unless the user asked for another kind
        if isinstance(data, dict) and data.get("test_path"):
            split = data.get("split") or {}
            if isinstance(split, dict) and "kind" not in split:
                return {**data, "split": {**split, "kind": "predefined"}}
        return data

    @field_validator("none_descriptions", mode="before")
    @classmethod
    def _one_line_is_a_list(cls, value: Any) -> Any:
        # `none_descriptions: sports and culture` means one line, as a label's
        # description may be one sentence
        return [value] if isinstance(value, str) else value

    @field_validator("label_map", mode="before")
    @classmethod
    def _map_keys_as_text(cls, value: Any) -> Any:
        # YAML reads `16: defense` with an int key; CSV cells are text.
        if isinstance(value, dict):
            return {str(key): item for key, item in value.items()}
        return value

    @model_validator(mode="after")
    def _labels_unique(self) -> DataConfig:
        stripped = [label.strip() for label in self.labels]
        if any(not label for label in stripped):
            raise ValueError("labels must be non-empty strings")
        duplicates = sorted({label for label in stripped if stripped.count(label) > 1})
        if duplicates:
            raise ValueError(f"labels must be unique, found duplicates {duplicates}")
        if self.test_path and self.split.kind != "predefined":
            raise ValueError(
                f"test_path gives the test split; split.kind must be predefined (or left "
                f"out), got {self.split.kind!r}"
            )
        if self.validation_path and not self.test_path:
            raise ValueError("validation_path needs test_path (train, validation and test files)")
        if self.columns is not None and len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns must be unique, got {self.columns}")
        for key in ("train_sample", "extra_train"):
            if getattr(self, key) and self.split.kind == "kfold":
                raise ValueError(
                    f"{key} changes one train part; split.kind kfold refits on every "
                    f"fold: use split.kind random (or predefined, temporal) with {key}"
                )
        targets = {t for t in (self.label_map or {}).values() if t is not None}
        unknown = sorted(targets - set(stripped))
        if unknown:
            raise ValueError(f"label_map maps to {unknown}, which are not in labels {stripped}")
        described = sorted(set(self.label_descriptions or {}) - set(stripped))
        if described:
            raise ValueError(
                f"label_descriptions: {described} are not among labels {stripped}; "
                "describe the labels by their names"
            )
        return self

    def resolved_root(self) -> Path:
        """The data root: ``root`` if set, else ``$TOPICS_DATA_DIR``, else the current directory."""
        return Path(self.root or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)

    def resolved_path(self, path: str | None = None) -> Path:
        """The data file or folder (``path``, or another of the same root such as
        ``test_path``); ``builtin:NAME`` names a corpus shipped in the package."""
        path = self.path if path is None else path
        if path.startswith(BUILTIN_PREFIX):
            from importlib.resources import files

            name = path[len(BUILTIN_PREFIX) :]
            if name not in BUILTIN_CORPORA:  # checked on validation; never trust a path here
                raise ConfigError(f"data.path: no shipped corpus {_echo(name)}")
            return Path(str(files("topics") / "sample_data" / f"{name}.jsonl"))
        resolved = Path(path).expanduser()
        return resolved if resolved.is_absolute() else self.resolved_root() / resolved

    def file_parts(self) -> dict[str, DataConfig]:
        """Train and test (and validation) as separate files: one data config per
        part (``train``, ``test``, ``validation``), each reading its file with no
        split of its own. Empty when the data is one file."""
        if not self.test_path:
            return {}
        paths = {"train": self.path, "test": self.test_path, "validation": self.validation_path}
        return {
            part: self.model_copy(
                update={
                    "path": path,
                    "test_path": None,
                    "validation_path": None,
                    "split": SplitConfig(),
                }
            )
            for part, path in paths.items()
            if path
        }


class TfidfConfig(_Strict):
    """TF-IDF vectorizer settings (sklearn ``TfidfVectorizer``)."""

    # "word": word n-grams; "char_wb": character n-grams inside word boundaries
    # (stop_words does not apply), e.g. ngram_range [2, 5]; "word+char_wb": both
    # in one vocabulary, word n-grams from ngram_range, characters from char_ngram_range.
    analyzer: Literal["word", "char_wb", "word+char_wb"] = "word"
    ngram_range: tuple[int, int] = (1, 2)
    char_ngram_range: tuple[int, int] = (2, 5)
    min_df: int | float = Field(1, ge=0)
    max_df: int | float = Field(1.0, gt=0)
    max_features: int | None = Field(None, ge=1)
    sublinear_tf: bool = True
    lowercase: bool = True
    stop_words: Literal["english"] | list[str] | None = "english"

    @model_validator(mode="after")
    def _ngrams_ordered(self) -> TfidfConfig:
        for name in ("ngram_range", "char_ngram_range"):
            low, high = getattr(self, name)
            if not 1 <= low <= high <= MAX_NGRAM:
                raise ValueError(
                    f"{name} must satisfy 1 <= min <= max <= {MAX_NGRAM}, got {[low, high]}"
                )
        return self


class FeaturesConfig(_Strict):
    tfidf: TfidfConfig = Field(default_factory=TfidfConfig)


def _model_config() -> type[BaseModel]:
    """``model:``: one section per registered family, and ``primary``."""
    sections: dict[str, Any] = {
        name: (family.Settings, Field(default_factory=family.Settings))
        for name, family in FAMILIES.items()
    }
    # The model whose labels classify reports and whose test metrics get the plain
    # keys; null: the one with the best train-only score (*_train_cv_score).
    sections["primary"] = (str | None, None)
    # What the bundle keeps: every fitted model (classify --model picks one), or the
    # primary alone with what it reads (the feature blocks, an ensemble's members):
    # smaller and faster to load.
    sections["bundle"] = (Literal["all", "primary"], "all")
    # Texts of 2 x passages words or more are scored passage by passage (windows of
    # whole sentences of >= passages words), a label scoring its best passage's
    # score: for long articles and a model trained on short texts. 0: texts whole.
    sections["passages"] = (int, Field(0, ge=0, le=10_000))
    # A label is given only where its score reaches this share of the text's best
    # label's score: a long article keeps its main topics, not every topic one of
    # its passages touches. 0: each label at its own threshold, nothing more.
    sections["relative_cut"] = (float, Field(0.0, ge=0, le=1))
    return create_model("ModelConfig", __base__=_Strict, **sections)


if TYPE_CHECKING:  # the sections are the registry's; typed as what each family declares

    class ModelConfig(_Strict):
        primary: str | None
        bundle: Literal["all", "primary"]
        passages: int
        relative_cut: float

        def __getattr__(self, name: str) -> Any: ...

else:
    ModelConfig = _model_config()


class TrackingConfig(_Strict):
    """MLflow tracking: ``uri`` None means ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``."""

    enabled: bool = True
    uri: str | None = None
    experiment_name: str | None = None
    log_model: bool = True


class RandomParam(_Strict):
    """One randomly sampled sweep value: exactly one of the distributions."""

    choice: list[Any] | None = Field(None, min_length=1)
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    randint: tuple[int, int] | None = None  # both ends included

    @model_validator(mode="after")
    def _one_distribution(self) -> RandomParam:
        given = [k for k in ("choice", "uniform", "loguniform", "randint") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of choice, uniform, loguniform, randint "
                f"(e.g. {{loguniform: [0.1, 10]}}), found {given or 'none'}"
            )
        low_high = self.uniform or self.loguniform or self.randint
        if low_high and not low_high[0] <= low_high[1]:
            raise ValueError(f"expected [low, high] with low <= high, got {list(low_high)}")
        if self.loguniform and self.loguniform[0] <= 0:
            raise ValueError(f"loguniform needs low > 0, got {list(self.loguniform)}")
        return self


class ExperimentSweepConfig(_Strict):
    """Trials over any config keys (``topics sweep``): a grid, random samples, or both
    (every grid point is combined with ``trials`` random samples)."""

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    random: dict[str, RandomParam] = Field(default_factory=dict)
    trials: int | None = Field(None, ge=1)  # random samples; required with ``random``
    seed: int = 0
    # The metric that picks the best trial. ``val_*`` metrics are measured on a
    # validation part of the training split, so the test split never chooses.
    metric: str = "val_micro_f1"
    goal: Literal["maximize", "minimize"] = "maximize"
    validation_size: float | None = Field(0.25, gt=0.0, lt=1.0)  # None: no validation fit
    n_jobs: int = Field(2, ge=1)  # parallel trials without a Dask cluster (joblib)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSweepConfig:
        if not (self.grid or self.random):
            raise ValueError("declare the values to try under grid: or random:")
        if self.random and self.trials is None:
            raise ValueError("random: needs trials: N (how many samples to draw)")
        if self.trials is not None and not self.random:
            raise ValueError("trials: applies to random: parameters; declare some or drop it")
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{key}: give at least one value")
        both = sorted(set(self.grid) & set(self.random))
        if both:
            raise ValueError(f"keys {both} are in both grid and random; keep one")
        if self.metric.startswith("val_") and self.validation_size is None:
            raise ValueError(f"metric {self.metric} needs validation_size (e.g. 0.25)")
        return self


class DaskConfig(_Strict):
    """Where ``topics sweep`` runs its trials: a scheduler address, or None for local."""

    address: str | None = None


class ExperimentConfig(_Strict):
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


# ---------------------------------------------------------------------------
# Loading


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
    raw = _read_yaml(path)
    groups = raw.pop("defaults", {}) or {}
    if not isinstance(groups, dict):
        raise ConfigError(
            f"{path}: 'defaults' must map a group to a file name, got {_echo(groups)}"
        )
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
        merged = deep_merge(merged, {section: _read_yaml(group_file)})
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
    raw = _read_yaml(path)
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
        raise ConfigError(f"--set {_echo(item)}: expected KEY=VALUE, e.g. model.lda.num_topics=12")
    try:
        parsed = _load_yaml(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"--set {_echo(item)}: value is not valid YAML ({getattr(exc, 'problem', exc)})"
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


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        near = difflib.get_close_matches(
            path.name, sorted(p.name for p in path.parent.glob("*.y*ml")), n=1
        )
        hint = f"; did you mean {path.with_name(near[0])}?" if near else ""
        raise ConfigError(f"config file not found: {path}{hint}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents whose aliases add more than :data:`MAX_ALIAS_VALUES`.

    An alias is cheap to parse but names a whole subtree; nested aliases multiply
    (a 526-byte "billion laughs" file is 10^9 values to everything that walks the
    result: validation, error messages, hashing). Each composed node is weighed
    by the values it stands for, aliases included, before anything is built; a
    node outweighing every value written so far by more than the budget is refused.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._weights: dict[int, int] = {}
        self._written = 0  # nodes composed from the text, aliases not counted

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.check_event(yaml.AliasEvent)
        node: Any = super().compose_node(parent, index)
        if alias:  # the node it names, weighed when it was composed
            if id(node) not in self._weights:
                raise yaml.composer.ComposerError(
                    None, None, "an alias (*name) inside the value it names", node.start_mark
                )
            return node
        if isinstance(node, yaml.SequenceNode):
            weight = 1 + sum(self._weight(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            weight = 1 + sum(self._weight(k) + self._weight(v) for k, v in node.value)
        else:
            weight = 1
        self._written += 1
        if weight > self._written + MAX_ALIAS_VALUES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases (*name) repeat more than {MAX_ALIAS_VALUES:,} values; "
                "write the values out or use fewer aliases",
                node.start_mark,
            )
        self._weights[id(node)] = weight
        return node

    def _weight(self, node: Any) -> int:
        return self._weights[id(node)]


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with the alias budget of :class:`_BoundedLoader`."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = MAX_ECHO_CHARS
_SHORT_REPR.maxother = MAX_ECHO_CHARS
_SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = _SHORT_REPR.maxdict = _SHORT_REPR.maxset = 10


def _echo(value: Any) -> str:
    """``repr(value)`` of at most about :data:`MAX_ECHO_CHARS` characters, whatever its size."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "...(cut)"


def _clip(message: str, limit: int = 2 * MAX_ECHO_CHARS) -> str:
    return message if len(message) <= limit else message[:limit] + "...(cut)"


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
        message = _clip(error["msg"].removeprefix("Value error, "))
        got = error.get("input")
        shown = "" if isinstance(got, dict) or error["type"] == "missing" else f", got {_echo(got)}"
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
