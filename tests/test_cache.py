from __future__ import annotations

import json
from pathlib import Path

import pytest

import topics.data.corpus
from tests.conftest import LABELS
from topics.config import DataConfig, SplitConfig
from topics.data.corpus import load_corpus
from topics.data.splits import split_indices
from topics.errors import DataError
from topics.run.cache import (
    corpus_kwargs,
    load_corpus_cached,
    load_corpus_from_config,
    split_kwargs,
)


def _write(path: Path, texts: list[str]) -> None:
    rows = [{"id": str(i), "text": t, "labels": ["economy"]} for i, t in enumerate(texts)]
    path.write_text("\n".join(json.dumps(r) for r in rows))


def test_second_load_comes_from_the_cache_and_changes_invalidate_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, cache = tmp_path / "a.jsonl", tmp_path / "cache"
    _write(data, ["one", "two"])
    config = DataConfig(path=str(data), labels=["economy"], text_fields=["text"])
    first = load_corpus_cached(config, cache)

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(topics.data.corpus, "load_corpus", no_parsing)
    assert load_corpus_cached(config, cache).texts == first.texts == ["one", "two"]
    other_root = config.model_copy(update={"root": str(tmp_path / "elsewhere")})
    assert load_corpus_cached(other_root, cache).ids == first.ids  # same bytes, same config
    with pytest.raises(AssertionError, match="parsed again"):
        load_corpus_cached(config.model_copy(update={"id_field": None}), cache)
    _write(data, ["one", "changed"])
    with pytest.raises(AssertionError, match="parsed again"):
        load_corpus_cached(config, cache)
    monkeypatch.undo()
    assert load_corpus_cached(config, cache).texts == ["one", "changed"]


def test_cache_is_safe_to_delete_and_can_be_off(tmp_path: Path) -> None:
    import shutil

    data, cache = tmp_path / "a.jsonl", tmp_path / "cache"
    _write(data, ["one", "two"])
    config = DataConfig(path=str(data), labels=["economy"], text_fields=["text"])
    load_corpus_cached(config, cache)
    shutil.rmtree(cache)
    assert len(load_corpus_cached(config, cache)) == 2
    assert len(load_corpus_cached(config, None)) == 2


def test_missing_path_says_where_it_looked(tmp_path: Path) -> None:
    config = DataConfig(path="nope.jsonl", root=str(tmp_path), labels=LABELS)
    with pytest.raises(DataError, match="TOPICS_DATA_DIR") as info:
        load_corpus_from_config(config)
    assert str(tmp_path / "nope.jsonl") in str(info.value)


@pytest.mark.parametrize("cache_dir", [None, "cache"], ids=["uncached", "cached"])
def test_missing_data_names_the_path_and_how_to_point_elsewhere(
    tmp_path: Path, cache_dir: str | None
) -> None:
    config = DataConfig(path="nyt-cap/x.csv", root=str(tmp_path), labels=LABELS)
    with pytest.raises(DataError) as info:
        load_corpus_cached(config, cache_dir and tmp_path / cache_dir)
    message = str(info.value)
    assert str(tmp_path / "nyt-cap" / "x.csv") in message
    assert "TOPICS_DATA_DIR" in message and "data.root" in message and "\n" not in message


def test_corpus_kwargs_cover_every_data_key_the_reader_takes(tmp_path: Path) -> None:
    import inspect

    path = tmp_path / "a.jsonl"
    _write(path, ["one", "two"])
    config = DataConfig(
        path=str(path),
        labels=["economy"],
        text_fields=["text"],
        label_map={"economy": "economy"},
        split={"kind": "temporal", "train_until": 2000, "field": "published"},
    )
    kwargs = corpus_kwargs(config)
    reader = inspect.signature(load_corpus).parameters
    assert set(kwargs) == set(reader) - {"path"}
    # Every data key but where the files are, how it is split, the period of its
    # dates, the train sample, the labelled rounds, the label and none descriptions
    # and the extra test sets (all taken after loading) reaches the reader.
    where = {"name", "root", "path", "test_path", "validation_path", "split", "period"}
    where |= {"train_sample", "extra_train", "label_descriptions", "none_descriptions"}
    where |= {"extra_test"}
    assert set(DataConfig.model_fields) - where <= set(kwargs)
    assert kwargs["split_field"] == "published" and kwargs["label_map"] == {"economy": "economy"}
    assert load_corpus_from_config(config.model_copy(update={"split": SplitConfig()})).texts == [
        "one",
        "two",
    ]


def test_split_kwargs_are_the_splitter_arguments() -> None:
    import inspect

    kwargs = split_kwargs(SplitConfig(kind="temporal", train_until=2003), seed=4)
    assert set(kwargs) == set(inspect.signature(split_indices).parameters) - {"corpus"}
    assert kwargs["seed"] == 4 and kwargs["train_until"] == 2003 and kwargs["kind"] == "temporal"


class _Planted:
    """Unpickling it creates ``marker``: proof that a cache entry ran as code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


def _plant_pickles(cache: Path, marker: Path) -> int:
    """Replace every file of ``cache`` by a pickle that would create ``marker``:
    ``.npz`` files by an archive holding a pickled (object) array, the rest by
    pickle bytes (what joblib's ``output.pkl`` held)."""
    import pickle

    import numpy as np

    files = [path for path in cache.rglob("*") if path.is_file()]
    for path in files:
        if path.suffix == ".npz":
            with path.open("wb") as handle:
                np.savez(handle, idf=np.array([_Planted(marker)], dtype=object))
        else:
            path.write_bytes(pickle.dumps(_Planted(marker)))
    return len(files)


def _tfidf_run(tmp_path: Path) -> tuple[object, Path]:
    from tests.conftest import tiny_config
    from topics.config import validate_config

    cache = tmp_path / "cache"
    raw = tiny_config(tmp_path, cache_dir=str(cache), model={"lda": {"enabled": False}})
    return validate_config(raw), cache


def _quality(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.endswith("_seconds")}


def test_planted_pickle_in_cache_is_never_loaded(tmp_path: Path) -> None:
    """A pickle planted in the cache (``cache_dir`` may come with someone else's
    experiment folder) is never loaded: the run ignores the entry, refits and finishes."""
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    config, cache = _tfidf_run(tmp_path)
    first = run(config, NullTracker())  # type: ignore[arg-type]
    marker = tmp_path / "planted-code-ran"
    assert _plant_pickles(cache, marker) >= 3  # the corpus and the TF-IDF entries
    second = run(config, NullTracker())  # type: ignore[arg-type]
    assert not marker.exists()
    assert _quality(second.metrics) == _quality(first.metrics)
    stored = [path for path in cache.rglob("*") if path.is_file()]
    assert {path.suffix for path in stored} <= {".json", ".npz"}  # rebuilt, and no pickle


def test_second_run_skips_loading_and_tfidf_fitting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from topics.run.experiment import run
    from topics.run.trackers import NullTracker
    from topics.serve.bundle import load_bundle

    config, _ = _tfidf_run(tmp_path)
    first = run(config, NullTracker())  # type: ignore[arg-type]

    def refit(*args: object, **kwargs: object) -> None:
        raise AssertionError("loaded or fitted again")

    monkeypatch.setattr(topics.data.corpus, "load_corpus", refit)
    monkeypatch.setattr(TfidfVectorizer, "fit_transform", refit)
    monkeypatch.setattr(TfidfVectorizer, "fit", refit)
    second = run(config, NullTracker())  # type: ignore[arg-type]
    assert _quality(second.metrics) == _quality(first.metrics)
    manifests = [load_bundle(r.artifact_dir / "model").manifest for r in (first, second)]
    assert manifests[0]["files"] == manifests[1]["files"]  # the same bundle bytes


def test_cache_entry_that_does_not_check_out_is_a_miss(tmp_path: Path) -> None:
    import numpy as np

    from topics.run.cache import FitCache

    cache = FitCache(tmp_path)
    key = cache.key("tfidf", {"min_df": 1}, "digest")
    cache.save("tfidf", key, {"vocabulary": ["rail"]}, {"idf": np.ones(1)})
    meta, arrays = cache.load("tfidf", key) or ({}, {})
    assert meta["vocabulary"] == ["rail"] and arrays["idf"].tolist() == [1.0]
    other = cache.key("tfidf", {"min_df": 2}, "digest")
    assert other != key and cache.load("tfidf", other) is None
    # an entry copied under another key's name is not that key's entry
    cache.entry("tfidf", key).rename(cache.entry("tfidf", other))
    assert cache.load("tfidf", other) is None
    cache.entry("tfidf", other).joinpath("meta.json").write_text("[" * 100_000)
    assert cache.load("tfidf", other) is None


def test_replacing_an_entry_leaves_nothing_behind(tmp_path: Path) -> None:
    """An entry saved again replaces the old one; what a write killed half-way left
    (its staging folder) goes with the next write of the entry."""
    import numpy as np

    from topics.run.cache import FitCache

    cache = FitCache(tmp_path)
    key = cache.key("encoder-checkpoint", "settings")
    killed = tmp_path / "encoder-checkpoint" / f".{key[:16]}-killed"
    killed.mkdir(parents=True)
    (killed / "arrays.npz").write_bytes(b"half")
    for step in (1, 2):
        cache.save("encoder-checkpoint", key, {"step": step}, {"w": np.full(3, step)})
    meta, arrays = cache.load("encoder-checkpoint", key) or ({}, {})
    assert meta["step"] == 2 and arrays["w"].tolist() == [2, 2, 2]
    assert [p.name for p in (tmp_path / "encoder-checkpoint").iterdir()] == [key]
    cache.discard("encoder-checkpoint", key)
    assert cache.load("encoder-checkpoint", key) is None


def test_an_entry_that_cannot_be_written_is_reported_and_keeps_the_old_one(
    tmp_path: Path,
) -> None:
    """``save`` says whether the entry was written; one that cannot be (here: an array
    numpy cannot store without a pickle) leaves the entry before it as it was."""
    import numpy as np

    from topics.run.cache import FitCache

    cache = FitCache(tmp_path)
    key = cache.key("encoder-checkpoint", "settings")
    assert cache.save("encoder-checkpoint", key, {"step": 1}, {"w": np.ones(2)}) is True
    unsaveable = {"w": np.array([{"a": 1}], dtype=object)}
    assert cache.save("encoder-checkpoint", key, {"step": 2}, unsaveable) is False
    meta, arrays = cache.load("encoder-checkpoint", key) or ({}, {})
    assert meta["step"] == 1 and arrays["w"].tolist() == [1.0, 1.0]
    assert [p.name for p in (tmp_path / "encoder-checkpoint").iterdir()] == [key]
