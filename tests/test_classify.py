from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_embedding_topics import both_topic_models_bundle
from topics import __version__
from topics.cli.classify import CHUNK, build_parser, main, write_predictions
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
    (result,) = json.loads(out)  # one array whatever the number of documents
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


def test_dash_argument_reads_stdin(
    model_dir: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """`echo TEXT | classify -` classifies TEXT, not the one-character text "-"."""
    monkeypatch.setattr("sys.stdin", io.StringIO("Railway cargo and port trains"))
    args = ["--model", model_dir, "--format", "json", "Army drills", "-"]
    code, out, _ = run_classify(args, capsys)
    labels = [record["labels"] for record in json.loads(out)]
    assert code == 0 and labels == [["defense"], ["transport"]]


def test_text_format_with_explanation(model_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_classify(["--model", model_dir, "--explain", "Railway cargo trains"], capsys)
    assert code == 0
    assert "scores:" in out and "why transport:" in out and "topic" in out
    assert "    in: " not in out  # one short text: scored whole, no passage to quote
    transport = "The railway cargo corridor and the new port terminal for container trains opened."
    text = f"The army and its troops held military exercises near the border. {transport}"
    args = ["--model", model_dir, "--explain", "--passages", "10", text]
    code, out, _ = run_classify(args, capsys)
    assert code == 0 and "why transport:" in out
    assert f'    in: "{transport}"' in out  # the passage behind the label, quoted


def test_json_and_text_output_name_each_topic(
    model_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Railway cargo trains"
    code, out, _ = run_classify(["--model", model_dir, "--format", "json", text], capsys)
    assert code == 0
    topics = json.loads(out)[0]["topics"]
    assert all(isinstance(t["name"], str) and t["name"] for t in topics)
    code, out, _ = run_classify(["--model", model_dir, text], capsys)
    assert f"  topic {topics[0]['topic']} {topics[0]['name']} (" in out


def test_no_model_yet_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOPICS_MODEL", raising=False)
    code, _, err = run_classify(["some text"], capsys)
    assert code == 2
    assert err.strip() == (
        f"classify: error: no trained model at artifacts/latest ({tmp_path}/artifacts/latest): "
        "run 'make run' first (from the project root), or pass --model PATH or set TOPICS_MODEL"
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
        json.loads(out)[0]["scores"]
        == Predictor.load(model_dir).predict([text], model="lda")[0]["scores"]
    )
    code, _, err = run_classify(["--model", model_dir, "--use", "bert", text], capsys)
    assert code == 2
    assert err.strip() == "classify: error: --use bert: this bundle's models are lda, tfidf"


def test_topics_picks_the_topic_model_of_a_bundle_with_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = str(both_topic_models_bundle(tmp_path / "model"))
    text = "cargo by railway to the station"
    listed = {}
    for flags in ([], ["--topics", "lda"], ["--topics", "embedding_topics"]):
        code, out, err = run_classify(["--model", bundle, "--format", "json", *flags, text], capsys)
        assert (code, err) == (0, "")
        listed[tuple(flags)] = json.loads(out)[0]["topics"]
    expected = Predictor.load(bundle).predict(text, topic_model="embedding_topics")[0]["topics"]
    assert listed[("--topics", "embedding_topics")] == expected
    assert listed[()] == listed[("--topics", "lda")] != expected  # LDA's by default
    code, out, err = run_classify(["--model", bundle, "--topics", "bertopic", text], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "classify: error: --topics bertopic: this bundle's topic models are lda, embedding_topics\n"
    )
    code, out, _ = run_classify(["--model", bundle, "--topics", "embedding_topics", text], capsys)
    assert code == 0 and f"topic {expected[0]['topic']} {expected[0]['name']} (" in out


def test_help_explains_topics_and_its_default() -> None:
    help_text = " ".join(build_parser().format_help().split())
    assert "--topics NAME which topic model lists the dominant topics" in help_text
    assert "(default: lda when the bundle has it, else embedding_topics)" in help_text


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
    assert code == 0 and json.loads(out)[0]["labels"] == []


def test_invalid_utf8_argument_is_replaced_with_a_warning(
    model_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = b"Rail cargo \xff\xfe corridor".decode("utf-8", "surrogateescape")
    code, out, err = run_classify(["--model", model_dir, "--format", "json", text], capsys)
    assert code == 0 and "transport" in json.loads(out)[0]["labels"]
    assert "invalid UTF-8" in err


def test_a_file_name_given_as_text_gets_a_hint(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``classify articles.jsonl`` (without -f) classifies the name; stderr says how to read it."""
    articles = tmp_path / "articles.jsonl"
    articles.write_text('{"text": "A new rail link from Almaty to the border"}\n')
    code, out, err = run_classify(["--model", model_dir, "--format", "json", str(articles)], capsys)
    assert code == 0 and len(json.loads(out)) == 1
    assert err.strip() == (
        f"classify: warning: argument 1 names a file, {str(articles)!r}; classified as text, "
        f"not read: to read it, pass -f {articles}"
    )
    code, _, err = run_classify(["--model", model_dir, "rail link", "Almaty"], capsys)
    assert code == 0 and err == ""


def test_a_12_mb_text(model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.txt"
    sentence = "The railway corridor carried more cargo while the central bank cut rates. "
    big.write_text(sentence * (12_000_000 // len(sentence)))
    code, out, _ = run_classify(["--model", model_dir, "--format", "json", "-f", str(big)], capsys)
    (result,) = json.loads(out)
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


# A bundle whose checksums were redone by its author: the sha256s prove integrity,
# not who made the file, so its content is checked as untrusted data.


def _resealed(
    model_dir: str,
    tmp_path: Path,
    spec_edit: Any = None,
    arrays_edit: Any = None,
    spec_bytes: bytes | None = None,
) -> Path:
    """A copy of the bundle edited as its author could, checksums and declared array
    shapes redone so that only the content checks can catch it."""
    import hashlib

    from topics.serve.bundle import load_bundle, write_npz

    bundle = load_bundle(model_dir)
    spec, arrays = json.loads(json.dumps(bundle.spec)), dict(bundle.arrays)
    if spec_edit is not None:
        spec_edit(spec)
    if arrays_edit is not None:
        arrays_edit(arrays)
    copy = tmp_path / "edited"
    copy.mkdir()
    (copy / "model.json").write_bytes(spec_bytes or json.dumps(spec).encode())
    write_npz(copy / "arrays.npz", arrays)
    manifest = dict(bundle.manifest)
    manifest["files"] = {
        name: hashlib.sha256((copy / name).read_bytes()).hexdigest()
        for name in ("model.json", "arrays.npz")
    }
    manifest["arrays"] = {
        key: {"dtype": value.dtype.str, "shape": list(value.shape)} for key, value in arrays.items()
    }
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def _refused(bundle: Path, capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    """``classify`` on ``bundle``: exit 2, one line on stderr naming every fragment."""
    code, out, err = run_classify(["--model", str(bundle), "Rail freight grew"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert all(fragment in lines[0] for fragment in fragments), lines[0]
    return lines[0]


def test_bundle_token_pattern_not_from_training_is_refused(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``(a|a)*b`` backtracks exponentially (a 32-character text ran past 60 s): only
    the pattern training writes is compiled."""
    import time

    def catastrophic(spec: dict[str, Any]) -> None:
        spec["features"]["tfidf"]["analyzer"]["token_pattern"] = "(a|a)*b"

    bundle = _resealed(model_dir, tmp_path, catastrophic)
    start = time.perf_counter()
    _refused(bundle, capsys, "model.json", "features.tfidf.analyzer.token_pattern", "(a|a)*b")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ngram_range", [1, 5000]),
        ("ngram_range", [0, 2]),
        ("ngram_range", [2, 1]),
        ("ngram_range", "1-2"),
        ("lowercase", "yes"),
    ],
    ids=["ngram-5000", "ngram-zero", "ngram-reversed", "ngram-string", "lowercase-string"],
)
def test_bundle_spec_values_out_of_bounds_are_refused(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: Any
) -> None:
    """``ngram_range [1, 5000]`` took 55 s and 7.9 GB for 3,000 words, then MemoryError."""

    def edit(spec: dict[str, Any]) -> None:
        spec["features"]["tfidf"]["analyzer"][field] = value

    bundle = _resealed(model_dir, tmp_path, edit)
    _refused(bundle, capsys, "model.json", f"features.tfidf.analyzer.{field}: expected")


@pytest.mark.parametrize(
    "case",
    ["vocabulary-longer-than-idf", "coef-narrower-than-features", "topics-unlike-alpha"],
)
def test_bundle_sizes_inconsistent_with_declared_shapes_are_refused(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    spec_edit = arrays_edit = None
    if case == "vocabulary-longer-than-idf":

        def spec_edit(spec: dict[str, Any]) -> None:
            spec["features"]["tfidf"]["terms"] += "zzz-extra"
            spec["features"]["tfidf"]["term_lengths"].append(len("zzz-extra"))

        fragments = ("arrays.npz", "tfidf.idf: expected")
    elif case == "coef-narrower-than-features":

        def arrays_edit(arrays: dict[str, Any]) -> None:
            arrays["clf.tfidf.coef"] = arrays["clf.tfidf.coef"][:, :-3]

        fragments = ("arrays.npz", "clf.tfidf.coef: expected")
    else:

        def arrays_edit(arrays: dict[str, Any]) -> None:
            arrays["lda.alpha"] = arrays["lda.alpha"][:-1]

        fragments = ("arrays.npz", "lda.alpha: expected")
    _refused(_resealed(model_dir, tmp_path, spec_edit, arrays_edit), capsys, *fragments)


def _deep_json() -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing-key", ("model.json", "models.tfidf.kind")),
        ("missing-vocabulary", ("model.json", "features.tfidf.terms")),
        ("vocabulary-lengths-off", ("model.json", "features.tfidf.term_lengths: expected")),
        ("wrong-type", ("model.json", "labels: expected")),
        ("models-not-an-object", ("model.json", "models: expected")),
        ("short-idf", ("arrays.npz", "tfidf.idf: expected")),
        ("unknown-primary", ("model.json", "primary: expected")),
        ("deep-json", ("model.json", "nested too deeply")),
        ("ensemble-of-itself", ("model.json", "members")),
    ],
)
def test_invalid_bundle_is_one_line_naming_file_and_field_exit_2(
    model_dir: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    fragments: tuple[str, ...],
) -> None:
    """Each of these gave a KeyError / TypeError / IndexError / RecursionError traceback
    and exit 1 (which means "some inputs skipped")."""
    import numpy as np

    spec_edit = arrays_edit = None
    spec_bytes = None
    if case == "missing-key":

        def spec_edit(spec: dict[str, Any]) -> None:
            del spec["models"]["tfidf"]["kind"]
    elif case == "missing-vocabulary":

        def spec_edit(spec: dict[str, Any]) -> None:
            del spec["features"]["tfidf"]["terms"]
    elif case == "vocabulary-lengths-off":

        def spec_edit(spec: dict[str, Any]) -> None:
            spec["features"]["tfidf"]["term_lengths"][0] += 1
    elif case == "wrong-type":

        def spec_edit(spec: dict[str, Any]) -> None:
            spec["labels"] = 7
    elif case == "models-not-an-object":

        def spec_edit(spec: dict[str, Any]) -> None:
            spec["models"] = ["tfidf"]
    elif case == "short-idf":

        def arrays_edit(arrays: dict[str, np.ndarray]) -> None:
            arrays["tfidf.idf"] = arrays["tfidf.idf"][:10]
    elif case == "unknown-primary":

        def spec_edit(spec: dict[str, Any]) -> None:
            spec["primary"] = "nope"
    elif case == "deep-json":
        spec_bytes = _deep_json()
    else:

        def spec_edit(spec: dict[str, Any]) -> None:
            spec["models"]["mix"] = {
                "kind": "ensemble",
                "features": [],
                "members": {"mix": 0.5, "tfidf": 0.5},
            }

        def arrays_edit(arrays: dict[str, np.ndarray]) -> None:
            arrays["clf.mix.thresholds"] = np.full(4, 0.5)

    bundle = _resealed(model_dir, tmp_path, spec_edit, arrays_edit, spec_bytes)
    if case == "wrong-type":  # the manifest repeats the labels: keep them consistent
        manifest = json.loads((bundle / "manifest.json").read_text())
        manifest["labels"] = 7
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    _refused(bundle, capsys, *fragments)


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_weights_are_refused_on_load(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: float
) -> None:
    """NaN weights used to load silently and print ``"scores": NaN`` (not JSON)."""

    def poison(arrays: dict[str, Any]) -> None:
        coef = arrays["clf.tfidf.coef"].copy()
        coef[0, 0] = value
        arrays["clf.tfidf.coef"] = coef

    _refused(
        _resealed(model_dir, tmp_path, None, poison),
        capsys,
        "arrays.npz",
        "clf.tfidf.coef",
        "NaN or infinite",
    )


def test_permuted_labels_are_refused(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def permute(spec: dict[str, Any]) -> None:
        spec["labels"] = spec["labels"][::-1]

    _refused(_resealed(model_dir, tmp_path, permute), capsys, "model.json", "labels", "manifest")


@pytest.mark.parametrize("output", ["json", "jsonl"])
def test_output_is_always_valid_json(
    model_dir: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any, output: str
) -> None:
    """Should a score ever be non-finite, classify fails in one line (exit 2) rather
    than print ``NaN``, which JSON readers reject."""

    def strict(text: str) -> Any:
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in output"))

    code, out, _ = run_classify(["--model", model_dir, "--format", output, "a", "b"], capsys)
    assert code == 0 and strict(out if output == "json" else out.splitlines()[0])
    predict = Predictor.predict

    def nan_scores(self: Predictor, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        results = predict(self, *args, **kwargs)
        results[0]["scores"]["economy"] = float("nan")
        return results

    monkeypatch.setattr(Predictor, "predict", nan_scores)
    code, out, err = run_classify(["--model", model_dir, "--format", output, "a"], capsys)
    assert code == 2 and "NaN" not in out and "non-finite score" in err


def test_jsonl_line_nested_2000_deep_is_reported_and_skipped(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 4 KB line ``[[[[...]]]]`` used to raise RecursionError and end the whole batch."""
    source = tmp_path / "deep.jsonl"
    lines = ['{"id": "a", "text": "Rail cargo"}', "[" * 2000 + "]" * 2000]
    lines += ['{"id": "b", "x": ' + '{"a": ' * 2000 + "1" + "}" * 2000 + "}"]
    lines += ['{"id": "c", "text": "Army drills"}']
    source.write_text("\n".join(lines) + "\n")
    code, out, err = run_classify(
        ["--model", model_dir, "-f", str(source), "--format", "jsonl"], capsys
    )
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "c"]
    assert err.splitlines() == [
        f"classify: error: {source}:{n}: JSON nested too deeply to read; line skipped"
        for n in (2, 3)
    ]


def peak_rss_mb(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Peak RSS (MB) of ``command``, run as the only child of a fresh interpreter."""
    code = (
        "import json, resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([peak, done.returncode, done.stdout[-10000:], done.stderr]))"
    )
    out = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True)
    peak, returncode, stdout, stderr = json.loads(out.stdout)
    return peak, subprocess.CompletedProcess(command, returncode, stdout, stderr)


@pytest.mark.parametrize("kind", ["text", "jsonl"])
def test_a_50_mb_document_is_cut_to_the_limit_within_10x_its_size_in_memory(
    model_dir: str, tmp_path: Path, kind: str
) -> None:
    """It used to take 1.6-1.7 GB (32x); now it is cut to MAX_DOCUMENT_CHARS with a warning."""
    from topics.serve.inputs import MAX_DOCUMENT_CHARS

    text = b"Rail cargo freight corridor bank " * (50_000_000 // 33)
    path = tmp_path / f"big.{'txt' if kind == 'text' else 'jsonl'}"
    path.write_bytes(text if kind == "text" else b'{"id": "big", "text": "' + text + b'"}\n')
    command = [sys.executable, "-m", "topics.cli.classify", "--model", model_dir, "-f", str(path)]
    peak, done = peak_rss_mb([*command, "--format", "jsonl"])
    assert done.returncode == 0, done.stderr
    assert "transport" in json.loads(done.stdout)["labels"]
    where, size = (str(path), len(text)) if kind == "text" else (f"{path}:1", len(text.strip()))
    assert done.stderr.strip() == (
        f"classify: warning: {where}: document of {size:,} "
        f"{'bytes' if kind == 'text' else 'characters'} is over the "
        f"{MAX_DOCUMENT_CHARS:,}-character limit; only its start is classified"
    )
    assert peak <= 10 * path.stat().st_size / 1e6 / 1.048576, f"peak RSS {peak:.0f} MB"


def test_a_long_csv_field_is_one_line(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "long.csv"
    table.write_text("id,text\n1,Rail cargo\n2," + "x" * 200_000 + "\n")
    code, out, err = run_classify(
        ["--model", model_dir, "-f", str(table), "--format", "jsonl"], capsys
    )
    assert code == 1 and [json.loads(line)["id"] for line in out.splitlines()] == ["1"]
    assert err.strip() == (
        f"classify: error: {table}:3: unreadable CSV (field larger than field limit (131072)); "
        "rest skipped"
    )


class _EchoPredictor:
    """Stands in for a Predictor: one small record per text."""

    def predict(self, texts: list[str], **_: Any) -> list[dict[str, Any]]:
        return [{"labels": [], "scores": {"economy": 0.5}, "topics": [], "text": t} for t in texts]


@pytest.mark.parametrize("n_docs", [0, 1, 2, 3 * CHUNK + 5])
def test_format_json_over_many_documents_streams_instead_of_collecting(n_docs: int) -> None:
    """200k documents in --format json took 1.9 GB (jsonl: 52 MB): it held every record.
    Now records are written as they are scored, and the text is what json.dumps gives."""
    out = io.StringIO()
    written_before_last: list[int] = []

    def documents() -> Iterator[tuple[str | None, str]]:
        for i in range(n_docs):
            if i == n_docs - 1:
                written_before_last.append(out.getvalue().count('"economy"'))
            yield f"doc-{i}", f"text {i}"

    args = build_parser().parse_args(["--format", "json"])
    write_predictions(_EchoPredictor(), documents(), args, out)
    expected = [
        {"id": f"doc-{i}", **_EchoPredictor().predict([f"text {i}"])[0]} for i in range(n_docs)
    ]
    assert out.getvalue() == json.dumps(expected, indent=2) + "\n"
    if n_docs > CHUNK:
        assert written_before_last == [3 * CHUNK]  # every earlier chunk already out


def test_closed_stdin_is_one_line(model_dir: str) -> None:
    """``classify <&-`` used to end in a TypeError traceback."""
    command = [sys.executable, "-m", "topics.cli.classify", "--model", model_dir]
    closed = ["sh", "-c", 'exec "$@" <&-', "sh", *command]
    done = subprocess.run(closed, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "classify: error: <stdin>: closed, nothing to read; pass TEXT or -f FILE\n"
    )


def test_json_is_one_array_for_one_or_several_inputs(
    model_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for texts in (["Rail freight"], ["Rail freight", "Army drills"]):
        code, out, _ = run_classify(["--model", model_dir, "--format", "json", *texts], capsys)
        results = json.loads(out)
        assert code == 0 and isinstance(results, list) and len(results) == len(texts)
    assert "always an array" in " ".join(build_parser().format_help().split())


def test_classify_version_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"classify (topics {__version__})"


def test_threshold_max_labels_and_relative_cut_flags(
    model_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Railway cargo and army troops at the port"
    base = ["--model", model_dir, "--format", "json", text]
    _, out, _ = run_classify([*base, "--threshold", "0"], capsys)
    assert len(json.loads(out)[0]["labels"]) == 4
    _, out, _ = run_classify([*base, "--threshold", "0", "--max-labels", "2"], capsys)
    (result,) = json.loads(out)
    top_two = sorted(result["scores"], key=lambda label: -result["scores"][label])[:2]
    assert result["labels"] and set(result["labels"]) == set(top_two)
    _, out, _ = run_classify([*base, "--threshold", "1", "--threshold", "human rights=0"], capsys)
    assert json.loads(out)[0]["labels"] == ["human rights"]
    _, out, _ = run_classify([*base, "--threshold", "0", "--relative-cut", "1"], capsys)
    (result,) = json.loads(out)
    (label,) = result["labels"]  # the best one alone
    assert result["scores"][label] == max(result["scores"].values())


def test_passages_flag_scores_a_long_article_by_its_best_passage(
    model_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trains = "Railway cargo trains reached the new port terminal on the Caspian coast today."
    army = "Army troops and tanks held drills at the border with artillery and helicopters."
    article = " ".join([trains] + [army] * 5)  # 78 words: one rail sentence among drills
    base = ["--model", model_dir, "--format", "json", "--top-k", "0", article]
    scores = {}
    for words in ("0", "13"):
        _, out, _ = run_classify([*base, "--passages", words], capsys)
        scores[words] = json.loads(out)[0]["scores"]
    _, out, _ = run_classify(base, capsys)  # the quickstart bundle: whole texts
    assert json.loads(out)[0]["scores"] == scores["0"]
    assert scores["13"]["transport"] > scores["0"]["transport"]
    # one passage in 2 must carry a label: the rail sentence alone no longer does
    _, out, _ = run_classify([*base, "--passages", "13", "--passage-support", "2"], capsys)
    supported = json.loads(out)[0]["scores"]
    assert supported["transport"] < scores["13"]["transport"]
    assert supported["defense"] == scores["13"]["defense"]  # every other passage is drills


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--threshold", "1.5"], "--threshold '1.5': expected VALUE or LABEL=VALUE"),
        (["--threshold", "sport=0.3"], "--threshold 'sport=0.3': no label 'sport'"),
        (["--max-labels", "0"], "--max-labels must be >= 1, got 0"),
        (["--lines", "--input-format", "jsonl"], "--lines reads plain text"),
        (["--passages", "-5"], "--passages must be >= 0 words, got -5"),
        (["--relative-cut", "2"], "--relative-cut must be in [0, 1], got 2.0"),
        (["--passage-support", "-1"], "--passage-support must be >= 0, got -1"),
    ],
    ids=[
        "threshold-above-1",
        "unknown-label",
        "max-labels-0",
        "lines-with-jsonl",
        "passages",
        "relative-cut",
        "passage-support",
    ],
)
def test_bad_decision_flags_are_one_line(
    model_dir: str, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    code, out, err = run_classify(["--model", model_dir, *flags, "x"], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"classify: error: {message}") and err.count("\n") == 1


def test_lines_reads_one_document_per_line_of_stdin(
    model_dir: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    lines = ["Railway cargo and port trains", "", "Army troops held drills at the border"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = run_classify(["--model", model_dir, "--lines", "--format", "jsonl"], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(results) == 3
    assert "transport" in results[0]["labels"] and results[1]["labels"] == []
    assert "defense" in results[2]["labels"]


def test_topics_model_names_the_default_model(
    model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # no artifacts/latest here
    monkeypatch.setenv("TOPICS_MODEL", model_dir)
    code, out, _ = run_classify(["--format", "json", "Railway cargo trains"], capsys)
    assert code == 0 and "transport" in json.loads(out)[0]["labels"]
    monkeypatch.setenv("TOPICS_MODEL", "elsewhere/model")
    code, _, err = run_classify(["Railway cargo trains"], capsys)
    assert code == 2
    assert f"no trained model at $TOPICS_MODEL=elsewhere/model ({tmp_path}/elsewhere/model)" in err


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
    from topics.cli.models import cache_entry

    uri, bundle, _ = registered
    local = run_classify(["--model", str(bundle), "--format", "json", "rail cargo"], capsys)[1]
    assert _fetched(uri, "models:/tiny-news/1", capsys) == local  # fetched, then kept
    entry = cache_entry("models:/tiny-news/1", uri)
    assert entry is not None and (entry / "manifest.json").is_file()

    second = _classify_in_a_fresh_process(uri, "models:/tiny-news/1")
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


def _classify_in_a_fresh_process(uri: str, model: str) -> str:
    """``classify --model MODEL`` in a new interpreter; its JSON, then whether it
    imported mlflow and its exit code."""
    code = (
        "import sys\n"
        "from topics.cli.classify import main\n"
        f"code = main(['--model', {model!r}, '--tracking-uri', {uri!r}, "
        "'--format', 'json', 'rail cargo'])\n"
        "print('mlflow imported' if 'mlflow' in sys.modules else 'no mlflow', code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_second_classify_of_an_alias_does_not_import_mlflow_until_the_store_changes(
    registered: tuple[str, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """README's registry flow is ``models:/NAME@ALIAS``: the second call must not pay
    for importing mlflow, yet an alias moved since must be followed."""
    from topics.cli.models import cache_entry
    from topics.tracking import register_run_model

    uri, _, run_id = registered
    first = _fetched(uri, "models:/tiny-news@champion", capsys)  # looked up, kept
    assert _classify_in_a_fresh_process(uri, "models:/tiny-news@champion") == (
        first + "no mlflow 0\n"
    )
    # A new version takes the alias: the store changed, so the alias is asked again.
    assert register_run_model(run_id, "tiny-news", "champion", uri) == "2"
    assert not (Path(str(cache_entry("models:/tiny-news/2", uri))) / "manifest.json").exists()
    moved = _classify_in_a_fresh_process(uri, "models:/tiny-news@champion")
    assert moved == first + "mlflow imported 0\n"  # the same run, hence the same output
    entry = cache_entry("models:/tiny-news/2", uri)
    assert entry is not None and (entry / "manifest.json").is_file()  # version 2 now
    assert _classify_in_a_fresh_process(uri, "models:/tiny-news@champion") == (
        first + "no mlflow 0\n"
    )


def test_a_tampered_cached_bundle_is_refused_and_fetched_again(
    registered: tuple[str, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from topics.cli.models import cache_entry, load_model

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

    # the other commands (suggest, drift, evaluate) load through the same cache
    arrays.write_bytes(arrays.read_bytes()[:-100] + b"\0" * 100)
    load_model(model, uri)
    err = capsys.readouterr().err
    assert err.startswith(f"topics: warning: cached {model}:") and "fetching it again" in err
    Predictor.load(entry)


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
    from topics.cli.models import cache_entry, cache_root

    entry = cache_entry(model, "sqlite:////srv/mlflow.db")
    if cached_as is None:
        assert entry is None
        return
    assert entry is not None and entry.is_relative_to(cache_root() / "models")
    assert entry.as_posix().endswith(cached_as)
    other_store = cache_entry(model, "http://127.0.0.1:5000")
    assert other_store is not None and other_store != entry
