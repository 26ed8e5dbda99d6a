"""The encoder family (``model.encoder``): a pretrained transformer fine-tuned as the
classifier. The estimator is in :mod:`~topics.families.encoder.classifier`, where its
pretrained weights come from in :mod:`~topics.families.encoder.pretrained`, its
fine-tuning cache in :mod:`~topics.families.encoder.cache`, its settings and bundle
state in :mod:`~topics.families.encoder.family`."""

from topics.families.encoder.classifier import EncoderClassifier
from topics.families.encoder.family import Encoder, EncoderSettings
from topics.families.encoder.pretrained import (
    INSTALL_HINT,
    PACKAGED_MODELS,
    import_torch,
    load_pretrained,
    resolve_pretrained,
)

__all__ = [
    "INSTALL_HINT",
    "import_torch",
    "PACKAGED_MODELS",
    "Encoder",
    "EncoderClassifier",
    "EncoderSettings",
    "load_pretrained",
    "resolve_pretrained",
]
