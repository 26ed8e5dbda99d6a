"""Train/test splits: random (stratified), predefined, temporal, and k-fold.

Splitters take plain keyword arguments; the run side turns the experiment's
``data.split`` section into them (:func:`topics.run.cache.split_kwargs`), and
errors caused by one name its key path (``data.split.field``).

>>> from topics.data.corpus import Corpus
>>> corpus = Corpus(ids=["a", "b", "c"], texts=["x", "y", "z"],
...                 labels=[("economy",)] * 3, label_names=("economy",),
...                 meta={"year": [2001, 2002, 2003]})
>>> split_indices(corpus, kind="temporal", train_until=2002)
(array([0, 1]), array([2]))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from topics.data.corpus import Corpus
from topics.errors import DataError

KINDS = ("random", "predefined", "temporal", "kfold")
# predefined split values; validation documents are on neither side of (train, test)
PARTS = ("train", "test", "validation")
_DEFAULT_FIELDS = {"predefined": "split", "temporal": "year"}


def split_field(kind: str, field: str | None = None) -> str | None:
    """The record field a split of ``kind`` reads (``split`` / ``year`` by default), if any.

    >>> split_field("temporal"), split_field("predefined", "part"), split_field("random")
    ('year', 'part', None)
    """
    if kind not in _DEFAULT_FIELDS:
        return None
    return field or _DEFAULT_FIELDS[kind]


def split_indices(
    corpus: Corpus,
    *,
    kind: str = "random",
    test_size: float = 0.25,
    seed: int = 0,
    field: str | None = None,
    train_until: int | None = None,
    folds: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` document indices, disjoint and sorted.

    ``random``: a seeded split stratified on every label at once (iterative
    stratification, Sechidis et al. 2011), so each label keeps its share in both parts.
    ``predefined``: the ``field`` column the data carries (``split`` by default,
    values ``train``/``test``, and ``validation`` for documents on neither side:
    see :func:`validation_indices`).
    ``temporal``: ``field`` (``year`` by default) ``<= train_until`` trains, later
    documents test.
    ``kfold``: the first of the ``folds`` folds (see :func:`fold_indices` for all of them).

    Raises
    ------
    ValueError
        ``kind`` is unknown, or ``temporal`` has no ``train_until``.
    DataError
        The corpus cannot be split that way (too small, a column missing, a side empty).
    """
    if kind not in KINDS:
        raise ValueError(
            f"The 'kind' parameter of split_indices must be one of {list(KINDS)}. "
            f"Got {kind!r} instead."
        )
    if kind == "predefined":
        return _predefined(corpus, field or "split")
    if kind == "temporal":
        if train_until is None:
            raise ValueError(
                "The 'train_until' parameter of split_indices must be an int for "
                "kind='temporal' (documents with year <= it train). Got None instead."
            )
        return _temporal(corpus, field or "year", train_until)
    if kind == "kfold":
        return next(fold_indices(corpus, folds=folds, seed=seed))
    return _random(corpus, test_size, seed)


def join_parts(parts: Mapping[str, Corpus], field: str = "split") -> Corpus:
    """One corpus from train, test (and validation) shipped as separate files, each
    document's part in ``meta[field]``, for the ``predefined`` split.

    Ids are kept; if two parts share one, the ids of the parts after ``train`` get
    the part as a prefix (``test/17``), so every id stays unique.

    >>> from topics.data.corpus import Corpus
    >>> part = Corpus(ids=["0"], texts=["x"], labels=[("economy",)], label_names=("economy",))
    >>> joined = join_parts({"train": part, "test": part})
    >>> joined.ids, joined.meta["split"]
    (['0', 'test/0'], ['train', 'test'])
    """
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or "train" not in parts or "test" not in parts:
        raise ValueError(
            f"The 'parts' parameter of join_parts must have 'train' and 'test' (and may have "
            f"'validation'). Got {sorted(parts)} instead."
        )
    ordered = [(name, parts[name]) for name in PARTS if name in parts]
    all_ids = [doc_id for _, corpus in ordered for doc_id in corpus.ids]
    prefix = len(set(all_ids)) != len(all_ids)
    ids, texts, labels, values = [], [], [], []
    meta_keys = set.intersection(*(set(corpus.meta) for _, corpus in ordered)) - {field}
    meta: dict[str, list[object]] = {key: [] for key in sorted(meta_keys)}
    for name, corpus in ordered:
        ids += [f"{name}/{i}" if prefix and name != "train" else i for i in corpus.ids]
        texts += corpus.texts
        labels += corpus.labels
        values += [name] * len(corpus)
        for key in meta:
            meta[key] += corpus.meta[key]
    return Corpus(
        ids=ids,
        texts=texts,
        labels=labels,
        label_names=ordered[0][1].label_names,
        meta={**meta, field: values},
    )


NONE = "none"  # the group of a train sample's documents that carry no label


@dataclass(frozen=True)
class TrainSample:
    """A few-shot draw: ``indices`` (sorted) and the documents drawn for each label
    (and ``"none"``), in draw order; ``short`` names each group that had fewer
    documents than asked, as ``(group, found, asked)``."""

    indices: np.ndarray
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    short: list[tuple[str, int, int]] = field(default_factory=list)


def draw_train_sample(
    label_matrix: np.ndarray,
    label_names: tuple[str, ...] | list[str],
    *,
    per_label: int,
    none: int,
    seed: int,
) -> TrainSample:
    """Draw ``per_label`` documents for each label and ``none`` without a label.

    Labels are drawn one by one in ``label_names`` order, without replacement: a
    document drawn for one label is not drawn again for another, and keeps all its
    labels. A label (or ``none``) with fewer documents left than asked gives them all,
    and is listed in ``short``.

    >>> y = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 0]])
    >>> sample = draw_train_sample(y, ("economy", "defense"), per_label=1, none=1, seed=0)
    >>> len(sample.indices), {name: len(docs) for name, docs in sample.groups.items()}
    (3, {'economy': 1, 'defense': 1, 'none': 1})
    """
    y = np.asarray(label_matrix)
    if y.ndim != 2 or y.shape[1] != len(label_names):
        raise ValueError(
            f"The 'label_matrix' parameter of draw_train_sample must have one column per "
            f"label ({len(label_names)}). Got shape {y.shape} instead."
        )
    if per_label < 0 or none < 0:
        raise ValueError(
            "The 'per_label' and 'none' parameters of draw_train_sample must be ints in the "
            f"range [0, inf). Got {per_label} and {none} instead."
        )
    rng = np.random.default_rng(seed)
    taken = np.zeros(len(y), dtype=bool)
    groups: dict[str, np.ndarray] = {}
    short: list[tuple[str, int, int]] = []
    wanted = [(str(name), y[:, j] > 0, per_label) for j, name in enumerate(label_names)]
    wanted.append((NONE, y.sum(axis=1) == 0, none))
    for name, carries, asked in wanted:
        candidates = np.flatnonzero(carries & ~taken)
        drawn = rng.permutation(candidates)[:asked]
        if len(drawn) < asked:
            short.append((name, len(drawn), asked))
        taken[drawn] = True
        groups[name] = drawn
    return TrainSample(indices=np.flatnonzero(taken), groups=groups, short=short)


def validation_indices(corpus: Corpus, field: str | None = None) -> np.ndarray:
    """Indices of the documents whose predefined ``field`` (``split``) says
    ``validation``; empty when there is no such field or document."""
    name = field or "split"
    if name not in corpus.meta:
        return np.array([], dtype=int)
    values = [str(v).strip().lower() for v in corpus.meta[name]]
    return np.flatnonzero(np.array([v == "validation" for v in values], dtype=bool))


def fold_indices(
    corpus: Corpus, *, folds: int = 5, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``folds`` stratified ``(train, test)`` pairs; each document is tested once."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    if len(corpus) < 2 * folds:
        raise DataError(
            f"cannot make {folds} folds from {len(corpus)} documents; lower data.split.folds"
        )
    splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((len(corpus), 1)), corpus.label_matrix()):
        yield np.sort(train), np.sort(test)


def _random(corpus: Corpus, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    n_docs = len(corpus)
    n_test = int(np.ceil(test_size * n_docs))
    if n_docs < 4 or n_test < 1 or n_test >= n_docs:
        raise DataError(
            f"cannot split {n_docs} documents with test_size={test_size}; "
            "need at least 4 documents and one on each side"
        )
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
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


def _predefined(corpus: Corpus, name: str) -> tuple[np.ndarray, np.ndarray]:
    values = [str(v).strip().lower() for v in _column(corpus, name)]
    unknown = sorted(set(values) - set(PARTS))
    if unknown:
        raise DataError(
            f"split field '{name}' must be 'train', 'test' or 'validation', found "
            f"{unknown[:5]}; fix the data or use data.split.kind: random"
        )
    is_train = np.array([v == "train" for v in values], dtype=bool)
    is_test = np.array([v == "test" for v in values], dtype=bool)
    return _two_sides(is_train, f"predefined split '{name}'", is_test)


def _temporal(corpus: Corpus, name: str, train_until: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        years = np.array([int(str(v).strip()) for v in _column(corpus, name)])
    except ValueError as exc:
        raise DataError(
            f"temporal split: field '{name}' must hold integers (years) ({exc})"
        ) from exc
    return _two_sides(years <= train_until, f"temporal split {name} <= {train_until}")


def _two_sides(
    is_train: np.ndarray, what: str, is_test: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices; test is every other document unless ``is_test`` says."""
    train = np.flatnonzero(is_train)
    test = np.flatnonzero(~is_train if is_test is None else is_test)
    if len(train) == 0 or len(test) == 0:
        raise DataError(
            f"{what} leaves {len(train)} train and {len(test)} test documents; "
            "need at least one on each side"
        )
    return train, test


def describe(
    kind: str = "random",
    *,
    test_size: float = 0.25,
    field: str | None = None,
    train_until: int | None = None,
    folds: int = 5,
) -> str:
    """One line naming the split, for logs.

    >>> describe("temporal", train_until=2003)
    'temporal: year <= 2003 trains'
    """
    if kind == "temporal":
        return f"temporal: {split_field(kind, field)} <= {train_until} trains"
    if kind == "random":
        return f"random stratified, test_size={test_size}"
    if kind == "kfold":
        return f"{folds}-fold stratified cross-validation"
    return f"predefined ({split_field(kind, field)})"
