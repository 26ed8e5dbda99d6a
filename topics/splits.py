"""Train/test splits."""

from __future__ import annotations

import numpy as np

from topics.config import SplitConfig
from topics.data import Corpus
from topics.errors import DataError


def split_indices(corpus: Corpus, config: SplitConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` document indices, disjoint and sorted.

    ``random``: a seeded split stratified on every label at once (iterative
    stratification, Sechidis et al. 2011), so each label keeps its share in both parts.
    """
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
