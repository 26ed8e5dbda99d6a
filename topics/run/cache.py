"""Loading the configured corpus on the run side, with an on-disk cache (:class:`FitCache`).

The data layer takes plain keyword arguments; :func:`corpus_kwargs` and
:func:`split_kwargs` are where the ``data`` section of the experiment becomes them.

Cache keys are content, not names: a corpus is keyed by the data file's
fingerprint (sha256 of its bytes) and the data config; fitted TF-IDF features by
the vectorizer's parameters and the exact training texts; sentence embeddings
(``embeddings``, :mod:`topics.families.embedding_topics`) by the encoder, its
``max_length`` and the exact texts, as one float32 ``vectors`` array. Change either and the
entry is simply not found, so the cache invalidates itself; deleting the folder
is always safe. ``cache_dir: null`` in the experiment turns it off.

Nothing in the cache is a pickle: an entry is ``meta.json`` plus, when it holds
arrays, ``arrays.npz`` read with ``allow_pickle=False``. The folder may come
with someone else's experiment, so an entry is data to check, never code: one
that cannot be read or does not check out is a miss, logged and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from topics.config import DATA_ROOT_ENV
from topics.data import corpus
from topics.data.splits import split_field
from topics.errors import DataError

if TYPE_CHECKING:
    from topics.config import DataConfig, SplitConfig
    from topics.data.corpus import Corpus

logger = logging.getLogger(__name__)

CACHE_LAYOUT = 1  # part of every key: a new layout never reads an old entry
META = "meta.json"
ARRAYS = "arrays.npz"


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
        "date_field": config.date_field,
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


class FitCache:
    """A content-keyed store of JSON and ``.npz`` entries under ``directory``; no pickle.

    ``key(kind, *parts)`` hashes JSON-able parts into an entry name;
    ``save(kind, key, meta, arrays)`` writes an entry atomically (a failed write
    only loses the entry); ``load(kind, key)`` returns ``(meta, arrays)``, or
    None when the entry is missing or unreadable; ``discard(kind, key)`` removes it.
    Callers check what they get: an entry is as trustworthy as whoever could write
    to the folder.

    >>> cache = FitCache(tmp_path)                                  # doctest: +SKIP
    >>> key = cache.key("tfidf", {"min_df": 2}, "texts-digest")      # doctest: +SKIP
    >>> cache.save("tfidf", key, {"vocabulary": ["rail"]}, {"idf": np.ones(1)})  # doctest: +SKIP
    >>> cache.load("tfidf", key)[0]["vocabulary"]                    # doctest: +SKIP
    ['rail']
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def key(self, kind: str, *parts: Any) -> str:
        """sha256 of ``kind`` and ``parts`` (JSON, sorted keys) and the cache layout."""
        text = json.dumps([CACHE_LAYOUT, kind, *parts], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def entry(self, kind: str, key: str) -> Path:
        return self.directory / kind / key

    def load(self, kind: str, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """The entry's ``(meta, arrays)``, or None when it is missing or unreadable."""
        folder = self.entry(kind, key)
        if not (folder / META).is_file():
            return None
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            arrays: dict[str, np.ndarray] = {}
            if (folder / ARRAYS).is_file():
                with np.load(folder / ARRAYS, allow_pickle=False) as npz:
                    arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, RecursionError, zipfile.BadZipFile) as exc:
            # ValueError covers bad JSON and pickled (object) arrays, which are refused.
            logger.warning("ignoring unreadable cache entry %s: %s", folder, exc)
            return None
        if not isinstance(meta, dict) or meta.get("key") != key:
            logger.warning("ignoring cache entry %s: it is not the entry of its key", folder)
            return None
        return meta, arrays

    def save(
        self,
        kind: str,
        key: str,
        meta: Mapping[str, Any],
        arrays: Mapping[str, np.ndarray] | None = None,
    ) -> bool:
        """Write an entry (replacing any), atomically, and say whether it was written: a
        cache that cannot be written is logged and skipped, never a failed run. What a
        killed earlier write of the entry left is removed first."""
        parent = self.directory / kind
        staging: Path | None = None
        try:
            parent.mkdir(parents=True, exist_ok=True)
            for leftover in parent.glob(f".{key[:16]}-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=parent))
            payload = json.dumps({**meta, "key": key}, ensure_ascii=False, allow_nan=False)
            (staging / META).write_text(payload, encoding="utf-8")
            if arrays:
                members = {name: np.asarray(value) for name, value in arrays.items()}
                np.savez(staging / ARRAYS, allow_pickle=False, **members)
            target, old = self.entry(kind, key), staging.with_name(f"{staging.name}-old")
            if target.exists():  # moved aside, not deleted: a kill now loses no entry
                os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("could not write cache entry %s/%s: %s", kind, key, exc)
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            return False
        return True

    def discard(self, kind: str, key: str) -> None:
        """Remove an entry, if there is one (an entry that only served until another was
        written, such as a fine-tuning's checkpoint)."""
        shutil.rmtree(self.entry(kind, key), ignore_errors=True)


def fit_cache(cache_dir: str | Path | None) -> FitCache | None:
    """A :class:`FitCache` under ``cache_dir``, or None when caching is off."""
    return None if cache_dir is None else FitCache(cache_dir)


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
    cache = fit_cache(cache_dir)
    path = config.resolved_path()
    if cache is None or not path.exists():
        return load_corpus_from_config(config)  # missing data: it says where it looked
    settings = config.model_dump(mode="json")
    settings.pop("root", None)  # the same file under another root is the same data
    settings.pop("split", None)  # splitting happens after loading, except for the split field
    settings["split_field"] = corpus_kwargs(config)["split_field"]
    settings.pop("period", None)  # periods are taken after loading
    # drawn, added or used after loading
    for key in (
        "train_sample",
        "extra_train",
        "label_descriptions",
        "none_descriptions",
        "extra_test",
    ):
        settings.pop(key, None)
    if settings.get("date_field") is None:
        settings.pop("date_field", None)  # corpora without dates keep their cache entries
    key = cache.key("corpus", path_fingerprint(path), settings)
    entry = cache.load("corpus", key)
    cached = None if entry is None else _corpus_from_json(entry[0])
    if cached is not None:
        return cached
    loaded = load_corpus_from_config(config)
    payload = _corpus_to_json(loaded)
    # Only what JSON gives back unchanged is cached (a tuple in meta would come back a list).
    if _corpus_from_json(json.loads(json.dumps(payload))) == loaded:
        cache.save("corpus", key, payload)
    return loaded


def _corpus_to_json(loaded: Corpus) -> dict[str, Any]:
    return {
        "ids": loaded.ids,
        "texts": loaded.texts,
        "labels": [list(labels) for labels in loaded.labels],
        "label_names": list(loaded.label_names),
        "meta": loaded.meta,
    }


def _corpus_from_json(payload: dict[str, Any]) -> Corpus | None:
    """The cached corpus, or None when the entry is not a well-formed one."""
    ids, texts, labels = payload.get("ids"), payload.get("texts"), payload.get("labels")
    names, meta = payload.get("label_names"), payload.get("meta")
    if not (_strings(ids) and _strings(texts) and _strings(names) and isinstance(labels, list)):
        return None
    wanted = set(names)
    if not (
        len(ids) == len(texts) == len(labels)
        and all(isinstance(doc, list) and _strings(doc) and set(doc) <= wanted for doc in labels)
        and isinstance(meta, dict)
        and all(isinstance(v, list) and len(v) == len(texts) for v in meta.values())
    ):
        return None
    return corpus.Corpus(
        ids=ids,
        texts=texts,
        labels=[tuple(doc) for doc in labels],
        label_names=tuple(names),
        meta=meta,
    )


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_exists(path: Path, config: DataConfig) -> None:
    if not path.exists():
        raise DataError(
            f"data not found: {path} (data root {config.resolved_root()}: data.root, else "
            f"${DATA_ROOT_ENV}, else the current directory); point to it with "
            f"--set data.root=DIR or {DATA_ROOT_ENV}=DIR"
        )
