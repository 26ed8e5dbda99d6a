"""``topics init DATA_PATH``: a working experiment file from data the toolkit never saw."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import LABELS, write_tiny_jsonl
from topics.cli.main import main
from topics.config import load_config
from topics.data.sniff import sniff
from topics.run.prepare import load_data

AG_NEWS = [  # class index, title, description; no header row
    ("3", "Wall St. Bears Claw Back Into the Black", "Short-sellers are seeing green again."),
    ("4", "Carlyle Looks Toward Commercial Aerospace", "A private investment firm bets on it."),
    ("2", "Phelps Wins Again in the Pool", "The swimmer took his fifth gold medal."),
    ("1", "Troops Deploy Near the Border Overnight", "Army units moved as talks stalled."),
    ("3", "Oil and Economy Cloud Stocks' Outlook", "Soaring crude prices worry investors."),
    ("2", "Late Goal Sends the Home Side Through", "Fans celebrated a dramatic win."),
]


def _init(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["init", *args]) == 0
    return capsys.readouterr().out


def test_init_writes_an_experiment_that_runs_as_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # artifacts/ and the cache land here
    data = write_tiny_jsonl(tmp_path / "news.jsonl", copies=3)
    out = _init(capsys, str(data))
    assert out.startswith("wrote news.yaml: jsonl, 54 documents, 4 labels (multi-label)")
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == ["label", "documents", "share"]
    rows = [re.match(r"(.+?)\s{2,}([\d,]+)", line) for line in table[1:]]
    assert {row.group(1): row.group(2) for row in rows if row} == {
        "economy": "15",
        "defense": "12",
        "human rights": "12",
        "transport": "15",
        "(none)": "3",
    }
    written = yaml.safe_load(Path("news.yaml").read_text())
    assert written["data"]["text_fields"] == ["title", "text"]
    assert written["data"]["label_field"] == "labels" and written["data"]["id_field"] == "id"
    assert sorted(written["data"]["labels"]) == sorted(LABELS)
    assert main(["run", "news.yaml", "--no-track", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["metrics"]["test_micro_f1"] > 0.5


def test_init_names_the_columns_of_a_headerless_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "ag_news_train.csv"
    data.write_text("".join(f'"{c}","{t}","{d}"\n' for c, t, d in AG_NEWS))
    out = _init(capsys, str(data), "-o", str(tmp_path / "ag.yaml"))
    assert "csv without a header row, 6 documents, 4 labels (single-label)" in out
    config = load_config(tmp_path / "ag.yaml")
    assert config.data.columns == ["label", "title", "text"]
    assert config.data.label_field == "label" and config.data.single_label
    assert config.data.labels == ["2", "3", "1", "4"]  # most documents first
    corpus = load_data(config)
    assert len(corpus) == 6  # the first row is a document
    assert (
        corpus.texts[0]
        == "Wall St. Bears Claw Back Into the Black. Short-sellers are seeing green again."
    )


def test_init_on_a_folder_with_a_latin1_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for label, name, text in [
        ("business", "001.txt", "Shares rose as profits grew at the bank."),
        ("sport", "199.txt", "Café owner wins the derby in extra time."),
        ("sport", "200.txt", "The team won the cup final at home."),
    ]:
        (tmp_path / "bbc" / label).mkdir(parents=True, exist_ok=True)
        encoding = "latin-1" if name == "199.txt" else "utf-8"
        (tmp_path / "bbc" / label / name).write_bytes(text.encode(encoding))
    out = _init(capsys, str(tmp_path / "bbc"), "-o", str(tmp_path / "bbc.yaml"))
    assert "folder, 3 documents, 2 labels (single-label)" in out
    text = (tmp_path / "bbc.yaml").read_text()
    assert "1 file(s) have bytes that are not UTF-8 (sport/199.txt)" in text
    config = load_config(tmp_path / "bbc.yaml")
    assert config.data.encoding_errors == "replace"
    assert config.data.labels == ["sport", "business"]
    assert len(load_data(config)) == 3


def test_init_finds_the_test_file_beside_train(tmp_path: Path) -> None:
    write_tiny_jsonl(tmp_path / "train.jsonl")
    test = write_tiny_jsonl(tmp_path / "test.jsonl", copies=1)
    assert sniff(tmp_path / "train.jsonl").test_path == test


def test_init_refuses_to_overwrite_and_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_tiny_jsonl(tmp_path / "news.jsonl")
    target = tmp_path / "news.yaml"
    target.write_text("mine")
    assert main(["init", str(data), "-o", str(target)]) == 2
    assert f"{target} exists; pass --force" in capsys.readouterr().err
    assert target.read_text() == "mine"
