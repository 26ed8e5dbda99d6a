"""The one prepare step: a run and every sweep trial load, split and fingerprint alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import topics.data.corpus
from tests.conftest import RecordingTracker, tiny_config
from topics.config import config_hash, validate_config
from topics.errors import DataError
from topics.run.experiment import run
from topics.run.prepare import prepare
from topics.run.sweep import expand_trials, run_trial


def counting_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every real parse of a data file (a cache hit parses nothing)."""
    parsed: list[str] = []
    load_corpus = topics.data.corpus.load_corpus

    def counting(path: Any, **options: Any) -> Any:
        parsed.append(Path(path).name)
        return load_corpus(path, **options)

    monkeypatch.setattr(topics.data.corpus, "load_corpus", counting)
    return parsed


def test_prepare_splits_checks_and_fingerprints(tmp_path: Path) -> None:
    config = validate_config(tiny_config(tmp_path, cache_dir=str(tmp_path / "cache")))
    prepared = prepare(config)
    assert len(prepared.train) + len(prepared.test) == len(prepared.corpus)
    assert set(prepared.train.ids).isdisjoint(prepared.test.ids)
    assert prepared.fingerprint == prepared.corpus.fingerprint()
    assert prepared.config_hash == config_hash(config)
    again = prepare(config)
    assert (again.train.ids, again.test.ids) == (prepared.train.ids, prepared.test.ids)


def test_prepare_runs_the_preflight_checks(tmp_path: Path) -> None:
    data = tiny_config(tmp_path)
    data["data"]["labels"] = ["economy", "weather"]
    with pytest.raises(DataError, match="weather"):
        prepare(validate_config(data))


def test_a_trial_gets_the_same_cached_corpus_and_fingerprint_as_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = counting_loads(monkeypatch)
    sections = {"cache_dir": str(tmp_path / "cache"), "model": {"lda": {"enabled": False}}}
    config = validate_config(tiny_config(tmp_path, **sections))
    tracker = RecordingTracker()
    run(config, tracker)
    assert parsed == ["tiny.jsonl"]  # the run parsed the file once, into the cache

    swept = validate_config(
        tiny_config(tmp_path, sweep={"grid": {"model.tfidf.C": [0.5]}}, **sections)
    )
    trial = expand_trials(swept)[0]
    result = run_trial(trial, validation_size=None)
    assert result.error is None
    assert parsed == ["tiny.jsonl"]  # the trial read the run's cached parse
    assert result.data_fingerprint == tracker.tags["topics.data_fingerprint"]
    manifest = json.loads(result.files["model/manifest.json"])
    assert manifest["data_fingerprint"] == tracker.tags["topics.data_fingerprint"]
    assert manifest["config_hash"] == config_hash(trial.config)
