"""Labelled rounds taken back into training: reading, merging, and the run's data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LABELS, tiny_config
from topics.cli.main import main
from topics.config import config_hash, validate_config
from topics.data.corpus import Corpus
from topics.data.rounds import merge_rounds, read_rounds
from topics.errors import DataError
from topics.run.prepare import prepare


def write_round(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def record(doc_id: str, labels: list[str], text: str = "rail cargo", **extra: Any) -> dict:
    return {"id": doc_id, "text": text, "labels": labels, **extra}


def test_a_later_file_wins_over_an_earlier_one_for_the_same_id(tmp_path: Path) -> None:
    first = write_round(
        tmp_path / "round1.jsonl",
        [record("a", ["economy"], "tenge"), record("b", ["defense"], "army")],
    )
    second = write_round(tmp_path / "round2.jsonl", [record("a", ["transport"], "rail")])
    rounds = read_rounds([first, second], labels=LABELS)
    assert dict(zip(rounds.corpus.ids, rounds.corpus.labels, strict=True)) == {
        "b": ("defense",),
        "a": ("transport",),
    }
    assert rounds.corpus.texts[rounds.corpus.ids.index("a")] == "rail"
    swapped = read_rounds([second, first], labels=LABELS)
    assert swapped.corpus.labels[swapped.corpus.ids.index("a")] == ("economy",)


def test_unreviewed_records_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write_round(
        tmp_path / "to-label.jsonl",
        [
            record("a", [], reviewed=False, guess=["economy"]),
            record("b", [], reviewed=True),  # none of the labels
            record("c", ["defense"], reviewed=False),  # labelled: the labels count
            record("d", []),  # no reviewed field: none of the labels
            record("e", [], reviewed=False),
        ],
    )
    rounds = read_rounds([path], labels=LABELS)
    assert rounds.corpus.ids == ["b", "c", "d"]
    assert rounds.corpus.labels == [(), ("defense",), ()]
    assert rounds.unreviewed == {"to-label.jsonl": 2}


def test_a_label_not_in_data_labels_names_file_line_and_the_allowed_ones(tmp_path: Path) -> None:
    path = write_round(tmp_path / "r.jsonl", [record("a", ["economy"]), record("b", ["sport"])])
    with pytest.raises(DataError) as caught:
        read_rounds([path], labels=LABELS)
    assert str(caught.value) == (
        f"{path}:2: label 'sport' is not one of data.labels {LABELS}; fix the label in the file"
    )


def test_title_is_joined_before_text_as_the_readers_do(tmp_path: Path) -> None:
    path = write_round(tmp_path / "r.jsonl", [record("a", [], "Body", title="Head")])
    assert read_rounds([path], labels=LABELS).corpus.texts == ["Head. Body"]


def test_merge_replaces_corpus_documents_wherever_they_are() -> None:
    def corpus(ids: list[str]) -> Corpus:
        return Corpus(ids, [f"old {i}" for i in ids], [("economy",)] * len(ids), tuple(LABELS))

    rounds = Corpus(["t2", "x", "u1"], ["new t2", "new x", "new u1"], [()] * 3, tuple(LABELS))
    merged = merge_rounds(corpus(["t1", "t2"]), corpus(["x", "y"]), corpus(["u1", "u2"]), rounds)
    assert merged.train.ids == ["t1", "t2", "x", "u1"]
    assert merged.train.texts[1:] == ["new t2", "new x", "new u1"]
    assert merged.test.ids == ["y"]
    assert merged.unlabelled is not None and merged.unlabelled.ids == ["u2"]
    assert (merged.replaced_train, merged.moved_from_test, merged.left_unlabelled) == (1, 1, 1)


def rounds_config(tmp_path: Path, files: list[str], **data: Any) -> Any:
    sections = {"data": {"extra_train": files, **data}, "model": {"lda": {"enabled": False}}}
    return validate_config(tiny_config(tmp_path, **sections))


def test_extra_train_documents_are_added_to_train_after_the_sample(tmp_path: Path) -> None:
    plain = prepare(rounds_config(tmp_path, [], train_sample={"per_label": 2, "seed": 1}))
    assert plain.unlabelled is not None
    pooled = plain.unlabelled.ids[0]
    path = write_round(
        tmp_path / "round1.jsonl",
        [record(pooled, ["defense"], "army drills"), record("new-1", ["transport"])],
    )
    config = rounds_config(tmp_path, [str(path)], train_sample={"per_label": 2, "seed": 1})
    prepared = prepare(config)
    assert prepared.train.ids == plain.train.ids + [pooled, "new-1"]  # the sample is kept
    assert prepared.train.labels[-2:] == [("defense",), ("transport",)]
    assert prepared.unlabelled is not None and pooled not in prepared.unlabelled.ids
    assert prepared.test.ids == plain.test.ids


def test_editing_a_round_file_changes_the_data_fingerprint(tmp_path: Path) -> None:
    path = write_round(tmp_path / "round1.jsonl", [record("new-1", ["transport"])])
    config = rounds_config(tmp_path, ["round1.jsonl"], root=str(tmp_path))
    before = prepare(config)
    write_round(path, [record("new-1", ["economy"])])
    after = prepare(config)
    assert before.fingerprint != after.fingerprint != before.corpus.fingerprint()
    assert after.train.labels[-1] == ("economy",)
    assert before.config_hash == after.config_hash


def test_labelled_flag_appends_to_extra_train_and_changes_hash_and_run_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import topics.run.experiment

    seen: dict[str, Any] = {}

    def fake_run(config: Any, tracker: Any, experiment_file: Any, run_name: str) -> Any:
        seen.update(config=config, run_name=run_name)
        raise DataError("stop here")

    monkeypatch.setattr(topics.run.experiment, "run", fake_run)
    import yaml

    experiment = tmp_path / "exp.yaml"
    experiment.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    first = write_round(tmp_path / "round1.jsonl", [record("n", ["economy"])])
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(experiment), "--labelled", "round1.jsonl", "--no-track"]) == 2
    assert seen["config"].data.extra_train == [str(first.resolve())]
    assert seen["run_name"] == "tiny labelled=round1.jsonl"
    plain = validate_config(tiny_config(tmp_path))
    assert config_hash(seen["config"]) != config_hash(plain)


def test_a_bad_label_in_a_labelled_file_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    experiment = tmp_path / "exp.yaml"
    experiment.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    bad = write_round(tmp_path / "round1.jsonl", [record("n", ["sport"])])
    assert main(["run", str(experiment), "--labelled", str(bad), "--no-track"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"topics: error: {bad.resolve()}:1: label 'sport' is not one of")


def test_unreviewed_records_are_one_warning_line_in_a_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_round(
        tmp_path / "to-label.jsonl",
        [record("a", [], reviewed=False), record("b", [], reviewed=False), record("c", [])],
    )
    with caplog.at_level("WARNING", logger="topics"):
        prepared = prepare(rounds_config(tmp_path, ["to-label.jsonl"], root=str(tmp_path)))
    assert prepared.train.ids[-1] == "c"
    assert [r.getMessage() for r in caplog.records] == [
        'data.extra_train: to-label.jsonl: 2 record(s) not labelled yet ("labels": [] and '
        '"reviewed": false), skipped'
    ]


def test_extra_train_with_fine_labels_is_one_config_error(tmp_path: Path) -> None:
    from topics.errors import ConfigError

    write_round(tmp_path / "round1.jsonl", [record("n", ["economy"])])
    config = rounds_config(
        tmp_path,
        ["round1.jsonl"],
        root=str(tmp_path),
        label_map={"economy": "economy", "defense": "defense", "human rights": "human rights"}
        | {"transport": "transport"},
    )
    config.model.tfidf.fine_labels = True
    with pytest.raises(ConfigError, match=r"^model.tfidf.fine_labels learns the source classes"):
        prepare(config)
