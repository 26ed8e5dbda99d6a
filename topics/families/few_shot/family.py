"""The few-shot family's config section, its training and its bundle state (the
estimator: :mod:`topics.families.few_shot.model`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field
from sklearn.pipeline import Pipeline

from topics.families.base import Exported, Family, FitContext, FittedModel, Section, TrainingData
from topics.families.encoder.family import encoder_state
from topics.families.few_shot.model import SeededSelfTraining
from topics.families.sentence_encoder import MINILM
from topics.families.tfidf import vectorizer_state


class FewShotSettings(Section):
    """Labels from a handful of examples, seed words and label descriptions, with
    the unlabelled archive (``data.train_sample``'s rest of train): seeded
    self-training on a sentence encoder and TF-IDF. Needs the encoder extra."""

    enabled: bool = False
    pretrained: str = Field(MINILM, min_length=1)
    max_length: int = Field(128, ge=8, le=512)
    # The student's sentence vector: encoder (the transformer's pass, at predict time
    # too) or static (a lookup: scored at TF-IDF speed, a little less accurate).
    vectors: Literal["encoder", "static"] = "encoder"
    # The sentence vector's weight beside the student's TF-IDF columns (0.5 chosen on
    # the training years: benchmarks/results/few_shot_choices_scale.md).
    scale: float = Field(0.5, gt=0)
    # Label -> words whose presence hints at the label (lower case, whole words).
    seed_words: dict[str, list[str]] = Field(default_factory=dict)
    description_threshold: float = Field(0.3, gt=-1, lt=1)
    # how much nearer than the nearest of data.none_descriptions a label's
    # description must be for a text to keep the label's hints. 0: a margin of 0.1
    # scores higher on nyt-cap's training years (few_shot_choices_none.md), but from
    # 0.05 the sample corpus's Central Asia articles lose human-rights labels to
    # "crime, police and the courts" (passages_relative_none_margin_0.1.md).
    none_margin: float = Field(0.0, ge=-1, le=1)
    # the teacher: frozen (a logistic regression on the encoder's embeddings of the
    # labelled texts) or finetune (the encoder fine-tuned on them, teacher_epochs)
    teacher: Literal["frozen", "finetune"] = "frozen"
    teacher_epochs: int = Field(8, ge=1)
    # teacher probability at which a pseudo-label needs no hint; 1: never
    confident: float = Field(0.8, gt=0.5, le=1)
    # the least share of a label's hinted texts its teacher confirms (chosen on the
    # training years: benchmarks/results/suggest_curve_folds.md)
    min_agreement: float = Field(0.5, ge=0, le=1)
    # labelled examples a label needs before the teacher replaces its hints
    teacher_min_positives: int = Field(8, ge=1)
    labelled_weight: float = Field(20.0, gt=0)
    C: float = Field(1.0, gt=0)
    rounds: int = Field(3, ge=1)  # chosen on the training years: few_shot_choices_rounds.md
    # A noisy student: above 0, the encoder fine-tuned this many epochs on the last
    # student's labels of the archive (at most encoder_archive of its texts, sampled)
    # and the labelled texts scores instead of the student; the bundle keeps it. It
    # needs an archive of thousands: on the sample corpus (186 training articles) one
    # epoch learns no label. Figures: README, "Few-shot labels on nyt-cap".
    encoder_epochs: int = Field(0, ge=0)
    encoder_learning_rate: float = Field(5e-5, gt=0, lt=1)
    # the encoder the noisy student fine-tunes; None: pretrained (which the hints, the
    # teacher and the linear student keep)
    encoder_pretrained: str | None = Field(None, min_length=1)
    encoder_archive: int | None = Field(None, ge=1)
    threads: int | None = Field(None, ge=1)


class FewShot(Family):
    name = "few_shot"
    Settings = FewShotSettings
    trains_with_torch = True
    needs_labels = False  # seed words and label descriptions stand in for them

    def fit(
        self,
        settings: FewShotSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        model = SeededSelfTraining(
            label_names=context.labels,
            descriptions=context.label_descriptions,
            seed_words=settings.seed_words,
            none_descriptions=context.none_descriptions,
            none_margin=settings.none_margin,
            pretrained=settings.pretrained,
            max_length=settings.max_length,
            vectors=settings.vectors,
            scale=settings.scale,
            description_threshold=settings.description_threshold,
            teacher=settings.teacher,
            teacher_epochs=settings.teacher_epochs,
            confident=settings.confident,
            min_agreement=settings.min_agreement,
            teacher_min_positives=settings.teacher_min_positives,
            labelled_weight=settings.labelled_weight,
            C=settings.C,
            rounds=settings.rounds,
            encoder_epochs=settings.encoder_epochs,
            encoder_learning_rate=settings.encoder_learning_rate,
            encoder_pretrained=settings.encoder_pretrained,
            encoder_archive=settings.encoder_archive,
            vectorizer=context.vectorizer,
            single_label=context.single_label,
            random_state=context.seed,
            cache=context.cache,
            threads=settings.threads,
        )
        start = time.perf_counter()
        model.fit(data.texts, data.targets(context.single_label), unlabelled=data.unlabelled)
        return FittedModel(
            self.name,
            Pipeline([("classifier", model)]),
            ["few_shot"],
            fit_seconds=round(time.perf_counter() - start, 3),
        )

    def export(self, model: FittedModel) -> Exported:
        """The student's coefficients and TF-IDF state, with its static token vectors
        (``static.*``) or the encoder's weights (``bert.*``); or the fine-tuned
        encoder's state, as the encoder family's (``encoder_epochs``)."""
        classifier: SeededSelfTraining = model.classifier
        if classifier.encoder_ is not None:
            return encoder_state(classifier.encoder_)
        tfidf_spec, tfidf_arrays = vectorizer_state(classifier.vectorizer_)
        spec: dict[str, Any] = {"kind": "few_shot", "tfidf": tfidf_spec}
        words = len(tfidf_arrays["idf"])
        coef = classifier.coef_.copy()
        coef[:, words:] *= classifier.scale  # the scorer reads unscaled vectors
        arrays = {
            "coef": coef,
            "intercept": classifier.intercept_,
            "thresholds": classifier.thresholds_,
            "tfidf.idf": tfidf_arrays["idf"],
        }
        if classifier.vectors == "static":
            static = classifier.static_
            spec["static"] = {"tokenizer": static.tokenizer_json_}
            arrays |= {
                "static.ids": static.ids_.astype(np.int64),
                "static.vectors": static.vectors_,
            }
        else:
            spec["encoder"], weights = classifier.embedder_.export()
            arrays |= {f"bert.{key}": value for key, value in weights.items()}
        return Exported(spec, arrays)

    def check(
        self, settings: FewShotSettings, labels: list[str], label_map: dict | None
    ) -> str | None:
        unknown = sorted(set(settings.seed_words) - set(labels))
        if unknown:
            return f"model.few_shot.seed_words: {unknown} are not among data.labels {labels}"
        return None

    def describe(self, settings: FewShotSettings, context: FitContext) -> str:
        student = f"{settings.vectors} vectors, C={settings.C:g}"
        if settings.encoder_epochs:
            student = f"the encoder fine-tuned {settings.encoder_epochs} epoch(s) on its labels"
        return f"few_shot self-training, {student}"
