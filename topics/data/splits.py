"""Train/test splits: random (stratified), predefined, temporal, and k-fold."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from topics.config import DataConfig, SplitConfig
from topics.data.corpus import Corpus, split_field
from topics.errors import DataError


def split_indices(corpus: Corpus, config: SplitConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` document indices, disjoint and sorted.

    ``random``: a seeded split stratified on every label at once (iterative
    stratification, Sechidis et al. 2011), so each label keeps its share in both parts.
    ``predefined``: the ``split`` column the data carries (``train``/``test``).
    ``temporal``: ``field <= train_until`` trains, later documents test.
    ``kfold``: the first of the folds (see :func:`fold_indices` for all of them).
    """
    if config.kind == "predefined":
        return _predefined(corpus, config)
    if config.kind == "temporal":
        return _temporal(corpus, config)
    if config.kind == "kfold":
        return next(fold_indices(corpus, config, seed))
    return _random(corpus, config, seed)


def fold_indices(
    corpus: Corpus, config: SplitConfig, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``config.folds`` stratified ``(train, test)`` pairs; each document is tested once."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    if len(corpus) < 2 * config.folds:
        raise DataError(
            f"cannot make {config.folds} folds from {len(corpus)} documents; lower data.split.folds"
        )
    splitter = MultilabelStratifiedKFold(n_splits=config.folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((len(corpus), 1)), corpus.label_matrix()):
        yield np.sort(train), np.sort(test)


def _random(corpus: Corpus, config: SplitConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    n_docs = len(corpus)
    n_test = int(np.ceil(config.test_size * n_docs))
    if n_docs < 4 or n_test < 1 or n_test >= n_docs:
        raise DataError(
            f"cannot split {n_docs} documents with test_size={config.test_size}; "
            "need at least 4 documents and one on each side"
        )
    splitter = MultilabelStratifiedShuffleSplit(
        n_splits=1, test_size=config.test_size, random_state=seed
    )
    matrix = corpus.label_matrix()
    if matrix.shape[1] == 1:  # one label: stratify on it and its complement
        matrix = np.column_stack([matrix, 1 - matrix])
    train, test = next(splitter.split(np.zeros((n_docs, 1)), matrix))
    return np.sort(train), np.sort(test)


def _column(corpus: Corpus, name: str) -> list[object]:
    if name not in corpus.meta:
        raise DataError(
            f"the split needs the '{name}' of every document but the corpus has none; "
            "set data.split.field to the column that holds it"
        )
    return corpus.meta[name]


def _predefined(corpus: Corpus, config: SplitConfig) -> tuple[np.ndarray, np.ndarray]:
    name = config.field or "split"
    values = [str(v).strip().lower() for v in _column(corpus, name)]
    unknown = sorted(set(values) - {"train", "test"})
    if unknown:
        raise DataError(
            f"split field '{name}' must be 'train' or 'test', found {unknown[:5]}; "
            "fix the data or use data.split.kind: random"
        )
    return _two_sides(np.array([v == "train" for v in values]), f"predefined split '{name}'")


def _temporal(corpus: Corpus, config: SplitConfig) -> tuple[np.ndarray, np.ndarray]:
    name = config.field or "year"
    try:
        years = np.array([int(str(v).strip()) for v in _column(corpus, name)])
    except ValueError as exc:
        raise DataError(
            f"temporal split: field '{name}' must hold integers (years) ({exc})"
        ) from exc
    assert config.train_until is not None  # checked by SplitConfig
    return _two_sides(years <= config.train_until, f"temporal split {name} <= {config.train_until}")


def _two_sides(is_train: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    train, test = np.flatnonzero(is_train), np.flatnonzero(~is_train)
    if len(train) == 0 or len(test) == 0:
        raise DataError(
            f"{what} leaves {len(train)} train and {len(test)} test documents; "
            "need at least one on each side"
        )
    return train, test


def describe(config: DataConfig) -> str:
    """One line naming the split, for logs."""
    split = config.split
    if split.kind == "temporal":
        return f"temporal: {split_field(config)} <= {split.train_until} trains"
    if split.kind == "random":
        return f"random stratified, test_size={split.test_size}"
    if split.kind == "kfold":
        return f"{split.folds}-fold stratified cross-validation"
    return f"predefined ({split_field(config)})"
