from __future__ import annotations

import json
from pathlib import Path

import pytest

import topics.data.corpus
from topics.config import DataConfig
from topics.run.cache import load_corpus_cached


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

    def no_parsing(config: DataConfig) -> None:
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
