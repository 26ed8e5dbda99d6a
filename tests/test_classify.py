from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from topics.cli.classify import main
from topics.serve.predictor import Predictor


@pytest.fixture(scope="module")
def model_dir(quickstart_run: Any) -> str:
    _, result = quickstart_run
    return str(result.artifact_dir / "model")


def run_classify(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_for_one_text(model_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = "Kazakh-Korean joint venture to invest 120 million dollars in a bus and truck plant"
    code, out, _ = run_classify(["--model", model_dir, "--format", "json", text], capsys)
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"labels", "scores", "topics"}
    assert "economy" in result["labels"]
    assert set(result["scores"]) == {"economy", "defense", "human rights", "transport"}
    assert all(0.0 <= s <= 1.0 for s in result["scores"].values())
    assert len(result["topics"]) == 3 and {"topic", "weight", "words"} <= set(result["topics"][0])


def test_several_texts_give_a_list(model_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_classify(
        ["--model", model_dir, "--format", "json", "--top-k", "1", "a", ""], capsys
    )
    results = json.loads(out)
    assert code == 0 and len(results) == 2
    assert results[1]["labels"] == []  # empty text is valid and gets no labels
    assert len(results[0]["topics"]) == 1


def test_jsonl_file_keeps_ids_and_order(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    rows = [
        {"id": f"doc-{i}", "title": "News", "text": f"Railway cargo item {i}"} for i in range(300)
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, _ = run_classify(
        ["--model", model_dir, "-f", str(source), "--format", "jsonl"], capsys
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [line["id"] for line in lines] == [r["id"] for r in rows]


def test_csv_and_text_files(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "in.csv"
    table.write_text("id,body\n7,Troops held military exercises\n")
    plain = tmp_path / "article.txt"
    plain.write_text("Journalists were detained by police")
    args = [
        "--model",
        model_dir,
        "--format",
        "jsonl",
        "--text-column",
        "body",
        "-f",
        str(table),
        "-f",
        str(plain),
    ]
    code, out, _ = run_classify(args, capsys)
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert code == 0 and ids == ["7", str(plain)]


def test_stdin(model_dir: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Railway cargo and port trains"))
    code, out, _ = run_classify(["--model", model_dir], capsys)
    assert code == 0 and out.startswith("transport")


def test_text_format_with_explanation(model_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_classify(["--model", model_dir, "--explain", "Railway cargo trains"], capsys)
    assert code == 0
    assert "scores:" in out and "why transport:" in out and "topic" in out


def test_no_model_yet_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_classify(["some text"], capsys)
    assert code == 2
    assert err.strip() == (
        "classify: error: no trained model at artifacts/latest: "
        "run 'make run' first, or pass --model PATH"
    )


def test_use_picks_a_model_of_the_bundle(
    model_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Army troops and missile units moved to the border"
    code, out, _ = run_classify(
        ["--model", model_dir, "--format", "json", "--use", "lda", text], capsys
    )
    assert code == 0
    assert (
        json.loads(out)["scores"]
        == Predictor.load(model_dir).predict([text], model="lda")[0]["scores"]
    )
    code, _, err = run_classify(["--model", model_dir, "--use", "bert", text], capsys)
    assert code == 2
    assert err.strip() == "classify: error: --use bert: this bundle's models are lda, tfidf"


def test_missing_input_file(model_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_classify(["--model", model_dir, "-f", "nope.jsonl"], capsys)
    assert code == 1 and err.strip() == "classify: error: nope.jsonl: no such file"


def test_corrupt_bundle_is_one_line(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    data = bytearray((copy / "arrays.npz").read_bytes())
    data[100] ^= 1
    (copy / "arrays.npz").write_bytes(bytes(data))
    code, _, err = run_classify(["--model", str(copy), "x"], capsys)
    assert code == 2 and "checksum mismatch" in err and len(err.strip().splitlines()) == 1


def test_stdin_as_jsonl_streams_many_documents(
    model_dir: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    lines = "".join(json.dumps({"id": i, "text": "Railway cargo"}) + "\n" for i in range(600))
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    args = ["--model", model_dir, "-f", "-", "--input-format", "jsonl", "--format", "jsonl"]
    code, out, _ = run_classify(args, capsys)
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == [str(i) for i in range(600)]


def test_mixed_good_and_bad_inputs(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Railway cargo trains reached the port")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\xe9 owners protest new rail tariffs".encode("latin-1"))
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    lines = tmp_path / "docs.jsonl"
    lines.write_text('{"id": "a", "text": "Army drills"}\nnot json\n{"id": "b", "text": ""}\n')
    args = ["--model", model_dir, "--format", "jsonl"]
    for path in (good, tmp_path / "missing.txt", tmp_path, binary, latin, lines):
        args += ["-f", str(path)]
    code, out, err = run_classify(args, capsys)
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert code == 1
    assert ids == [str(good), str(latin), "a", "b"]
    assert "Traceback" not in err
    messages = err.strip().splitlines()
    assert messages == [
        f"classify: error: {tmp_path / 'missing.txt'}: no such file",
        f"classify: error: {tmp_path}: not a file (a directory?); "
        f"pass files, e.g. {tmp_path}/*.txt",
        f"classify: error: {binary}: binary file (NUL bytes), not text; skipped",
        f"classify: warning: {latin}: invalid UTF-8 bytes replaced with U+FFFD",
        f"classify: error: {lines}:2: invalid JSON (Expecting value); line skipped",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
def test_blank_text_is_valid_and_unlabelled(
    model_dir: str, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    code, out, _ = run_classify(["--model", model_dir, "--format", "json", text], capsys)
    assert code == 0 and json.loads(out)["labels"] == []


def test_invalid_utf8_argument_is_replaced_with_a_warning(
    model_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = b"Rail cargo \xff\xfe corridor".decode("utf-8", "surrogateescape")
    code, out, err = run_classify(["--model", model_dir, "--format", "json", text], capsys)
    assert code == 0 and "transport" in json.loads(out)["labels"]
    assert "invalid UTF-8" in err


def test_a_12_mb_text(model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.txt"
    sentence = "The railway corridor carried more cargo while the central bank cut rates. "
    big.write_text(sentence * (12_000_000 // len(sentence)))
    code, out, _ = run_classify(["--model", model_dir, "--format", "json", "-f", str(big)], capsys)
    result = json.loads(out)
    assert code == 0 and big.stat().st_size >= 11_900_000
    assert all(0.0 <= s <= 1.0 for s in result["scores"].values())


def test_a_reader_that_stops_early_ends_quietly(model_dir: str, tmp_path: Path) -> None:
    """``classify -f big.txt | head -1``: no traceback, the shell's SIGPIPE status."""
    big = tmp_path / "many.jsonl"
    big.write_text('{"text": "A new rail link from Almaty to the border"}\n' * 20_000)
    command = [sys.executable, "-m", "topics.cli.classify", "--model", model_dir, "-f", str(big)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.readline()
    child.stdout.close()
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == 141
    assert "Traceback" not in stderr


# ---------------------------------------------------------------------------
# models:/ and runs:/ URIs: fetched once, then read from the cache


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    """(tracking URI, the run's local bundle, its run id), registered as tiny-news
    version 1 with the alias champion."""
    from tests.conftest import tiny_config
    from topics.config import validate_config
    from topics.run.experiment import run
    from topics.tracking import MlflowTracker, register_run_model

    tmp = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    config = validate_config(tiny_config(tmp, model={"lda": {"enabled": False}}))
    result = run(config, MlflowTracker(uri))
    assert register_run_model(result.run_id, "tiny-news", "champion", uri) == "1"
    return uri, result.artifact_dir / "model", result.run_id


def _fetched(uri: str, model: str, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run_classify(
        ["--model", model, "--tracking-uri", uri, "--format", "json", "rail cargo"], capsys
    )
    assert code == 0, err
    return out


def test_second_classify_of_a_pinned_version_does_not_import_mlflow(
    registered: tuple[str, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from topics.cli.classify import cache_entry

    uri, bundle, _ = registered
    local = run_classify(["--model", str(bundle), "--format", "json", "rail cargo"], capsys)[1]
    assert _fetched(uri, "models:/tiny-news/1", capsys) == local  # fetched, then kept
    entry = cache_entry("models:/tiny-news/1", uri)
    assert entry is not None and (entry / "manifest.json").is_file()

    code = (
        "import sys\n"
        "from topics.cli.classify import main\n"
        f"code = main(['--model', 'models:/tiny-news/1', '--tracking-uri', {uri!r}, "
        "'--format', 'json', 'rail cargo'])\n"
        "print('mlflow imported' if 'mlflow' in sys.modules else 'no mlflow', code)\n"
    )
    second = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert second == local + "no mlflow 0\n"


def test_alias_is_resolved_then_read_from_the_cache(
    registered: tuple[str, Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    uri, _, _ = registered
    first = _fetched(uri, "models:/tiny-news@champion", capsys)

    def no_download(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a cached bundle was downloaded again")

    monkeypatch.setattr("topics.tracking.fetch_bundle", no_download)
    assert _fetched(uri, "models:/tiny-news@champion", capsys) == first
    assert _fetched(uri, "models:/tiny-news/1", capsys) == first  # the same entry


def test_a_tampered_cached_bundle_is_refused_and_fetched_again(
    registered: tuple[str, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from topics.cli.classify import cache_entry

    uri, _, run_id = registered
    model = f"runs:/{run_id}/model"
    first = _fetched(uri, model, capsys)
    entry = cache_entry(model, uri)
    assert entry is not None
    arrays = entry / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-100] + b"\0" * 100)  # same size, other bytes

    code, out, err = run_classify(
        ["--model", model, "--tracking-uri", uri, "--format", "json", "rail cargo"], capsys
    )
    assert (code, out) == (0, first)
    assert "classify: warning: cached" in err and "fetching it again" in err
    Predictor.load(entry)  # the entry was replaced by a good copy


@pytest.mark.parametrize(
    ("model", "cached_as"),
    [
        ("models:/topics-news/3", "registry/topics-news/3"),
        ("models:/m-0123abcd", "logged/m-0123abcd"),
        ("runs:/0123abcd/model", "runs/0123abcd/model"),
        ("models:/topics-news@champion", None),  # an alias moves: resolved first
        ("models:/../3", None),
        ("runs:/0123abcd/..", None),
    ],
    ids=["version", "logged-model", "run", "alias", "dot-dot-name", "dot-dot-path"],
)
def test_cache_entries_are_keyed_by_what_the_uri_pins(model: str, cached_as: str | None) -> None:
    from topics.cli.classify import cache_entry, cache_root

    entry = cache_entry(model, "sqlite:////srv/mlflow.db")
    if cached_as is None:
        assert entry is None
        return
    assert entry is not None and entry.is_relative_to(cache_root() / "models")
    assert entry.as_posix().endswith(cached_as)
    other_store = cache_entry(model, "http://127.0.0.1:5000")
    assert other_store is not None and other_store != entry
