"""The embedding-topics family: its settings (``model.embedding_topics``) and how the run
fits it (the topics, then a logistic regression on their proportions)."""

from __future__ import annotations

from collections.abc import Mapping
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
    TrainingData,
    linear_state,
    timed_fit,
)
from topics.families.embedding_topics.model import EmbeddingTopics
from topics.families.lda.naming import override_problem
from topics.families.linear import MultiLabelLinear
from topics.families.sentence_encoder import MINILM


class EmbeddingTopicsSettings(Section):
    """Topics from sentence embeddings (BERTopic style) and a classifier on their proportions.

    Needs ``pip install 'topics[encoder]'`` to train; the bundle is scored with numpy.
    """

    pretrained: str = Field(MINILM, min_length=1)
    num_topics: int = Field(10, ge=2)
    max_length: int = Field(128, ge=8, le=512)  # tokens embedded per text
    reduce_dims: int | None = Field(None, ge=2)  # PCA before clustering; null: none
    fit_sample: int | None = Field(None, ge=2)  # texts embedded to find topics; null: all
    top_n: int = Field(10, ge=1)
    min_token_length: int = Field(3, ge=1)
    no_below: int = Field(2, ge=1)
    no_above: float = Field(0.5, gt=0, le=1)
    # kl: terms frequent in a topic's documents and rare elsewhere; ctfidf: BERTopic's
    term_score: Literal["kl", "ctfidf"] = "kl"
    C: float = Field(10.0, gt=0)  # logistic regression on topic proportions
    cv_folds: int = Field(5, ge=2)
    topic_names: list[str] | dict[int, str] | None = None  # as model.lda.topic_names

    @model_validator(mode="after")
    def _names(self) -> EmbeddingTopicsSettings:
        problem = override_problem(self.topic_names, self.num_topics)
        if problem:
            raise ValueError(problem)
        return self


class EmbeddingTopicsFamily(Family):
    name = "embedding_topics"
    Settings = EmbeddingTopicsSettings
    trains_with_torch = True

    def fit(
        self,
        settings: EmbeddingTopicsSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        topics = EmbeddingTopics(
            num_topics=settings.num_topics,
            pretrained=settings.pretrained,
            max_length=settings.max_length,
            reduce_dims=settings.reduce_dims,
            fit_sample=settings.fit_sample,
            min_token_length=settings.min_token_length,
            stop_words=context.vectorizer.get("stop_words", "english"),
            no_below=settings.no_below,
            no_above=settings.no_above,
            term_score=settings.term_score,
            top_n=settings.top_n,
            topic_names=settings.topic_names,
            cache=context.cache,
            random_state=context.seed,
        )
        classifier = MultiLabelLinear(
            classifier="logreg",
            C=settings.C,
            class_weight="balanced",
            cv_folds=settings.cv_folds,
            random_state=context.seed,
            label_names=context.labels,
        )
        pipeline = Pipeline([("embedding_topics", topics), ("classifier", classifier)])
        targets = data.targets(context.single_label)
        return timed_fit(self.name, pipeline, [self.name], data.texts, targets)

    def export(self, model: FittedModel) -> Exported:
        return linear_state(model.classifier)

    def feature_state(self, model: FittedModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return model.pipeline.named_steps["embedding_topics"].export()

    def describe(self, settings: EmbeddingTopicsSettings, context: FitContext) -> str:
        name = settings.pretrained.rsplit("/", 1)[-1]
        sample = f" fit_sample={settings.fit_sample}" if settings.fit_sample else ""
        return (
            f"embedding_topics {name} K={settings.num_topics} "
            f"max_length={settings.max_length}{sample}"
        )
