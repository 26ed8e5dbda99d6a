"""The ``hybrid`` family: one linear model on TF-IDF columns and LDA topic columns.

It reuses the fitted vectorizer of ``tfidf`` and the topic model of ``lda``,
stacks their columns (tfidf first, then ``lda_weight`` x topics) and fits one
:class:`~topics.families.linear.MultiLabelLinear` on them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

from pydantic import Field
from sklearn.pipeline import FeatureUnion, Pipeline

from topics.families.base import (
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    TrainingData,
    linear_state,
)
from topics.families.linear import MultiLabelLinear


class HybridSettings(Section):
    """TF-IDF features and LDA doc-topic features stacked into one linear model."""

    enabled: bool = False
    classifier: Literal["linear_svc", "logreg"] = "linear_svc"
    C: float = Field(1.0, gt=0)
    lda_weight: float = Field(1.0, gt=0)  # scale of the topic columns against tf-idf


class Hybrid(Family):
    name = "hybrid"
    Settings = HybridSettings
    requires = ("tfidf", "lda")

    def fit(
        self,
        settings: HybridSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        tfidf, lda = fitted["tfidf"], fitted["lda"]
        tfidf_settings = context.sections["tfidf"]
        features = FeatureUnion(
            [("tfidf", tfidf.vectorizer), ("lda", lda.topics)],
            transformer_weights={"tfidf": 1.0, "lda": settings.lda_weight},
        )
        classifier = MultiLabelLinear(
            classifier=settings.classifier,
            C=settings.C,
            class_weight="balanced",
            cv_folds=getattr(tfidf_settings, "cv_folds", 5),
            random_state=context.seed,
            label_names=context.labels,
            n_jobs=getattr(tfidf_settings, "n_jobs", 1),
        )
        start = time.perf_counter()
        classifier.fit(features.transform(data.texts), data.targets(context.single_label))
        return FittedModel(
            self.name,
            Pipeline([("features", features), ("classifier", classifier)]),
            ["tfidf", "lda"],
            fit_seconds=round(time.perf_counter() - start, 3),
            extra={"lda_weight": settings.lda_weight, "n_topics": lda.topics.num_topics},
        )

    def export(self, model: FittedModel) -> Exported:
        """The linear state with the topic columns' weight folded into their coefficients."""
        state = linear_state(model.classifier)
        coef = state.arrays["coef"].copy()
        coef[:, -model.extra["n_topics"] :] *= model.extra["lda_weight"]
        return Exported(state.spec, {**state.arrays, "coef": coef})

    def describe(self, settings: HybridSettings, context: FitContext) -> str:
        return f"hybrid {settings.classifier} C={settings.C:g} lda_weight={settings.lda_weight:g}"
