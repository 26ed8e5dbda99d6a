"""On-disk cache for loaded corpora and fitted vectorizers (``joblib.Memory``).

Keys are content, not names: a corpus is keyed by the data file's fingerprint
(sha256 of its bytes) and the data config; a vectorizer by its parameters and
the exact training texts (joblib hashes them). Change either and the entry is
simply not found, so the cache invalidates itself; deleting the folder is always
safe. ``cache_dir: null`` in the experiment turns it off.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joblib import Memory

    from topics.config import DataConfig
    from topics.data.corpus import Corpus


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
    """:func:`topics.data.corpus.load_corpus`, reusing a previous parse of the same bytes
    with the same data config."""
    from topics.data.corpus import load_corpus

    store = memory(cache_dir)
    path = config.resolved_path()
    if store is None or not path.exists():
        return load_corpus(config)  # missing data: load_corpus says where it looked
    key = config.model_dump(mode="json")
    key.pop("root", None)  # the same file under another root is the same data
    key.pop("split", None)  # splitting happens after loading, except for the split field
    key["split_field"] = _split_field(config)
    return store.cache(_load, ignore=["config"])(path_fingerprint(path), key, config)


def _load(fingerprint: str, key: dict[str, Any], config: DataConfig) -> Corpus:
    from topics.data.corpus import load_corpus

    return load_corpus(config)


def _split_field(config: DataConfig) -> str | None:
    from topics.data.corpus import split_field

    return split_field(config)
