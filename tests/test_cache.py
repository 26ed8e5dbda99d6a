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
    # Every data key but where the files are and how it is split reaches the reader.
    where = {"name", "root", "path", "test_path", "validation_path", "split"}
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
