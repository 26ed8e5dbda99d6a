"""What a model family is: the small base every family module fills in.

A family is one room. Its module declares

- ``Settings``: its config section under ``model.<name>`` (a :class:`Section`);
- ``requires``: the families it builds on (fitted first, passed to ``fit``);
- ``fit``: builds its estimator from plain arguments and trains it, choosing its
  own targets from :class:`TrainingData`;
- ``export``: the typed state the bundle keeps, and the scorer ``kind`` that
  :mod:`topics.serve.scorers` scores it with (numpy only);
- ``check``: cross-field rules that need the data section (one line each).

:mod:`topics.families` registers every family in one place; the run, the
exporter, the predictor, the report and cross-validation loop over that
registry, so adding a family edits no orchestrator. Families know nothing of
the experiment config, tracking or files: the run side turns the config into a
:class:`FitContext` and the family's own ``Settings``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.pipeline import Pipeline

from topics.families.features import _texts_digest


class Strict(BaseModel):
    """A config mapping whose unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Section(Strict):
    """A family's config section: off unless enabled."""

    enabled: bool = False


class ArrayStore(Protocol):
    """A content-keyed store of JSON metadata and numpy arrays (never pickles),
    such as :class:`topics.run.cache.FitCache`."""

    def key(self, kind: str, *parts: Any) -> str: ...

    def load(self, kind: str, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None: ...

    def save(
        self,
        kind: str,
        key: str,
        meta: Mapping[str, Any],
        arrays: Mapping[str, np.ndarray] | None = None,
    ) -> bool: ...

    def discard(self, kind: str, key: str) -> None: ...


@dataclass(frozen=True)
class FitContext:
    """What every family may know of the experiment, as plain values.

    Attributes
    ----------
    labels
        Target labels, in output column order.
    single_label
        One label per document: class targets, argmax prediction.
    seed
        The experiment's seed.
    label_map
        Source class -> label (or None), when labels come from a finer coding.
    vectorizer
        ``features.tfidf`` as keyword arguments of :func:`topics.families.features.make_vectorizer`.
    cache
        Where fitted TF-IDF features are kept between runs (JSON and ``.npz``,
        keyed by the vectorizer's parameters and the texts), or None.
    sections
        Every family's settings by name (a family may read a required one's).
    label_descriptions
        Label -> a sentence or a few keywords describing it, or a list of them
        (``data.label_descriptions``).
    none_descriptions
        What texts with none of the labels are about (``data.none_descriptions``).
    """

    labels: list[str]
    single_label: bool = False
    seed: int = 0
    label_map: dict[str, str | None] | None = None
    vectorizer: dict[str, Any] = field(default_factory=dict)
    cache: ArrayStore | None = None
    sections: Mapping[str, Section] = field(default_factory=dict)
    label_descriptions: Mapping[str, str | list[str]] = field(default_factory=dict)
    none_descriptions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingData:
    """Training texts with their labels: ``y`` the 0/1 matrix ``(n, n_labels)``;
    ``sources`` the source class of each text when ``data.label_map`` coded them;
    ``unlabelled`` the texts of the train part left out of ``data.train_sample`` (an
    archive without labels, for a family that learns from it; empty without a sample)."""

    texts: list[str]
    y: np.ndarray
    sources: np.ndarray | None = None
    unlabelled: list[str] = field(default_factory=list)

    @classmethod
    def from_corpus(cls, corpus: Any, unlabelled: Sequence[str] = ()) -> TrainingData:
        """From a :class:`topics.data.corpus.Corpus` (and the unlabelled texts)."""
        sources = corpus.meta.get("source_label")
        return cls(
            list(corpus.texts),
            corpus.label_matrix(),
            None if sources is None else np.asarray(sources),
            list(unlabelled),
        )

    def targets(self, single_label: bool, fine_labels: bool = False) -> np.ndarray:
        """What a classifier learns: source classes (``fine_labels``), class indices
        (single-label data), or the 0/1 matrix."""
        if fine_labels:
            if self.sources is None:
                raise ValueError("fine_labels needs the source class of every text")
            return self.sources
        return self.y.argmax(axis=1) if single_label else self.y


@dataclass
class FittedModel:
    """A fitted pipeline, the family that made it and the feature blocks it reads
    (``"tfidf"``, ``"lda"``: in the order their columns are stacked)."""

    name: str
    pipeline: Pipeline
    features: list[str]
    fit_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # the last texts scored and their probabilities: the run scores the test split
    # with each model, and an ensemble reads its members' (the encoder runs once)
    _last: tuple[str, np.ndarray] | None = field(default=None, init=False, repr=False)

    @property
    def classifier(self) -> Any:
        """The final estimator."""
        return self.pipeline[-1]

    @property
    def vectorizer(self) -> Any:
        return self.pipeline.named_steps["tfidf"]

    @property
    def topics(self) -> Any:
        return self.pipeline.named_steps["lda"]

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.pipeline.predict(list(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The pipeline's probabilities for ``texts``, read-only; the same texts
        again (by content) are not scored again."""
        texts = list(texts)
        key = _texts_digest(texts)
        if self._last is None or self._last[0] != key:
            proba = np.asarray(self.pipeline.predict_proba(texts))
            proba.setflags(write=False)
            self._last = (key, proba)
        return self._last[1]


@dataclass(frozen=True)
class Exported:
    """A model's state in the bundle: its spec entry (``kind`` names the scorer) and
    its arrays (keys without the ``clf.<name>.`` prefix)."""

    spec: dict[str, Any]
    arrays: dict[str, np.ndarray]


def timed_fit(
    name: str, pipeline: Pipeline, features: list[str], texts: Sequence[str], targets: Any
) -> FittedModel:
    """Fit ``pipeline`` on ``texts`` and wrap it, timing the fit."""
    start = time.perf_counter()
    pipeline.fit(list(texts), targets)
    return FittedModel(name, pipeline, features, fit_seconds=round(time.perf_counter() - start, 3))


def linear_state(classifier: Any) -> Exported:
    """The bundle state of a :class:`topics.families.linear.MultiLabelLinear`."""
    return Exported(
        {"kind": "linear"},
        {
            # C-ordered: the scorer reads each label's weights as one contiguous row
            # (SparseRows.dot), with no second copy of the largest array.
            "coef": np.ascontiguousarray(classifier.coef_),
            "intercept": classifier.intercept_,
            "thresholds": classifier.thresholds_,
            "platt_a": classifier.platt_a_,
            "platt_b": classifier.platt_b_,
        },
    )


class Family:
    """Base of the family objects :mod:`topics.families` registers."""

    name: ClassVar[str]
    Settings: ClassVar[type[Section]]
    requires: ClassVar[tuple[str, ...]] = ()
    # False for a family that trains without labelled documents (a zero-shot run,
    # ``data.train_sample`` drawing none, may enable it); the preflight refuses the others.
    needs_labels: ClassVar[bool] = True
    # True for a family whose training runs torch (the encoder extra); the preflight
    # refuses it on a core install before any data is read.
    trains_with_torch: ClassVar[bool] = False

    def fit(
        self,
        settings: Any,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        raise NotImplementedError

    def export(self, model: FittedModel) -> Exported:
        raise NotImplementedError

    def feature_state(self, model: FittedModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The feature block this family owns in the bundle (``spec["features"][name]``
        and its arrays, keys prefixed ``<name>.``), or empty when it owns none."""
        return {}, {}

    def check(self, settings: Any, labels: list[str], label_map: dict | None) -> str | None:
        """A cross-field problem with the data section, as one line, or None."""
        return None

    def describe(self, settings: Any, context: FitContext) -> str:
        """A few words for the run's description, e.g. ``lda K=8 passes=10``."""
        return self.name
