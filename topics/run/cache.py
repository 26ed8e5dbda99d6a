"""Loading the configured corpus on the run side, with an on-disk cache (``joblib.Memory``).

The data layer takes plain keyword arguments; :func:`corpus_kwargs` and
:func:`split_kwargs` are where the ``data`` section of the experiment becomes them.

Cache keys are content, not names: a corpus is keyed by the data file's
fingerprint (sha256 of its bytes) and the data config; a vectorizer by its
parameters and the exact training texts (joblib hashes them). Change either and
the entry is simply not found, so the cache invalidates itself; deleting the
folder is always safe. ``cache_dir: null`` in the experiment turns it off.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics.config import DATA_ROOT_ENV
from topics.data import corpus
from topics.data.splits import split_field
from topics.errors import DataError

if TYPE_CHECKING:
    from joblib import Memory

    from topics.config import DataConfig, SplitConfig
    from topics.data.corpus import Corpus


def corpus_kwargs(config: DataConfig) -> dict[str, Any]:
    """The keyword arguments of :func:`topics.data.corpus.load_corpus` that ``config``
    describes (all but the path: see ``config.resolved_path()``)."""
    return {
        "labels": list(config.labels),
        "format": config.format,
        "encoding": config.encoding,
        "id_field": config.id_field,
        "text_fields": list(config.text_fields),
        "label_field": config.label_field,
        "label_sep": config.label_sep,
        "label_map": config.label_map,
        "single_label": config.single_label,
        "drop_unlabeled": config.drop_unlabeled,
        "remove": list(config.remove),
        "split_field": split_field(config.split.kind, config.split.field),
        "columns": config.columns,
        "encoding_errors": config.encoding_errors,
    }


def split_kwargs(split: SplitConfig, seed: int) -> dict[str, Any]:
    """The keyword arguments of :func:`topics.data.splits.split_indices` for ``split``;
    ``seed`` is the split's seed (``ExperimentConfig.split_seed()``)."""
    return {
        "kind": split.kind,
        "test_size": split.test_size,
        "seed": seed,
        "field": split.field,
        "train_until": split.train_until,
        "folds": split.folds,
    }


def load_corpus_from_config(config: DataConfig) -> Corpus:
    """:func:`topics.data.corpus.load_corpus` of the data ``config`` describes; missing
    data names the root it was resolved under and how to point elsewhere."""
    path = config.resolved_path()
    _check_exists(path, config)
    return corpus.load_corpus(path, **corpus_kwargs(config))


def memory(cache_dir: str | Path | None) -> Memory | None:
    """A ``joblib.Memory`` under ``cache_dir``, or None when caching is off."""
    if cache_dir is None:
        return None
    from joblib import Memory

    return Memory(Path(cache_dir), verbose=0)


def path_fingerprint(path: Path) -> str:
    """sha256 of a file's bytes; for a folder, of every file's relative path and bytes."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_corpus_cached(config: DataConfig, cache_dir: str | Path | None) -> Corpus:
    """:func:`load_corpus_from_config`, reusing a previous parse of the same bytes
    with the same data config."""
    store = memory(cache_dir)
    path = config.resolved_path()
    if store is None or not path.exists():
        return load_corpus_from_config(config)  # missing data: it says where it looked
    key = config.model_dump(mode="json")
    key.pop("root", None)  # the same file under another root is the same data
    key.pop("split", None)  # splitting happens after loading, except for the split field
    key["split_field"] = corpus_kwargs(config)["split_field"]
    return store.cache(_load, ignore=["config"])(path_fingerprint(path), key, config)


def _load(fingerprint: str, key: dict[str, Any], config: DataConfig) -> Corpus:
    return load_corpus_from_config(config)


def _check_exists(path: Path, config: DataConfig) -> None:
    if not path.exists():
        raise DataError(
            f"data not found: {path} (data root {config.resolved_root()}: data.root, else "
            f"${DATA_ROOT_ENV}, else the current directory); point to it with "
            f"--set data.root=DIR or {DATA_ROOT_ENV}=DIR"
        )
