"""The ``lda`` family: an LDA topic model, and a classifier on its topic proportions.

:class:`~topics.families.lda.model.LdaTopics` turns raw texts into topic
proportions; a one-vs-rest logistic regression
(:class:`~topics.families.linear.MultiLabelLinear`) assigns labels from them.
The fitted topic model is this family's feature block in the bundle (the
``hybrid`` family reuses it); topics come out of ``classify`` with every label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from sklearn.pipeline import Pipeline

from topics.families.base import (
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    Strict,
    TrainingData,
    linear_state,
    timed_fit,
)
from topics.families.lda.model import LdaTopics
from topics.families.lda.naming import override_problem
from topics.families.linear import MultiLabelLinear
from topics.kernels.lda import DEFAULT_MAX_ITER, DEFAULT_TOL


class LabellerSettings(Strict):
    """LDA as a labeller: seeded topics named after labels tag documents without training labels."""

    enabled: bool = False
    threshold: float = Field(0.2, gt=0, lt=1)  # topic weight at which a seeded label is given
    tune: bool = True  # also report per-label thresholds tuned on the training labels
    eval_path: str | None = None  # extra gold-labelled JSONL (relative to the data root)


class KSweepSettings(Strict):
    """Choosing K: one nested run per K, coherence and held-out perplexity against K."""

    num_topics: list[int] = Field(default_factory=list)
    select_by: Literal["c_v", "c_npmi", "perplexity"] = "c_npmi"

    @model_validator(mode="after")
    def _ks_valid(self) -> KSweepSettings:
        if any(k < 2 for k in self.num_topics):
            raise ValueError(f"num_topics: every K must be >= 2, got {self.num_topics}")
        return self


class LdaSettings(Section):
    """The LDA topic model and the classifier on its doc-topic vectors."""

    enabled: bool = True
    engine: Literal["gensim", "tomotopy"] = "tomotopy"
    num_topics: int = Field(10, ge=2)
    passes: int = Field(10, ge=1)  # gensim: passes over the corpus
    iterations: int = Field(100, ge=1)  # gensim: E-step iterations; tomotopy: Gibbs sweeps
    alpha: Literal["symmetric", "asymmetric", "auto"] | float = "symmetric"
    eta: Literal["symmetric", "auto"] | float | None = None
    term_weight: Literal["one", "idf", "pmi"] = "one"  # tomotopy
    optim_interval: int = Field(10, ge=0)  # tomotopy: alpha optimisation every N sweeps
    workers: int = Field(1, ge=1)  # tomotopy threads; 1 = deterministic for a seed
    seeds: dict[str, list[str]] = Field(default_factory=dict)  # seeded topics, in order
    seed_strength: float = Field(1.0, gt=0)
    phrases: bool = False  # merge two-word phrases found by gensim Phrases ("new_york")
    phrase_min_count: int = Field(5, ge=1)
    phrase_threshold: float = Field(10.0, gt=0)
    top_n: int = Field(10, ge=1)
    # Names for the topics: a list of num_topics names, or {topic index: name} for
    # some; the rest are named automatically (seed, aligned label, distinctive terms).
    topic_names: list[str] | dict[int, str] | None = None
    min_token_length: int = Field(3, ge=1)
    no_below: int = Field(2, ge=1)
    no_above: float = Field(0.5, gt=0, le=1)
    C: float = Field(1.0, gt=0)
    cv_folds: int = Field(5, ge=2)
    stability_runs: int = Field(0, ge=0)  # >= 2: train that many seeds, report lda_stability
    labeller: LabellerSettings = Field(default_factory=LabellerSettings)
    sweep: KSweepSettings = Field(default_factory=KSweepSettings)

    @model_validator(mode="after")
    def _lda_checks(self) -> LdaSettings:
        if len(self.seeds) > self.num_topics:
            raise ValueError(
                f"seeds: {len(self.seeds)} seeded topics but num_topics={self.num_topics}; "
                f"raise num_topics to at least {len(self.seeds)}"
            )
        if self.engine == "tomotopy" and isinstance(self.alpha, str) and self.alpha != "symmetric":
            raise ValueError(
                f"alpha: engine tomotopy takes a number or 'symmetric', got {self.alpha!r} "
                "(it optimises alpha every optim_interval sweeps)"
            )
        if self.eta == "auto" and (self.engine == "tomotopy" or self.seeds):
            raise ValueError("eta: 'auto' needs engine gensim and no seeds; use a number")
        too_small = [k for k in self.sweep.num_topics if k < len(self.seeds)]
        if too_small:
            raise ValueError(
                f"sweep.num_topics: {too_small} leave no room for the {len(self.seeds)} "
                "seeded topics; every K must be at least the number of seeds"
            )
        if self.stability_runs == 1:
            raise ValueError("stability_runs: 0 (off) or at least 2, got 1")
        problem = override_problem(self.topic_names, self.num_topics)
        if problem:
            raise ValueError(problem)
        return self


def make_lda(
    settings: LdaSettings,
    stop_words: str | list[str] | None,
    random_state: int,
    label_names: Sequence[str] | None = None,
) -> LdaTopics:
    """The topic model a ``model.lda`` section describes; with ``label_names`` (the
    columns of the targets it is fitted with) a topic may take a label's name."""
    return LdaTopics(
        num_topics=settings.num_topics,
        engine=settings.engine,
        passes=settings.passes,
        iterations=settings.iterations,
        alpha=settings.alpha,
        eta=settings.eta,
        seeds=dict(settings.seeds),
        seed_strength=settings.seed_strength,
        term_weight=settings.term_weight,
        optim_interval=settings.optim_interval,
        workers=settings.workers,
        phrases=settings.phrases,
        phrase_min_count=settings.phrase_min_count,
        phrase_threshold=settings.phrase_threshold,
        min_token_length=settings.min_token_length,
        stop_words=stop_words,
        no_below=settings.no_below,
        no_above=settings.no_above,
        top_n=settings.top_n,
        topic_names=settings.topic_names,
        label_names=None if label_names is None else list(label_names),
        random_state=random_state,
    )


class Lda(Family):
    name = "lda"
    Settings = LdaSettings

    def fit(
        self,
        settings: LdaSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        stop_words = context.vectorizer.get("stop_words", "english")
        pipeline = Pipeline(
            [
                ("lda", make_lda(settings, stop_words, context.seed, context.labels)),
                (
                    "classifier",
                    MultiLabelLinear(
                        classifier="logreg",
                        C=settings.C,
                        class_weight="balanced",
                        cv_folds=settings.cv_folds,
                        random_state=context.seed,
                        label_names=context.labels,
                    ),
                ),
            ]
        )
        return timed_fit(
            self.name, pipeline, ["lda"], data.texts, data.targets(context.single_label)
        )

    def export(self, model: FittedModel) -> Exported:
        return linear_state(model.classifier)

    def feature_state(self, model: FittedModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        lda = model.topics
        spec = {
            "tokenizer": lda.tokenizer_.to_dict(),
            "vocabulary": lda.vocabulary_,
            "top_words": lda.top_words_,
            "topic_names": lda.topic_names_,
            "max_iter": DEFAULT_MAX_ITER,
            "tol": DEFAULT_TOL,
        }
        arrays = {
            "exp_elog_beta": lda.exp_elog_beta_,
            "alpha": lda.alpha_,
            "topic_word": lda.topic_word_,
        }
        return spec, arrays

    def check(self, settings: LdaSettings, labels: list[str], label_map: dict | None) -> str | None:
        if not settings.labeller.enabled:
            return None
        if not settings.seeds:
            return "model.lda.labeller: needs model.lda.seeds (one list per label)"
        unknown = [name for name in settings.seeds if name not in labels]
        if unknown:
            return (
                f"model.lda.seeds: labeller topics {unknown} are not in data.labels "
                f"{labels}; name each seeded topic after a label"
            )
        return None

    def describe(self, settings: LdaSettings, context: FitContext) -> str:
        return f"lda K={settings.num_topics} passes={settings.passes}"
