"""The sections of an experiment config: data (with its split and training
sample), features, model (one section per registered family), tracking, sweep
and Dask. :class:`topics.config.ExperimentConfig` puts them together."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from topics.config.reading import echo
from topics.errors import ConfigError
from topics.families import FAMILIES
from topics.text import MAX_NGRAM

# Relative data paths resolve against data.root, else $TOPICS_DATA_DIR, else the
# current directory: nothing outside the user's own choice is assumed.
DEFAULT_DATA_ROOT = "."
DATA_ROOT_ENV = "TOPICS_DATA_DIR"
BUILTIN_PREFIX = "builtin:"
# The corpora shipped in topics/sample_data/: the only names ``builtin:`` accepts,
# so a ``builtin:`` path can never reach outside the package.
BUILTIN_CORPORA = ("central_asia_news",)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SplitConfig(Strict):
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


class TrainSampleConfig(Strict):
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


class DataConfig(Strict):
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
                raise ConfigError(f"data.path: no shipped corpus {echo(name)}")
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


class TfidfConfig(Strict):
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


class FeaturesConfig(Strict):
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
    # With passages, one passage in passage_support must carry a label: a text of n
    # passages scores each label by its ceil(n / passage_support)-th best passage, so
    # one side sentence of a long article does not give it. 0: the best passage.
    sections["passage_support"] = (int, Field(0, ge=0, le=10_000))
    # A label is given only where its score reaches this share of the text's best
    # label's score: a long article keeps its main topics, not every topic one of
    # its passages touches. 0: each label at its own threshold, nothing more.
    sections["relative_cut"] = (float, Field(0.0, ge=0, le=1))
    return create_model("ModelConfig", __base__=Strict, **sections)


if TYPE_CHECKING:  # the sections are the registry's; typed as what each family declares

    class ModelConfig(Strict):
        primary: str | None
        bundle: Literal["all", "primary"]
        passages: int
        passage_support: int
        relative_cut: float

        def __getattr__(self, name: str) -> Any: ...

else:
    ModelConfig = _model_config()


class TrackingConfig(Strict):
    """MLflow tracking: ``uri`` None means ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``."""

    enabled: bool = True
    uri: str | None = None
    experiment_name: str | None = None
    log_model: bool = True


class RandomParam(Strict):
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


class ExperimentSweepConfig(Strict):
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


class DaskConfig(Strict):
    """Where ``topics sweep`` runs its trials: a scheduler address, or None for local."""

    address: str | None = None
