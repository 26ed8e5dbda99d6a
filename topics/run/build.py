"""The one builder: the experiment config becomes plain arguments for the families.

Families never see :class:`~topics.config.ExperimentConfig`; they get their own
settings section and a :class:`~topics.families.base.FitContext`, made here.
"""

from __future__ import annotations

from collections.abc import Mapping

from topics import progress
from topics.config import ExperimentConfig
from topics.families import FAMILIES
from topics.families.base import FitContext, FittedModel, TrainingData
from topics.run.cache import fit_cache


def fit_context(config: ExperimentConfig, labels: list[str]) -> FitContext:
    """Everything a family may know of the experiment, as plain values."""
    return FitContext(
        labels=list(labels),
        single_label=config.data.single_label,
        seed=config.seed,
        label_map=config.data.label_map,
        vectorizer=config.features.tfidf.model_dump(),
        cache=fit_cache(config.cache_dir),
        sections={name: getattr(config.model, name) for name in FAMILIES},
        label_descriptions=dict(config.data.label_descriptions or {}),
        none_descriptions=list(config.data.none_descriptions or []),
    )


def enabled_families(config: ExperimentConfig) -> list[str]:
    """The enabled families, in registry order (a family after those it requires)."""
    return [name for name in FAMILIES if getattr(config.model, name).enabled]


def fit_family(
    config: ExperimentConfig,
    name: str,
    data: TrainingData,
    labels: list[str],
    fitted: Mapping[str, FittedModel] | None = None,
) -> FittedModel:
    """Fit one family on ``data``; ``fitted`` holds the families it requires."""
    family = FAMILIES[name]
    context = fit_context(config, labels)
    return family.fit(getattr(config.model, name), context, data, fitted or {})


def fit_families(
    config: ExperimentConfig, data: TrainingData, labels: list[str]
) -> dict[str, FittedModel]:
    """Fit every enabled family, in registry order."""
    fitted: dict[str, FittedModel] = {}
    for name in enabled_families(config):
        progress.stage(f"fit {name}")
        fitted[name] = fit_family(config, name, data, labels, fitted)
    return fitted


def describe_run(config: ExperimentConfig) -> str:
    """One line saying what a run tried, e.g. for the MLflow run description.

    >>> describe_run(config)  # doctest: +SKIP
    'quickstart on sample: tfidf linear_svc C=1 ngrams 1-2; lda K=8 passes=10'
    """
    context = fit_context(config, list(config.data.labels))
    parts = [
        FAMILIES[name].describe(getattr(config.model, name), context)
        for name in enabled_families(config)
    ]
    summary = f"{config.name} on {config.data.name}: " + "; ".join(parts)
    note = " ".join(config.description.split())  # one line, whatever the YAML held
    return f"{note} ({summary})" if note else summary
