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


def sample_config(tmp_path: Path, **sample: Any) -> Any:
    sections = {"data": {"train_sample": sample}, "model": {"lda": {"enabled": False}}}
    return validate_config(tiny_config(tmp_path, **sections))


def test_train_sample_draws_from_train_and_leaves_the_rest_unlabelled(tmp_path: Path) -> None:
    whole = prepare(validate_config(tiny_config(tmp_path)))
    prepared = prepare(sample_config(tmp_path, per_label=2, none=1, seed=3))
    assert prepared.test.ids == whole.test.ids  # the test part is untouched
    assert len(prepared.train) == 2 * 4 + 1
    assert set(prepared.train.ids) <= set(whole.train.ids)
    assert prepared.unlabelled is not None
    assert sorted(prepared.train.ids + prepared.unlabelled.ids) == sorted(whole.train.ids)
    assert not any(prepared.unlabelled.labels)  # an archive: texts without labels
    assert sum(1 for labels in prepared.train.labels if not labels) == 1
    again = prepare(sample_config(tmp_path, per_label=2, none=1, seed=3))
    other = prepare(sample_config(tmp_path, per_label=2, none=1, seed=4))
    assert again.train.ids == prepared.train.ids
    assert other.train.ids != prepared.train.ids


def test_train_sample_seed_defaults_to_the_experiment_seed(tmp_path: Path) -> None:
    config = sample_config(tmp_path, per_label=2)
    assert config.data.train_sample.none is None and config.sample_seed() == config.seed
    named = prepare(sample_config(tmp_path, per_label=2, seed=config.seed))
    assert prepare(config).train.ids == named.train.ids
    assert len(named.train) == 2 * 4 + 2  # none: as many as per_label


def test_train_sample_short_label_takes_all_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="topics"):
        prepared = prepare(sample_config(tmp_path, per_label=2, none=9))
    unlabelled_in_train = 3 - sum(1 for labels in prepared.test.labels if not labels)
    assert sum(1 for labels in prepared.train.labels if not labels) == unlabelled_in_train
    lines = [r.getMessage() for r in caplog.records if "train_sample" in r.getMessage()]
    assert lines == [
        f"data.train_sample: {unlabelled_in_train} documents without a label left in train, "
        f"fewer than none: 9; took all {unlabelled_in_train}"
    ]


def test_train_sample_line_counts_the_draw(tmp_path: Path) -> None:
    import io

    from topics import progress

    stream = io.StringIO()
    with progress.report_stages(stream):
        prepared = prepare(sample_config(tmp_path, per_label=2, none=1, seed=3))
    assert prepared.unlabelled is not None
    n_train = len(prepared.train) + len(prepared.unlabelled)
    expected = (
        f"train sample: 2 per label + 1 none = 9 of {n_train} train documents (seed 3); "
        f"{n_train - 9} unlabelled"
    )
    assert expected in stream.getvalue()


def test_zero_shot_sample_is_one_error_for_families_that_need_labels(tmp_path: Path) -> None:
    from topics.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^model.tfidf needs labelled training documents; "):
        prepare(sample_config(tmp_path, per_label=0, none=0))


def test_zero_shot_sample_passes_preflight_for_families_without_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from topics.families import FAMILIES

    monkeypatch.setattr(FAMILIES["tfidf"], "needs_labels", False)
    prepared = prepare(sample_config(tmp_path, per_label=0, none=0))
    assert len(prepared.train) == 0
    assert prepared.unlabelled is not None and len(prepared.unlabelled) > 0


def test_a_run_gives_families_the_unlabelled_texts_and_tracks_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import topics.run.train

    seen: list[Any] = []
    fit_families = topics.run.train.fit_families

    def recording(config: Any, data: Any, labels: Any) -> Any:
        seen.append(data)
        return fit_families(config, data, labels)

    monkeypatch.setattr(topics.run.train, "fit_families", recording)
    config = sample_config(tmp_path, per_label=3, none=1, seed=2)
    tracker = RecordingTracker()
    run(config, tracker)
    prepared = prepare(config)
    assert prepared.unlabelled is not None
    assert seen[0].texts == prepared.train.texts
    assert seen[0].unlabelled == prepared.unlabelled.texts
    assert tracker.params["data.train_sample.per_label"] == 3
    assert tracker.params["data.train_sample.seed"] == 2
    assert tracker.params["n_unlabelled"] == len(prepared.unlabelled)


def test_train_sample_changes_the_config_hash(tmp_path: Path) -> None:
    plain = validate_config(tiny_config(tmp_path, model={"lda": {"enabled": False}}))
    assert config_hash(plain) != config_hash(sample_config(tmp_path, per_label=2))
    assert config_hash(sample_config(tmp_path, per_label=2)) != config_hash(
        sample_config(tmp_path, per_label=3)
    )


def test_train_sample_with_kfold_is_a_config_error(tmp_path: Path) -> None:
    from topics.errors import ConfigError

    data = tiny_config(
        tmp_path, data={"train_sample": {"per_label": 2}, "split": {"kind": "kfold"}}
    )
    with pytest.raises(ConfigError, match="train_sample changes one train part"):
        validate_config(data)


def test_a_new_train_sample_reuses_the_cached_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = counting_loads(monkeypatch)
    for per_label in (2, 3):
        sections = {
            "cache_dir": str(tmp_path / "cache"),
            "data": {"train_sample": {"per_label": per_label}},
        }
        prepare(validate_config(tiny_config(tmp_path, **sections)))
    assert parsed == ["tiny.jsonl"]
