"""Checks run before a tracked run starts: what is installed and the model folders the
config names (before the data is read), then what needs the data but no training.

A problem found here costs the user seconds, not a failed run after minutes of
training: each is one line naming the config key or label and how to fix it.
"""

from __future__ import annotations

import importlib.util
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from topics.config import ExperimentConfig
from topics.data.corpus import Corpus
from topics.errors import ConfigError, DataError
from topics.families import FAMILIES
from topics.families.features import resolve_stop_words
from topics.text import TopicTokenizer

log = logging.getLogger("topics")


def check_training_data(config: ExperimentConfig, train: Corpus) -> None:
    """Raise on what would make training fail; log a warning on what degrades it.

    Decisions (documented in README): a label with no positive or no negative
    training document is an error, not silently dropped, because a model that
    can never predict a configured label would look like a bug later. A label
    with a single positive trains, with the linear model's own cut as threshold.
    A train part without labelled documents (``data.train_sample`` drawing none) is
    an error for every enabled family that needs labels, and skips the label checks
    when none does.
    """
    if _check_labelled_documents(config, train):
        _check_label_counts(train)
    if config.model.lda.enabled:
        _check_lda_vocabulary(config, train)


def check_installed(config: ExperimentConfig) -> None:
    """Raise when an enabled family trains with torch and the encoder extra is missing
    (found, not imported: importing torch takes seconds)."""
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    for name, family in FAMILIES.items():
        if missing and family.trains_with_torch and getattr(config.model, name).enabled:
            raise ConfigError(
                f"model.{name} needs {' and '.join(missing)}: pip install 'topics[encoder]', "
                f"or set model.{name}.enabled=false"
            )


def check_model_folders(config: ExperimentConfig) -> None:
    """Raise when an enabled family's ``pretrained`` (or ``*_pretrained``) setting names
    a local path (``/``, ``.`` or ``~`` first) that is not a saved model's folder (no
    config.json there): a typo found now, not after the minutes of training that come
    before the model is read. Hub ids (``owner/name``) are left to the load, which says
    when the hub is out of reach."""
    for family in FAMILIES:
        settings = getattr(config.model, family)
        if not settings.enabled:
            continue
        for key, value in settings:
            if not (key == "pretrained" or key.endswith("_pretrained")):
                continue
            if not isinstance(value, str) or not value.startswith(("/", ".", "~")):
                continue
            if not (Path(value).expanduser() / "config.json").is_file():
                raise ConfigError(
                    f"model.{family}.{key}: {value} is not a saved model's folder (no "
                    "config.json there); give the folder save_pretrained wrote, or a hub id"
                )


def _check_label_counts(train: Corpus) -> None:
    counts = train.label_matrix().sum(axis=0)
    for label, positives in zip(train.label_names, counts.tolist(), strict=True):
        negatives = len(train) - positives
        if positives < 1 or negatives < 1:
            raise DataError(
                f"label '{label}' has {positives} positive and {negatives} negative training "
                "documents; each label needs at least one of each: add documents, lower "
                "data.split.test_size, or remove it from data.labels"
            )


def _check_labelled_documents(config: ExperimentConfig, train: Corpus) -> bool:
    """True when the label checks apply (some training document has a label); raise
    when the train part has none and an enabled family needs them."""
    if config.data.train_sample is None or any(train.labels):
        return True
    enabled = [name for name in FAMILIES if getattr(config.model, name).enabled]
    needing = [name for name in enabled if FAMILIES[name].needs_labels]
    if not needing:
        return False
    raise ConfigError(
        f"model.{needing[0]} needs labelled training documents; data.train_sample draws 0 "
        f"(per_label: {config.data.train_sample.per_label}): set data.train_sample.per_label "
        f">= 1, or disable {', '.join(f'model.{name}' for name in needing)}"
    )


def _check_lda_vocabulary(config: ExperimentConfig, train: Corpus) -> None:

    settings = config.model.lda
    tokenizer = TopicTokenizer(
        settings.min_token_length, resolve_stop_words(config.features.tfidf.stop_words)
    )
    documents = [set(tokenizer(text)) for text in train.texts]
    empty = sum(1 for words in documents if not words)
    if empty:
        log.warning(
            "%d of %d training documents have no words left for the topic model after "
            "preprocessing; they get the prior topic mix",
            empty,
            len(train),
        )
    frequency = Counter(word for words in documents for word in words)
    limit = settings.no_above * len(train)
    kept = int(np.sum([settings.no_below <= n <= limit for n in frequency.values()]))
    if kept < settings.num_topics:
        raise ConfigError(
            f"model.lda.num_topics: {settings.num_topics} topics but only {kept} words survive "
            f"filtering (no_below={settings.no_below}, no_above={settings.no_above}); lower "
            "model.lda.num_topics or model.lda.no_below, or add documents"
        )
