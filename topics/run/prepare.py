"""The one prepare step before any training: load -> split -> preflight -> fingerprint.

``topics run`` and every ``topics sweep`` trial start here, so a trial reads the
corpus through the same cache as a run, splits it the same way, fails on the same
preflight checks and carries the same data fingerprint::

    prepared = prepare(config)
    prepared.train, prepared.test        # the split the config asks for
    prepared.unlabelled                  # the train part data.train_sample left out
    prepared.fingerprint                 # sha256 of the loaded corpus
    prepared.config_hash                 # what the run's bundle and tags record

Nothing here talks to a tracker: a data problem costs seconds and no run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from topics import progress
from topics.config import ExperimentConfig, config_hash
from topics.data.corpus import Corpus
from topics.data.rounds import merge_rounds, read_rounds
from topics.data.splits import (
    NONE,
    draw_train_sample,
    join_parts,
    split_field,
    split_indices,
    validation_indices,
)
from topics.errors import ConfigError
from topics.families import FAMILIES
from topics.run.cache import load_corpus_cached, split_kwargs
from topics.run.preflight import check_installed, check_model_folders, check_training_data

__all__ = ["Prepared", "prepare"]

log = logging.getLogger("topics")


@dataclass(frozen=True)
class Prepared:
    """A config's corpus, split and checked, with what identifies the data and config.

    Attributes
    ----------
    corpus : Corpus
        The whole corpus as loaded (cross-validation splits it again).
    train, test : Corpus
        The split ``config.data.split`` asks for, seeded by ``config.split_seed()``;
        with ``data.train_sample``, ``train`` is the sample drawn from that part.
    fingerprint : str
        :meth:`Corpus.fingerprint` of ``corpus``; with ``data.extra_train``, a sha256
        of it and of the round files' bytes (an edited file changes it).
    config_hash : str
        :func:`topics.config.config_hash` of the config.
    validation : Corpus or None
        The documents the data marks ``validation`` (``data.validation_path``, or
        that value of a predefined split column): the sweep's ``val_*`` metrics
        score them instead of a part of train. None when there are none.
    unlabelled : Corpus or None
        With ``data.train_sample``: the rest of the train part, its labels removed
        (the archive a family may learn from without labels). None without a sample.
    """

    corpus: Corpus
    train: Corpus
    test: Corpus
    fingerprint: str
    config_hash: str
    validation: Corpus | None = None
    unlabelled: Corpus | None = None


def prepare(config: ExperimentConfig) -> Prepared:
    """Load ``config.data`` (through the cache under ``config.cache_dir``), split it, run
    the preflight checks on the training split and fingerprint the corpus.

    Raises
    ------
    DataError, ConfigError
        The data is missing or cannot train what the config asks for (see
        :mod:`topics.run.preflight`); nothing has been tracked.
    """
    check_installed(config)  # a core install asked to train with torch: before the data
    check_model_folders(config)  # a mistyped model folder: before the data too
    corpus = load_data(config)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    unlabelled, sampled = None, ""
    if config.data.train_sample is not None:
        train, unlabelled, sampled = sample_train(config, train)
    fingerprint = corpus.fingerprint()
    added = ""
    if config.data.extra_train:
        train, test, unlabelled, fingerprint, added = add_rounds(
            config, train, test, unlabelled, fingerprint
        )
    validation = None
    if config.data.split.kind == "predefined":
        held = validation_indices(corpus, config.data.split.field)
        validation = corpus.subset(held) if len(held) else None
    check_training_data(config, train)  # e.g. K above the vocabulary: one clear error
    # one line once the data is known good: a data error stays the only line on stderr
    progress.stage(
        f"load and split {config.data.name}: {len(train)} train, {len(test)} test documents"
    )
    for line in (sampled, added):
        if line:
            progress.stage(line)
    return Prepared(
        corpus=corpus,
        train=train,
        test=test,
        fingerprint=fingerprint,
        config_hash=config_hash(config),
        validation=validation,
        unlabelled=unlabelled,
    )


def add_rounds(
    config: ExperimentConfig,
    train: Corpus,
    test: Corpus,
    unlabelled: Corpus | None,
    fingerprint: str,
) -> tuple[Corpus, Corpus, Corpus | None, str, str]:
    """``data.extra_train`` added to ``train`` (see :mod:`topics.data.rounds`): the new
    train, test and unlabelled parts, the fingerprint of the corpus and the files, and
    the line that says what was added. Unreviewed records are counted in a warning."""
    fine = [
        name
        for name in FAMILIES
        if getattr(getattr(config.model, name), "enabled", False)
        and getattr(getattr(config.model, name), "fine_labels", False)
    ]
    if fine:  # a round names labels, not the source classes those learn
        raise ConfigError(
            f"model.{fine[0]}.fine_labels learns the source classes of data.label_map, which "
            "labelled rounds do not carry; set it to false, or drop data.extra_train"
        )
    paths = [config.data.resolved_path(path) for path in config.data.extra_train]
    rounds = read_rounds(paths, labels=train.label_names, single_label=config.data.single_label)
    for name, count in rounds.unreviewed.items():
        log.warning(
            'data.extra_train: %s: %d record(s) not labelled yet ("labels": [] and '
            '"reviewed": false), skipped',
            name,
            count,
        )
    merged = merge_rounds(train, test, unlabelled, rounds.corpus)
    combined = hashlib.sha256(f"{fingerprint}+{rounds.digest}".encode()).hexdigest()
    line = (
        f"extra train: {len(rounds.corpus)} labelled documents from {len(paths)} file(s) "
        f"({merged.replaced_train} replace train documents, {merged.moved_from_test} moved "
        f"out of test, {merged.left_unlabelled} left the unlabelled pool)"
    )
    return merged.train, merged.test, merged.unlabelled, combined, line


def sample_train(config: ExperimentConfig, train: Corpus) -> tuple[Corpus, Corpus, str]:
    """``data.train_sample`` drawn from ``train``: the sample, the rest of ``train``
    without its labels, and the line that says so. A label with fewer documents than
    asked gives all it has, said in one warning line."""
    sample = config.data.train_sample
    assert sample is not None
    none = sample.none
    if none is None:
        none = 0 if config.data.single_label else sample.per_label
    seed = config.sample_seed()
    drawn = draw_train_sample(
        train.label_matrix(), train.label_names, per_label=sample.per_label, none=none, seed=seed
    )
    for group, found, asked in drawn.short:
        key = "none" if group == NONE else "per_label"
        what = "documents without a label" if group == NONE else f"'{group}' documents"
        log.warning(
            "data.train_sample: %d %s left in train, fewer than %s: %d; took all %d",
            found,
            what,
            key,
            asked,
            found,
        )
    kept = set(drawn.indices.tolist())
    rest = train.subset(i for i in range(len(train)) if i not in kept)
    archive = Corpus(  # no labels, nor the source codes they were mapped from
        ids=rest.ids,
        texts=rest.texts,
        labels=[()] * len(rest),
        label_names=rest.label_names,
        meta={key: values for key, values in rest.meta.items() if key != "source_label"},
    )
    line = (
        f"train sample: {sample.per_label} per label + {none} none = {len(drawn.indices)} of "
        f"{len(train)} train documents (seed {seed}); {len(archive)} unlabelled"
    )
    return train.subset(drawn.indices.tolist()), archive, line


def load_data(config: ExperimentConfig) -> Corpus:
    """The configured corpus; train and test shipped as separate files
    (``data.test_path``, ``data.validation_path``) are read one by one (each through
    the cache) and joined, each document's part in its split field."""
    parts = config.data.file_parts()
    if not parts:
        return load_corpus_cached(config.data, config.cache_dir)
    field = split_field("predefined", config.data.split.field) or "split"
    return join_parts(
        {part: load_corpus_cached(data, config.cache_dir) for part, data in parts.items()},
        field,
    )
