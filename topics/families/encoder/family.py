"""The encoder family (``model.encoder``): its settings, fit and bundle state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from topics.families.base import (
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    TrainingData,
    timed_fit,
)
from topics.families.encoder.classifier import EncoderClassifier


class EncoderSettings(Section):
    """A pretrained transformer encoder fine-tuned as the classifier .

    Needs ``pip install 'topics[encoder]'`` to train (torch, transformers); the
    saved bundle is scored with numpy. Hours on a laptop CPU for large data.
    """

    enabled: bool = False
    # A model folder, or a hub id (downloaded when online; all-MiniLM-L6-v2 also
    # comes packaged with the encoder extra).
    pretrained: str = Field("sentence-transformers/all-MiniLM-L6-v2", min_length=1)
    fine_labels: bool = False  # learn the source classes of data.label_map, as tfidf's
    max_length: int = Field(128, ge=8, le=512)  # tokens kept per text
    # Texts that open with mail or Usenet headers ("Name: value" lines up to the first
    # blank line) keep only these fields, e.g. [Subject]: more of max_length for the
    # body. null: the texts as they are.
    header_fields: list[str] | None = None
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-4, gt=0, lt=1)
    # The new output layer's rate; null: learning_rate. A faster head lets a
    # sigmoid per label learn the rarer labels within a few epochs.
    head_learning_rate: float | None = Field(None, gt=0, lt=1)
    # bfloat16: fine-tuning's matrix products in bfloat16 (torch's CPU autocast; the
    # weights stay float32), 1.55 times faster per batch where the CPU has AMX or
    # AVX512-BF16 (slower where it has neither); every score is float32 either way.
    train_dtype: Literal["float32", "bfloat16"] = "float32"
    weight_decay: float = Field(0.01, ge=0)
    warmup: float = Field(0.06, ge=0, lt=1)  # share of steps the learning rate ramps up
    # Batches of texts of similar length: less padding, so fine-tuning 1.55 times
    # faster on nyt-cap-encoder (max_length 64), 2.6 times at 128. Off: the shipped
    # experiments' figures were measured without it.
    group_by_length: bool = False
    # Held out of fine-tuning: per-label thresholds and the score ranking the models.
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    # Then fine-tune again, on every training text, for the model that ships: its
    # held-out scores, thresholds and score (and the ensemble's weight) stay those of
    # the first fit, the only one the held-out share did not train. Twice the time.
    refit: bool = False
    # 8: the fine-tuned matrices rounded to int8 rows, a scale per row, for a bundle a
    # quarter the size; the run scores with the rounded weights, as the bundle does.
    weight_bits: Literal[8, 32] = 32
    threads: int | None = Field(None, ge=1)  # torch threads; None: every core


class Encoder(Family):
    name = "encoder"
    Settings = EncoderSettings
    trains_with_torch = True

    def fit(
        self,
        settings: EncoderSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        """Fine-tune; targets as the tfidf model gets them (source classes when
        ``fine_labels``, class indices for single-label data, else 0/1)."""
        encoder = EncoderClassifier(
            pretrained=settings.pretrained,
            label_names=context.labels,
            label_map=context.label_map if settings.fine_labels else None,
            single_label=context.single_label,
            max_length=settings.max_length,
            header_fields=settings.header_fields,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            head_learning_rate=settings.head_learning_rate,
            train_dtype=settings.train_dtype,
            weight_decay=settings.weight_decay,
            warmup=settings.warmup,
            group_by_length=settings.group_by_length,
            validation_fraction=settings.validation_fraction,
            random_state=context.seed,
            weight_bits=settings.weight_bits,
            threads=settings.threads,
            cache=context.cache,
        )
        targets = data.targets(context.single_label, settings.fine_labels)
        first = timed_fit(
            self.name, Pipeline([("classifier", encoder)]), ["encoder"], data.texts, targets
        )
        if not settings.refit:
            return first
        whole = clone(encoder).set_params(validation_fraction=0.0)
        refitted = timed_fit(
            self.name, Pipeline([("classifier", whole)]), ["encoder"], data.texts, targets
        )
        for name in HELD_OUT:
            setattr(whole, name, getattr(encoder, name))
        refitted.fit_seconds += first.fit_seconds
        return refitted

    def export(self, model: FittedModel) -> Exported:
        return encoder_state(model.classifier)

    def check(
        self, settings: EncoderSettings, labels: list[str], label_map: dict | None
    ) -> str | None:
        if settings.fine_labels and not label_map:
            return "model.encoder.fine_labels needs data.label_map (source class -> label)"
        return None

    def describe(self, settings: EncoderSettings, context: FitContext) -> str:
        name = settings.pretrained.rsplit("/", 1)[-1]
        refit = " refit on all of train" * settings.refit
        return f"encoder {name} epochs={settings.epochs} max_length={settings.max_length}{refit}"


# what a refit model keeps of the first fit (no held-out share of its own): the
# held-out scores and cuts, and the training curve with its held-out score per epoch
HELD_OUT = (
    "thresholds_",
    "validation_score_",
    "validation_indices_",
    "validation_proba_",
    "history_",
)


def encoder_state(classifier: EncoderClassifier) -> Exported:
    """The bundle state of a fine-tuned :class:`EncoderClassifier`."""
    encoder_spec, weights = classifier.export()
    arrays = {
        "coef": classifier.coef_,
        "intercept": classifier.intercept_,
        "thresholds": classifier.thresholds_,
        "groups": classifier.groups_,
        **{f"bert.{key}": value for key, value in weights.items()},
    }
    return Exported({"kind": "encoder", "encoder": encoder_spec}, arrays)
