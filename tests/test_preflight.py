from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pytest

from tests.conftest import RecordingTracker, tiny_config
from topics.config import validate_config
from topics.errors import ConfigError, DataError
from topics.run.cache import load_corpus_from_config
from topics.run.experiment import run
from topics.run.preflight import check_model_folders, check_training_data


def test_k_larger_than_the_vocabulary_is_rejected_before_a_run(tmp_path: Path) -> None:
    tracker = RecordingTracker()
    config = validate_config(tiny_config(tmp_path, model={"lda": {"num_topics": 5000}}))
    with pytest.raises(ConfigError, match=r"model.lda.num_topics: 5000 topics but only \d+ words"):
        run(config, tracker)
    assert tracker.calls == []


def test_a_label_missing_from_the_training_split_is_rejected(tmp_path: Path) -> None:
    config = validate_config(tiny_config(tmp_path))
    corpus = load_corpus_from_config(config.data)
    without_transport = [i for i, labels in enumerate(corpus.labels) if "transport" not in labels]
    with pytest.raises(DataError, match="label 'transport' has 0 positive"):
        check_training_data(config, corpus.subset(without_transport))


def test_all_documents_in_one_class_is_rejected(tmp_path: Path) -> None:
    data = tiny_config(tmp_path)
    path = Path(data["data"]["path"])
    path.write_text(path.read_text().replace('"labels": []', '"labels": ["economy"]'))
    data["data"]["labels"] = ["economy"]
    text = path.read_text()
    for label in ("defense", "human rights", "transport"):
        text = text.replace(f'"{label}"', '"economy"')
    path.write_text(text)
    with pytest.raises(DataError, match="label 'economy' has \\d+ positive and 0 negative"):
        run(validate_config(data), RecordingTracker())


def test_documents_without_words_only_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tiny_config(tmp_path, model={"tfidf": {"enabled": True}})
    path = Path(data["data"]["path"])
    with path.open("a") as handle:
        for i in range(3):
            handle.write(f'{{"id": "blank-{i}", "title": "", "text": "42 - 17", "labels": []}}\n')
    with caplog.at_level(logging.WARNING, logger="topics"):
        run(validate_config(data), RecordingTracker())
    assert any("have no words left for the topic model" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    "section",
    [
        {"encoder": {"enabled": True}},
        {"embedding_topics": {"enabled": True, "num_topics": 2}},
        {"few_shot": {"enabled": True, "seed_words": {"economy": ["bank"]}}},
        {"static": {"enabled": True}},
    ],
    ids=["encoder", "embedding_topics", "few_shot", "static"],
)
def test_families_trained_with_torch_are_rejected_before_the_data_is_read_without_it(
    section: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "torch" else real_find_spec(name, *args),
    )
    tracker = RecordingTracker()
    data = tiny_config(tmp_path, model=section)
    config = validate_config(data)
    Path(data["data"]["path"]).unlink()  # read, it would fail with a missing-file error
    [family] = section
    with pytest.raises(
        ConfigError, match=rf"model.{family} needs torch: pip install 'topics\[encoder\]'"
    ):
        run(config, tracker)
    assert tracker.calls == []


def test_a_mistyped_model_folder_is_rejected_before_the_data_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("topics.run.prepare.check_installed", lambda config: None)
    missing = tmp_path / "all-mpnet-base-v2-typo"
    few_shot = {"enabled": True, "seed_words": {"economy": ["bank"]}}
    data = tiny_config(
        tmp_path, model={"few_shot": {**few_shot, "encoder_pretrained": str(missing)}}
    )
    config = validate_config(data)
    Path(data["data"]["path"]).unlink()  # read, it would fail with a missing-file error
    tracker = RecordingTracker()
    with pytest.raises(
        ConfigError, match=rf"model.few_shot.encoder_pretrained: {missing} is not a saved model"
    ):
        run(config, tracker)
    assert tracker.calls == []


def test_a_folder_that_holds_no_model_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "encoder"
    folder.mkdir()
    config = validate_config(
        tiny_config(tmp_path, model={"encoder": {"enabled": True, "pretrained": str(folder)}})
    )
    with pytest.raises(ConfigError, match=r"model.encoder.pretrained: .* \(no config.json"):
        check_model_folders(config)
    (folder / "config.json").write_text("{}")
    check_model_folders(config)  # a saved model's folder passes


def test_hub_ids_and_disabled_families_are_left_to_the_load(tmp_path: Path) -> None:
    config = validate_config(
        tiny_config(
            tmp_path,
            model={
                "encoder": {"enabled": True, "pretrained": "someone/not-on-this-machine"},
                "few_shot": {"enabled": False, "pretrained": "/no/such/folder"},
            },
        )
    )
    check_model_folders(config)
