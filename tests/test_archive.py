"""classify-archive: partitions cover the input exactly once, output equals ``classify``,
restarts skip finished partitions, Parquet and a 2-worker LocalCluster give the same records."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TINY_ARTICLES, tiny_config
from topics.cli.classify import main as classify_main
from topics.cli.main import main
from topics.errors import BundleError
from topics.run.archive import (
    ArchiveError,
    classify_archive,
    expand_inputs,
    plan_partitions,
    read_bundle_files,
    read_output,
)
from topics.run.archive.partitions import _lines


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model with both TF-IDF and LDA, so scores and topics are compared."""
    from topics.config import validate_config
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    tmp = tmp_path_factory.mktemp("archive-model")
    return run(validate_config(tiny_config(tmp)), NullTracker()).artifact_dir / "model"


def write_archive(path: Path, n_docs: int) -> Path:
    """Short articles with ids, plus the awkward cases: unicode, no id, blank and bad lines."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n_docs):
            _, text, _ = TINY_ARTICLES[i % len(TINY_ARTICLES)]
            record: dict[str, Any] = {"id": f"doc-{i}", "title": f"Item {i}", "text": text}
            if i % 97 == 5:
                record["text"] += " — Алматы, «Қазақстан» ☃"
            if i % 251 == 7:
                del record["id"]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            if i % 500 == 11:
                handle.write("\n")
            if i % 700 == 13:
                handle.write("{not json\n")
    return path


def classify_reference(bundle: Path, archive: Path, capsys: pytest.CaptureFixture[str]) -> list:
    from topics.cli.classify import main as classify_main

    capsys.readouterr()
    classify_main(["-f", str(archive), "--format", "jsonl", "--model", str(bundle)])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_partitions_cover_every_line_exactly_once(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 400)
    lines = archive.read_bytes().splitlines(keepends=True)
    for partition_mb in (0.001, 0.0137, 1.0):  # 1 KiB (many cuts mid-line), odd size, one part
        parts = plan_partitions(expand_inputs(str(archive)), partition_mb)
        got = [line for p in parts for _, line in _lines(p.source, p.start, p.stop)]
        assert got == lines, partition_mb
        assert [p.name for p in parts] == sorted(p.name for p in parts)


def test_archive_equals_classify_and_restart_skips_complete_partitions(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 3000)
    bundle = read_bundle_files(str(bundle_dir))
    out = tmp_path / "out"
    first = classify_archive(str(archive), out, bundle, partition_mb=0.05)
    assert first.partitions > 5 and first.written == first.partitions
    assert first.bad_records == 5 and "invalid JSON" in first.errors[0]
    reference = classify_reference(bundle_dir, archive, capsys)
    assert list(read_output(out)) == reference
    assert len(reference) == 3000 and sum("id" not in r for r in reference) == 12

    # An interrupted run: one partition never renamed into place, a temp file left over.
    manifest = json.loads((out / "_archive.json").read_text())
    lost, kept = out / manifest["partitions"][2], out / manifest["partitions"][0]
    lost.rename(out / f".{lost.stem}-dead.tmp")
    kept_mtime = kept.stat().st_mtime_ns
    again = classify_archive(str(archive), out, bundle, partition_mb=0.05)
    assert (again.written, again.skipped) == (1, first.partitions - 1)
    assert kept.stat().st_mtime_ns == kept_mtime
    assert list(read_output(out)) == reference

    with pytest.raises(ArchiveError, match="partition_mb"):
        classify_archive(str(archive), out, bundle, partition_mb=0.1)


def test_restart_with_another_model_is_refused(tmp_path: Path, bundle_dir: Path) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 50)
    bundle = read_bundle_files(str(bundle_dir))
    classify_archive(str(archive), tmp_path / "out", bundle)
    other = dict(bundle, **{"manifest.json": bundle["manifest.json"] + b" "})
    with pytest.raises(ArchiveError, match="model_manifest_sha256"):
        classify_archive(str(archive), tmp_path / "out", other)


def test_parquet_glob_gives_the_same_records_as_jsonl(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    archive = write_archive(tmp_path / "a.jsonl", 600)
    lines = archive.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip() and line != "{not json"]
    folder = tmp_path / "parquet"
    folder.mkdir()
    for i, half in enumerate((records[:300], records[300:])):
        columns = {key: [r.get(key) for r in half] for key in ("id", "title", "text")}
        pq.write_table(pa.table(columns), folder / f"part{i}.parquet", row_group_size=128)
    bundle = read_bundle_files(str(bundle_dir))
    result = classify_archive(str(folder / "*.parquet"), tmp_path / "out", bundle)
    assert result.partitions == 3 + 3  # row groups of 128 per 300-row file
    reference = classify_reference(bundle_dir, archive, capsys)
    assert list(read_output(tmp_path / "out")) == reference


def test_local_cluster_with_two_workers_equals_local_execution(
    tmp_path: Path, bundle_dir: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    archive = write_archive(tmp_path / "a.jsonl", 2000)
    bundle = read_bundle_files(str(bundle_dir))
    classify_archive(str(archive), tmp_path / "here", bundle, partition_mb=0.05)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        result = classify_archive(
            str(archive), tmp_path / "dask", bundle, cluster.scheduler_address, partition_mb=0.05
        )
    assert result.written == result.partitions > 2
    assert list(read_output(tmp_path / "dask")) == list(read_output(tmp_path / "here"))


def test_cli_writes_partitions_and_reports_bad_records(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 800)
    argv = ["classify-archive", str(archive), "--output", str(tmp_path / "out")]
    code = main([*argv, "--model", str(bundle_dir), "--partition-mb", "0.02"])
    captured = capsys.readouterr()
    assert code == 1  # two bad lines skipped, the rest classified
    assert "800 documents" in captured.out and "2 bad records" in captured.out
    assert captured.err.count("invalid JSON") == 2
    assert main([*argv, "--model", str(bundle_dir), "--partition-mb", "0.02"]) == 0
    assert "0 partitions written" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["classify-archive", "nothing-*.jsonl", "--output", "x"], "no input files found"),
        (["classify-archive", "README.md", "--output", "x"], "expected a .jsonl or .parquet"),
    ],
    ids=["no-match", "wrong-suffix"],
)
def test_cli_user_mistakes_are_one_line(
    argv: list[str], message: str, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--model", str(bundle_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_without_dask_the_command_says_how_to_install_it(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    archive = write_archive(tmp_path / "a.jsonl", 10)
    argv = ["classify-archive", str(archive), "--output", str(tmp_path / "o"), "--workers", "2"]
    assert main([*argv, "--model", str(bundle_dir)]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[dask]'" in err and err.count("\n") == 1
    # Without a cluster the command still works, in this process.
    assert main([*argv[:-2], "--model", str(bundle_dir)]) == 0
    assert "10 documents" in io.StringIO(capsys.readouterr().out).read()


def test_archive_finishes_past_a_line_nested_2000_deep(tmp_path: Path, bundle_dir: Path) -> None:
    """The nested line used to kill the partition, and again on every restart."""
    archive = tmp_path / "deep.jsonl"
    good = [json.dumps({"id": f"doc-{i}", "text": TINY_ARTICLES[0][1]}) for i in range(3)]
    archive.write_text("\n".join([good[0], "[" * 2000 + "]" * 2000, *good[1:]]) + "\n")
    bundle = read_bundle_files(str(bundle_dir))
    result = classify_archive(str(archive), tmp_path / "out", bundle)
    assert (result.written, result.documents, result.bad_records) == (1, 3, 1)
    assert result.errors == [f"{archive.resolve()}@{len(good[0]) + 1}: JSON nested too deeply "
                             "to read; line skipped"]  # fmt: skip
    assert [r["id"] for r in read_output(tmp_path / "out")] == ["doc-0", "doc-1", "doc-2"]
    again = classify_archive(str(archive), tmp_path / "out", bundle)
    assert (again.written, again.skipped) == (0, 1)


def test_archive_cuts_a_document_over_the_limit_and_says_so(
    tmp_path: Path, bundle_dir: Path
) -> None:
    from topics.serve.inputs import MAX_DOCUMENT_CHARS

    archive = tmp_path / "long.jsonl"
    long_text = "rail cargo " * (MAX_DOCUMENT_CHARS // 10) + "port"
    archive.write_text(json.dumps({"id": "long", "text": long_text}) + "\n")
    result = classify_archive(str(archive), tmp_path / "out", read_bundle_files(str(bundle_dir)))
    assert (result.documents, result.bad_records, result.truncated) == (1, 0, 1)
    assert result.errors == [
        f"{archive.resolve()}@0: document of {len(long_text):,} characters is over the "
        f"{MAX_DOCUMENT_CHARS:,}-character limit; only its start is classified"
    ]
    assert "transport" in next(read_output(tmp_path / "out"))["labels"]


def test_drift_writes_the_archives_report_equal_to_topics_drift_on_the_same_file(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 600)
    bundle = read_bundle_files(str(bundle_dir))
    out = tmp_path / "out"
    result = classify_archive(str(archive), out, bundle, partition_mb=0.02, drift=True)
    assert result.partitions > 2 and result.drift is not None
    assert (out / "drift.html").read_text().startswith("<!DOCTYPE html>")
    # the records are those of classify (topics cut back to --top-k after counting)
    assert list(read_output(out)) == classify_reference(bundle_dir, archive, capsys)
    single = tmp_path / "single"
    main(["drift", "--model", str(bundle_dir), str(archive), "--output", str(single)])
    ours, theirs = (json.loads((d / "drift.json").read_text()) for d in (out, single))
    assert ours["batch"]["documents"] == theirs["batch"]["documents"] == 600
    for mine, reference in zip(ours["measures"], theirs["measures"], strict=True):
        assert mine["value"] == pytest.approx(reference["value"], abs=1e-6)
        assert mine["flagged"] == reference["flagged"]

    # a finished partition without its drift counts is scored again; others are kept
    manifest = json.loads((out / "_archive.json").read_text())
    (out / manifest["partitions"][1].replace(".jsonl", ".drift.json")).unlink()
    again = classify_archive(str(archive), out, bundle, partition_mb=0.02, drift=True)
    assert (again.written, again.skipped) == (1, result.partitions - 1)
    assert again.drift == result.drift


def test_cli_drift_exits_3_when_the_archive_moved(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "unknown.jsonl"
    with archive.open("w", encoding="utf-8") as handle:
        for i in range(30):
            handle.write(json.dumps({"id": str(i), "text": f"zqx{i} wvk{i} plorb{i}"}) + "\n")
    argv = ["classify-archive", str(archive), "--output", str(tmp_path / "out")]
    assert main([*argv, "--model", str(bundle_dir), "--drift"]) == 3
    assert "drift: " in capsys.readouterr().out
    assert "oov_rate" in json.loads((tmp_path / "out" / "drift.json").read_text())["flagged"]
    assert main([*argv, "--model", str(bundle_dir)]) == 0  # without --drift: no verdict


def test_drift_with_a_model_without_a_summary_fails_before_any_partition(
    tmp_path: Path, bundle_dir: Path
) -> None:
    from topics.serve.bundle import load_bundle, save_bundle

    bundle = load_bundle(bundle_dir)
    spec = {k: v for k, v in bundle.spec.items() if k != "training_summary"}
    old = read_bundle_files(str(save_bundle(tmp_path / "old", spec, bundle.arrays, {})))
    archive = write_archive(tmp_path / "a.jsonl", 50)
    with pytest.raises(BundleError, match="no training summary"):
        classify_archive(str(archive), tmp_path / "out", old, drift=True)
    assert not (tmp_path / "out").exists()


def test_archive_with_dates_writes_topics_over_time_and_keeps_its_records(
    tmp_path: Path, bundle_dir: Path
) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 600)
    lines = archive.read_text(encoding="utf-8").splitlines(keepends=True)
    with archive.open("w", encoding="utf-8") as handle:
        for i, line in enumerate(lines):
            if line.startswith('{"id"'):
                record = json.loads(line)
                dates: list[Any] = [2004, f"{2001 + i % 3}-0{1 + i % 9}-15", "soon"]
                record["date"] = dates[0 if i % 8 == 0 else 2 if i % 4 == 3 else 1]
                line = json.dumps(record, ensure_ascii=False) + "\n"
            handle.write(line)
    bundle = read_bundle_files(str(bundle_dir))
    plain = classify_archive(str(archive), tmp_path / "plain", bundle, partition_mb=0.02)
    dated = classify_archive(
        str(archive), tmp_path / "dated", bundle, partition_mb=0.02, date_field="date"
    )
    assert dated.partitions > 3  # the totals of several partitions are added up
    assert list(read_output(tmp_path / "dated")) == list(read_output(tmp_path / "plain"))
    assert plain.over_time_files == []
    assert not (tmp_path / "plain" / "topics_over_time.csv").exists()
    with (tmp_path / "dated" / "topics_over_time.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["period"] for row in rows] == ["2001", "2002", "2003", "2004"]
    for row in rows:
        shares = [float(v) for k, v in row.items() if k not in ("period", "documents")]
        assert sum(shares) == pytest.approx(1.0, abs=1e-5)
    assert dated.undated > 100  # "soon" is no date: counted, left out
    assert sum(int(row["documents"]) for row in rows) + dated.undated == dated.documents
    with (tmp_path / "dated" / "labels_over_time.csv").open(encoding="utf-8") as handle:
        assert {row["source"] for row in csv.DictReader(handle)} == {"predicted"}
    assert (tmp_path / "dated" / "topics_over_time.png").is_file()
    with pytest.raises(ArchiveError, match="date_field"):
        classify_archive(str(archive), tmp_path / "dated", bundle, partition_mb=0.02)


def test_drift_and_dates_together_write_both_and_keep_the_records(
    tmp_path: Path, bundle_dir: Path
) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 300)
    bundle = read_bundle_files(str(bundle_dir))
    plain = classify_archive(str(archive), tmp_path / "plain", bundle, partition_mb=0.02)
    drift = classify_archive(
        str(archive), tmp_path / "drift", bundle, partition_mb=0.02, drift=True
    )
    both = classify_archive(
        str(archive), tmp_path / "both", bundle, partition_mb=0.02, drift=True, date_field="id"
    )
    assert plain.partitions > 1
    records = list(read_output(tmp_path / "plain"))
    assert list(read_output(tmp_path / "both")) == records  # cut back to --top-k topics
    assert both.drift is not None and drift.drift is not None
    # the same measures with over-time totals beside them; only the source folder differs
    assert both.drift["measures"] == drift.drift["measures"]
    assert (tmp_path / "both" / "drift.html").is_file()
    assert both.undated == both.documents  # an id is no date: counted, left out


def test_cli_date_field_writes_over_time_and_warns_about_undated_documents(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "dated.jsonl"
    with archive.open("w", encoding="utf-8") as handle:
        for i, (_, text, _) in enumerate(TINY_ARTICLES * 3):
            record: dict[str, Any] = {"id": str(i), "text": text}
            if i % 5:
                record["year"] = str(2001 + i % 2)
            handle.write(json.dumps(record) + "\n")
    out = tmp_path / "out"
    argv = ["classify-archive", str(archive), "--output", str(out), "--model", str(bundle_dir)]
    assert main([*argv, "--date-field", "year", "--period", "year"]) == 0
    captured = capsys.readouterr()
    assert "11 documents have no usable date in 'year'" in captured.err
    assert "topics_over_time.csv" in captured.out
    assert (out / "topics_over_time.png").is_file() and (out / "topics_rise_fall.csv").is_file()


def test_parquet_dates_give_the_same_over_time_files_as_jsonl(
    tmp_path: Path, bundle_dir: Path
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    records = [
        {"id": str(i), "text": text, "date": f"200{i % 3}-0{1 + i % 9}-01" if i % 7 else None}
        for i, (_, text, _) in enumerate(TINY_ARTICLES * 4)
    ]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    columns = {key: [r[key] for r in records] for key in ("id", "text", "date")}
    pq.write_table(pa.table(columns), tmp_path / "a.parquet", row_group_size=20)
    bundle = read_bundle_files(str(bundle_dir))
    options: dict[str, Any] = {"date_field": "date", "period": "quarter"}
    from_jsonl = classify_archive(str(jsonl), tmp_path / "j", bundle, **options)
    from_parquet = classify_archive(str(tmp_path / "a.parquet"), tmp_path / "p", bundle, **options)
    assert from_parquet.partitions > 1 and from_parquet.undated == from_jsonl.undated > 0
    for name in ("topics_over_time.csv", "labels_over_time.csv"):
        jsonl_table = (tmp_path / "j" / name).read_text(encoding="utf-8")
        assert (tmp_path / "p" / name).read_text(encoding="utf-8") == jsonl_table
    assert jsonl_table.splitlines()[1].startswith("2000-Q1,")


def test_topics_lists_the_embedding_topics_of_a_bundle_with_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_embedding_topics import TEXTS, both_topic_models_bundle
    from topics.serve.predictor import Predictor

    model = both_topic_models_bundle(tmp_path / "model")
    archive = tmp_path / "themes.jsonl"
    with archive.open("w", encoding="utf-8") as handle:
        for i in range(60):
            record = {"id": str(i), "text": TEXTS[i % len(TEXTS)], "year": 2001 + i % 3}
            handle.write(json.dumps(record) + "\n")
    bundle = read_bundle_files(str(model))
    options: dict[str, Any] = {"partition_mb": 0.001, "drift": True, "date_field": "year"}
    default = classify_archive(str(archive), tmp_path / "lda", bundle, **options)
    chosen = classify_archive(
        str(archive), tmp_path / "emb", bundle, topic_model="embedding_topics", **options
    )
    assert chosen.partitions > 2
    # the records of classify --topics embedding_topics
    capsys.readouterr()
    argv = ["-f", str(archive), "--format", "jsonl", "--model", str(model)]
    assert classify_main([*argv, "--topics", "embedding_topics"]) == 0
    reference = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert list(read_output(tmp_path / "emb")) == reference
    assert list(read_output(tmp_path / "lda")) != reference
    # over time sums the chosen topic model; drift still compares the default's topic mix
    with (tmp_path / "emb" / "topics_over_time.csv").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    embedding = Predictor.load(model).blocks["embedding_topics"]
    assert header == ["period", "documents", *embedding.topic_names]
    assert chosen.drift is not None and default.drift is not None
    assert chosen.drift["measures"] == default.drift["measures"]
    # a restart must name the same topic model; naming the default resumes without it
    with pytest.raises(ArchiveError, match="topic_model"):
        classify_archive(str(archive), tmp_path / "emb", bundle, **options)
    again = classify_archive(str(archive), tmp_path / "lda", bundle, topic_model="lda", **options)
    assert again.skipped == again.partitions


def test_cli_topics_passes_through_and_refuses_a_name_the_bundle_lacks(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "a.jsonl", 20)
    argv = ["classify-archive", str(archive), "--model", str(bundle_dir)]
    assert main([*argv, "--output", str(tmp_path / "out"), "--topics", "lda"]) in (0, 1)
    capsys.readouterr()
    assert main([*argv, "--output", str(tmp_path / "bad"), "--topics", "embedding_topics"]) == 2
    err = capsys.readouterr().err
    assert err == "topics: error: --topics embedding_topics: this bundle's topic models are lda\n"
    assert not (tmp_path / "bad").exists()  # refused before any work
