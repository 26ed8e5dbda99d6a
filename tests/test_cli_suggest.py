"""``topics suggest``: the file an editor fills in, and its way back into training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LABELS, REPO
from topics.cli.main import main
from topics.config import load_config
from topics.run.prepare import prepare
from topics.serve.bundle import load_bundle, save_bundle
from topics.serve.predictor import Predictor

ARCHIVE = REPO / "topics" / "sample_data" / "central_asia_news.jsonl"


@pytest.fixture
def model_dir(quickstart_run: Any) -> str:
    _, result = quickstart_run
    return str(result.artifact_dir / "model")


def suggest(model: str, output: Path, *extra: str, archive: Path = ARCHIVE) -> int:
    return main(["suggest", "--model", model, str(archive), "--output", str(output), *extra])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_suggest_picks_n_distinct_articles_covering_every_label(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "to-label.jsonl"
    assert suggest(model_dir, output, "--n", "12") == 0
    records = read_jsonl(output)
    assert len(records) == 12
    assert len({record["id"] for record in records}) == 12
    archive = {json.loads(line)["id"] for line in ARCHIVE.read_text().splitlines()}
    assert {record["id"] for record in records} <= archive
    for label in LABELS:  # the first picks go round-robin over the labels
        assert any(label in record["guess"] for record in records[: len(LABELS)]), label
    first = records[0]
    assert set(first) == {"id", "text", "labels", "reviewed", "guess", "scores", "why"}
    assert first["labels"] == [] and first["reviewed"] is False
    assert list(first["scores"]) == LABELS
    assert first["why"].startswith("uncertain about ")
    summary = capsys.readouterr().out.strip()
    assert summary.startswith(f"picked 12 of 248 documents (0 excluded or repeated) -> {output}")


def test_a_pick_from_a_long_article_quotes_the_passage_behind_its_label(
    model_dir: str, tmp_path: Path
) -> None:
    assert suggest(model_dir, tmp_path / "whole.jsonl", "--n", "8") == 0
    assert all("passage" not in record for record in read_jsonl(tmp_path / "whole.jsonl"))
    bundle = load_bundle(model_dir)  # the same model, scoring by passages of 15+ words
    by_passage = save_bundle(tmp_path / "model", {**bundle.spec, "passages": 15}, bundle.arrays, {})
    output = tmp_path / "to-label.jsonl"
    assert suggest(str(by_passage), output, "--n", "8") == 0
    quoted = [record for record in read_jsonl(output) if "passage" in record]
    assert quoted
    predictor = Predictor.load(by_passage)
    for record in quoted:  # "uncertain about LABEL (...)": that label's best passage
        label = record["why"].removeprefix("uncertain about ").split(" (")[0]
        assert label in predictor.labels
        assert " ".join(record["passage"].split()) in " ".join(record["text"].split())
        (alone,) = predictor.predict([record["passage"]], passages=0)
        assert round(alone["scores"][label], 4) == record["scores"][label]


def test_suggest_is_deterministic(model_dir: str, tmp_path: Path) -> None:
    assert suggest(model_dir, tmp_path / "a.jsonl", "--n", "8") == 0
    assert suggest(model_dir, tmp_path / "b.jsonl", "--n", "8") == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_suggest_excludes_the_ids_of_earlier_rounds(model_dir: str, tmp_path: Path) -> None:
    first, second = tmp_path / "round1.jsonl", tmp_path / "round2.jsonl"
    assert suggest(model_dir, first, "--n", "10") == 0
    assert suggest(model_dir, second, "--n", "10", "--exclude", str(first)) == 0
    before = {record["id"] for record in read_jsonl(first)}
    after = {record["id"] for record in read_jsonl(second)}
    assert len(after) == 10 and before.isdisjoint(after)


def test_suggest_refuses_to_overwrite_without_force(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "to-label.jsonl"
    output.write_text("the editor's work\n")
    assert suggest(model_dir, output, "--n", "3") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"topics: error: --output {output}: the file exists; pass --force to overwrite it, "
        "or choose another file"
    ]
    assert output.read_text() == "the editor's work\n"
    assert suggest(model_dir, output, "--n", "3", "--force") == 0
    assert len(read_jsonl(output)) == 3


def test_suggest_on_a_missing_archive_says_so_once(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "to-label.jsonl"
    missing = tmp_path / "nowhere.jsonl"
    assert suggest(model_dir, output, "--n", "3", archive=missing) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"topics: error: {missing}: no such file"
    ]
    assert not output.exists()


def test_suggest_on_an_empty_archive_says_what_to_check(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert suggest(model_dir, tmp_path / "to-label.jsonl", "--n", "3", archive=empty) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no document to suggest" in err[0], err


def test_suggest_reads_a_folder_of_text_files(model_dir: str, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    (folder / "2024").mkdir(parents=True)
    for n, line in enumerate(ARCHIVE.read_text().splitlines()[:6]):
        (folder / "2024" / f"{n}.txt").write_text(json.loads(line)["text"])
    output = tmp_path / "to-label.jsonl"
    assert suggest(model_dir, output, "--n", "4", archive=folder) == 0
    ids = [record["id"] for record in read_jsonl(output)]
    assert len(ids) == 4 and all(i.startswith("2024/") and i.endswith(".txt") for i in ids)


def test_suggested_file_filled_in_comes_back_into_training(model_dir: str, tmp_path: Path) -> None:
    output = tmp_path / "to-label.jsonl"
    assert suggest(model_dir, output, "--n", "6") == 0
    records = read_jsonl(output)
    filled = {}
    for n, record in enumerate(records):
        if n == len(records) - 1:
            continue  # the editor did not get to the last one
        record["labels"] = ["transport"] if n % 2 else []
        record["reviewed"] = True
        filled[record["id"]] = tuple(record["labels"])
    output.write_text("".join(json.dumps(record) + "\n" for record in records))
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [f"data.extra_train=[{json.dumps(str(output))}]", "tracking.enabled=false"],
    )
    prepared = prepare(config)
    in_train = dict(zip(prepared.train.ids, prepared.train.labels, strict=True))
    assert {doc_id: in_train[doc_id] for doc_id in filled} == filled
    assert records[-1]["id"] not in prepared.train.ids[-len(filled) :]
    assert set(filled).isdisjoint(prepared.test.ids)


def test_suggest_on_a_bundle_imports_nothing_heavy(model_dir: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import HEAVY

    earlier = tmp_path / "round1.jsonl"
    earlier.write_text(json.dumps({"id": "can-0001", "text": "x", "labels": []}) + "\n")
    argv = ["suggest", "--model", model_dir, str(ARCHIVE), "--n", "3"]
    argv += ["--output", str(tmp_path / "out.jsonl"), "--exclude", str(earlier)]
    code = (
        "import sys\nfrom topics.cli.main import main\n"
        f"assert main({argv!r}) == 0\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
