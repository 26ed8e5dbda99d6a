from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest

from tests.conftest import LABELS, shared_data
from topics.config import DataConfig
from topics.data.corpus import FORMATS, load_corpus
from topics.errors import DataError


def test_jsonl_joins_text_fields_and_keeps_configured_labels(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    rows = [
        {
            "id": "1",
            "title": "Rail deal",
            "text": "Cargo trains.",
            "labels": ["transport", "sport"],
        },
        {"id": "2", "title": "", "text": "Budget news", "labels": ["economy"]},
        {"id": "3", "title": "Drills", "text": "Troops", "labels": ["defense", "human rights"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    corpus = load_corpus(path, labels=LABELS)
    assert corpus.ids == ["1", "2", "3"]
    assert corpus.texts[0] == "Rail deal. Cargo trains."
    assert corpus.texts[1] == "Budget news"
    assert corpus.labels[0] == ("transport",)  # "sport" is not a configured label
    assert corpus.label_matrix().tolist() == [[0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 1, 0]]


def test_csv_with_delimited_labels(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "headline,body,tags\n"
        'Port news,"Ships, ferries",transport|economy\n'
        "Court,Journalist jailed,human rights\n"
        "Army,Drills,defense\n"
        "Match,Goal,\n"
    )
    corpus = load_corpus(
        path, labels=LABELS, text_fields=["headline", "body"], label_field="tags", label_sep="|"
    )
    assert corpus.texts[0] == "Port news. Ships, ferries"
    assert corpus.labels == [("transport", "economy"), ("human rights",), ("defense",), ()]
    assert corpus.ids == ["0", "1", "2", "3"]


def test_folder_of_txt_files_labelled_by_subfolder(tmp_path: Path) -> None:
    for label, name, text in [
        ("economy", "a.txt", "Inflation"),
        ("transport", "b.txt", "Rail"),
        ("transport", "c.txt", "Port"),
    ]:
        (tmp_path / label).mkdir(exist_ok=True)
        (tmp_path / label / name).write_text(text)
    corpus = load_corpus(tmp_path, labels=["economy", "transport"])
    assert corpus.ids == ["economy/a.txt", "transport/b.txt", "transport/c.txt"]
    assert corpus.labels == [("economy",), ("transport",), ("transport",)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "dataset is empty"),
        ('{"id": 1, "text": "x", "labels": ["economy"]}\nnot json\n', ":2: invalid JSON"),
        ('{"id": 1, "body": "x"}\n', "none of data.text_fields"),
        ('{"id": 1, "text": "x", "labels": ["economy"]}\n', "no document carries"),
        ('{"id": 1, "text": "x", "labels": ["economy"]}\n' * 2, "appears more than once"),
        ("[" * 2000 + "]" * 2000 + "\n", ":1: JSON nested too deeply to read"),
    ],
    ids=["empty", "bad-json", "no-text-field", "label-never-seen", "duplicate-id", "nested-2000"],
)
def test_bad_files_raise_one_line_data_errors(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataError) as info:
        load_corpus(path, labels=LABELS)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data not found") as info:
        load_corpus(tmp_path / "nope.jsonl", labels=LABELS)
    assert str(tmp_path / "nope.jsonl") in str(info.value)


def test_wrong_encoding_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("text,labels\nCaf\xe9 prices,economy\n".encode("latin-1"))
    with pytest.raises(DataError, match="set data.encoding"):
        load_corpus(path, labels=LABELS, text_fields=["text"])
    corpus = load_corpus(path, text_fields=["text"], encoding="latin-1", labels=["economy"])
    assert corpus.texts == ["Café prices"]


def test_fingerprint_changes_with_content(tiny_corpus_file: Path) -> None:
    first = load_corpus(tiny_corpus_file, labels=LABELS)
    assert first.fingerprint() == load_corpus(tiny_corpus_file, labels=LABELS).fingerprint()
    assert first.fingerprint() != first.subset(range(len(first) - 1)).fingerprint()


def test_builtin_sample_corpus_is_shipped() -> None:
    path = DataConfig(path="builtin:central_asia_news", labels=LABELS).resolved_path()
    corpus = load_corpus(path, labels=LABELS)
    assert len(corpus) >= 200
    two = sum(len(labels) == 2 for labels in corpus.labels) / len(corpus)
    none = sum(len(labels) == 0 for labels in corpus.labels) / len(corpus)
    assert 0.15 <= two <= 0.25 and 0.10 <= none <= 0.20
    words = [len(text.split()) for text in corpus.texts]
    assert min(words) >= 80 and max(words) <= 270  # text fields are 80-250 words, plus title


@pytest.mark.data
def test_shared_seed_articles_load() -> None:
    path = shared_data("seed-articles.jsonl")
    corpus = load_corpus(path, labels=LABELS)
    assert len(corpus) == 6
    assert corpus.labels[1] == ("economy", "transport")


def test_csv_mac_roman_label_map_and_year_column(tmp_path: Path) -> None:
    path = tmp_path / "cap.csv"
    path.write_bytes(
        b"id,year,majortopic,title,summary\n"
        b"1,2003,16,Troops\xd5 move,Army\n2,2004,1,Budget,\n3,2004,19,UN,vote\n"
    )
    corpus = load_corpus(
        path,
        encoding="mac_roman",
        text_fields=["title", "summary"],
        label_field="majortopic",
        label_map={16: "defense", 1: "economy", 19: None},
        labels=["economy", "defense"],
        split_field="year",
    )
    assert corpus.texts[0] == "Troops\u2019 move. Army"
    assert corpus.labels == [("defense",), ("economy",), ()]
    assert corpus.meta["year"] == ["2003", "2004", "2004"]


def test_date_field_keeps_each_documents_date_as_read_and_none_where_absent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dated.jsonl"
    records = [
        {"id": "a", "text": "Rail", "labels": ["economy"], "published": "2004-05-17"},
        {"id": "b", "text": "Army", "labels": [], "published": 2005},
        {"id": "c", "text": "Court", "labels": []},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    corpus = load_corpus(path, labels=["economy"], date_field="published")
    assert corpus.meta["date"] == ["2004-05-17", 2005, None]
    assert corpus.subset([2, 0]).meta["date"] == [None, "2004-05-17"]
    assert "date" not in load_corpus(path, labels=["economy"]).meta


def test_label_map_to_an_unknown_label_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="label_map maps to \\['sport'\\]"):
        DataConfig(path=str(tmp_path / "a.csv"), labels=LABELS, label_map={"1": "sport"})


def test_drop_unlabeled(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    rows = [{"id": "1", "text": "a", "labels": ["economy"]}, {"id": "2", "text": "b", "labels": []}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    corpus = load_corpus(path, labels=["economy"], drop_unlabeled=True)
    assert corpus.ids == ["1"]


def test_header_only_csv_is_an_empty_dataset(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("id,title,text,labels\n")
    with pytest.raises(DataError, match="the dataset is empty"):
        load_corpus(path, labels=LABELS)


def test_single_label_needs_exactly_one_label_per_document(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    rows = [
        {"id": "1", "text": "a", "labels": ["economy", "defense"]},
        {"id": "2", "text": "b", "labels": ["defense"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match=r"data.single_label is set but documents carry \[1, 2\]"):
        load_corpus(path, labels=["economy", "defense"], single_label=True)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"labels": []}, "The 'labels' parameter of load_corpus"),
        ({"labels": LABELS, "format": "xml"}, "The 'format' parameter of load_corpus"),
        ({"labels": LABELS, "text_fields": []}, "The 'text_fields' parameter of load_corpus"),
    ],
    ids=["no-labels", "unknown-format", "no-text-fields"],
)
def test_bad_arguments_are_value_errors_naming_the_parameter(
    tiny_corpus_file: Path, kwargs: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        load_corpus(tiny_corpus_file, **kwargs)  # type: ignore[arg-type]


def test_formats_match_the_config_choices() -> None:
    choices, _none = get_args(DataConfig.model_fields["format"].annotation)
    assert set(FORMATS) == set(get_args(choices))


def test_data_root_is_the_current_directory_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOPICS_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    config = DataConfig(path="a/b.jsonl", labels=LABELS)
    assert config.resolved_path().resolve() == tmp_path / "a" / "b.jsonl"
    monkeypatch.setenv("TOPICS_DATA_DIR", str(tmp_path / "env"))
    assert config.resolved_path() == tmp_path / "env" / "a" / "b.jsonl"
    explicit = DataConfig(path="a/b.jsonl", root=str(tmp_path / "set"), labels=LABELS)
    assert explicit.resolved_path() == tmp_path / "set" / "a" / "b.jsonl"


def test_data_path_to_a_foreign_file_echoes_only_a_marked_excerpt(tmp_path: Path) -> None:
    """``data.path: ../../../etc/passwd`` used to put the file's first line in the error."""
    secret = "root:x:0:0:root:/root:/bin/bash-SECRET-TAIL"
    foreign = tmp_path / "etc" / "passwd"
    foreign.parent.mkdir()
    foreign.write_text(f"{secret}\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    (tmp_path / "work").mkdir()
    relative = Path("..") / "etc" / "passwd"
    config = DataConfig(path=str(relative), root=str(tmp_path / "work"), labels=LABELS)
    with pytest.raises(DataError) as info:
        load_corpus(config.resolved_path(), labels=LABELS, format="csv")
    message = str(info.value)
    assert "the record's fields (excerpt): ['root:x:0:0:root:/roo'...]" in message
    assert "SECRET" not in message and "daemon" not in message


def test_duplicate_id_is_echoed_as_a_short_excerpt(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    record = {"id": "x" * 5000, "text": "t", "labels": ["economy"]}
    path.write_text((json.dumps(record) + "\n") * 2)
    with pytest.raises(DataError) as info:
        load_corpus(path, labels=["economy"])
    assert f"document id {'x' * 20!r}... (excerpt) appears more than once" in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    "path",
    ["builtin:../../../../etc/passwd", "builtin:../__init__", "builtin:", "builtin:nope"],
    ids=["escape", "package-file", "empty", "unknown"],
)
def test_builtin_names_only_shipped_corpora(path: str) -> None:
    """``builtin:../..`` used to resolve outside the package's sample_data folder."""
    with pytest.raises(ValueError, match=r"builtin: names a corpus shipped with topics \(builtin:"):
        DataConfig(path=path, labels=LABELS)


AG_NEWS_ROWS = [
    ("3", "Wall St. Bears Claw Back", "Short-sellers see green again."),
    ("1", "Troops Deploy Near Border", "Army units moved overnight."),
    ("3", "Oil Prices Climb", "Crude rose on supply worries."),
]


def test_headerless_csv_reads_with_data_columns(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"  # AG News: class, title, description; no header row
    path.write_text("".join(f'"{c}","{t}","{d}"\n' for c, t, d in AG_NEWS_ROWS))
    options = {
        "labels": ["economy", "defense"],
        "label_field": "label",
        "text_fields": ["title", "description"],
        "label_map": {"3": "economy", "1": "defense"},
    }
    corpus = load_corpus(path, columns=["label", "title", "description"], **options)
    assert len(corpus) == 3  # the first row is a document, not a header
    assert corpus.texts[0] == "Wall St. Bears Claw Back. Short-sellers see green again."
    assert corpus.labels == [("economy",), ("defense",), ("economy",)]
    with pytest.raises(DataError, match=r"no header row\? name the columns with data.columns"):
        load_corpus(path, **options)


def test_headerless_csv_with_more_values_than_columns_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text('"3","a","b"\n"1","c","d","extra"\n')
    with pytest.raises(DataError, match=r"train.csv:2: 4 values but data.columns names 3"):
        load_corpus(path, labels=["x"], columns=["label", "title", "description"])


def _bbc_like(root: Path) -> Path:
    """A folder of articles by label, one of them latin-1 (as in BBC News)."""
    for label, name, text in [
        ("business", "001.txt", "Shares rose as profits grew."),
        ("business", "002.txt", "The bank cut rates."),
        ("sport", "199.txt", "Café owner wins the derby."),
        ("sport", "200.txt", "The team won the cup."),
    ]:
        (root / "bbc" / label).mkdir(parents=True, exist_ok=True)
        encoding = "latin-1" if name == "199.txt" else "utf-8"
        (root / "bbc" / label / name).write_bytes(text.encode(encoding))
    return root / "bbc"


def test_a_file_that_does_not_decode_is_named_with_a_fix(tmp_path: Path) -> None:
    folder = _bbc_like(tmp_path)
    with pytest.raises(DataError) as error:
        load_corpus(folder, labels=["business", "sport"])
    message = str(error.value)
    assert message.startswith(f"{folder / 'sport' / '199.txt'}: cannot decode as utf-8")
    assert "data.encoding" in message and "data.encoding_errors: replace" in message


def test_encoding_errors_replace_counts_in_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _bbc_like(tmp_path)
    with caplog.at_level("WARNING", logger="topics.data.corpus"):
        corpus = load_corpus(folder, labels=["business", "sport"], encoding_errors="replace")
    assert len(corpus) == 4
    assert corpus.texts[corpus.ids.index("sport/199.txt")] == "Caf\ufffd owner wins the derby."
    (warning,) = caplog.messages
    assert "1 byte sequence(s) that do not decode as utf-8 replaced with U+FFFD" in warning
    assert "in 1 file(s), first sport/199.txt" in warning


def test_label_counts_sees_every_label_value_load_corpus_would_drop(tmp_path: Path) -> None:
    from topics.data.corpus import label_counts

    path = tmp_path / "a.jsonl"
    rows = [
        {"text": "Cargo trains", "labels": ["transport", "sport", "sport"]},
        {"text": "Budget", "labels": ["economy"]},
        {"text": "Football", "labels": "sport"},
        {"text": "Nothing", "labels": []},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert label_counts(path) == {"transport": 1, "sport": 2, "economy": 1}
    table = tmp_path / "a.csv"
    table.write_text("body,topic\nRail,transport|economy\nGoal,sport\n")
    assert label_counts(table, label_field="topic", label_sep="|") == {
        "transport": 1,
        "economy": 1,
        "sport": 1,
    }
    folder = tmp_path / "folder"
    for label, name in (("economy", "a"), ("economy", "b"), ("sport", "c")):
        (folder / label).mkdir(parents=True, exist_ok=True)
        (folder / label / f"{name}.txt").write_text("text")
    assert label_counts(folder) == {"economy": 2, "sport": 1}
    with pytest.raises(DataError, match="data not found"):
        label_counts(tmp_path / "missing.jsonl")
