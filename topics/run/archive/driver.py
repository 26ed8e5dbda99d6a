"""The archive, driven: partitions planned, sent to workers (this process, local Dask
processes or a scheduler), restarts checked against ``_archive.json``, and the
partitions' drift counts and totals over time merged."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topics.run.archive.partitions import (
    ArchiveError,
    Partition,
    expand_inputs,
    plan_partitions,
)
from topics.run.archive.worker import (
    MAX_REPORTED_ERRORS,
    OVER_TIME_DIR,
    classify_partition,
    predictor_of,
)

MANIFEST = "_archive.json"
FORMAT = "topics-archive-output"
FORMAT_VERSION = 1
DEFAULT_PARTITION_MB = 16.0
BUNDLE_FILES = ("manifest.json", "model.json", "arrays.npz")
CHOICES = ("date_field", "period", "topic_model")  # options a restart must repeat


@dataclass
class ArchiveResult:
    output_dir: Path
    partitions: int
    written: int = 0
    skipped: int = 0
    documents: int = 0
    bad_records: int = 0
    truncated: int = 0  # documents over the per-document limit, cut to it
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    drift: dict[str, Any] | None = None  # drift.json's content, with drift=True
    undated: int = 0  # with date_field: documents without a usable date, left out
    over_time_files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "output_dir": str(self.output_dir)}


def read_bundle_files(model: str, tracking_uri: str | None = None) -> dict[str, bytes]:
    """The bundle's files as bytes, verified here first (a bad model fails before any work)."""
    from topics.serve.bundle import load_bundle

    if model.startswith(("models:/", "runs:/")):
        from topics.tracking import fetch_bundle

        with tempfile.TemporaryDirectory(prefix="topics-model-") as tmp:
            return read_bundle_files(str(fetch_bundle(model, tmp, tracking_uri)))
    bundle = load_bundle(model)
    return {name: (bundle.path / name).read_bytes() for name in BUNDLE_FILES}


def classify_archive(
    input_pattern: str,
    output_dir: str | Path,
    bundle_files: dict[str, bytes],
    address: str | None = None,
    workers: int = 1,
    partition_mb: float = DEFAULT_PARTITION_MB,
    top_k: int = 3,
    on_partition: Callable[[dict[str, Any]], None] | None = None,
    drift: bool = False,
    date_field: str | None = None,
    period: str = "year",
    topic_model: str | None = None,
) -> ArchiveResult:
    """Classify every document of ``input_pattern`` into partitions under ``output_dir``.

    ``address`` sends partitions to a Dask scheduler; else ``workers`` > 1 starts a
    local Dask cluster of that many processes; else partitions run in this process.
    ``on_partition(counts)`` is called as each partition finishes (progress).
    ``drift``: also write ``drift.html`` and ``drift.json`` for the whole archive
    (the bundle must carry a training summary; checked before any work).
    ``date_field`` (a record field holding a date or year) adds the topics-over-time
    files per ``period`` to ``output_dir`` (see :mod:`topics.evaluate.over_time`).
    ``topic_model`` (``lda``, ``embedding_topics``): which of the bundle's topic models
    lists the topics; default its LDA when it has one (checked before any work).
    """
    started = time.perf_counter()
    training = _training_summary(bundle_files) if drift else None
    topic_model = _topic_model(bundle_files, topic_model)
    files = expand_inputs(input_pattern)
    partitions = plan_partitions(files, partition_mb)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    choices = {
        "date_field": date_field,
        "period": period if date_field else None,
        "topic_model": topic_model,
    }
    _check_manifest(out, bundle_files, files, partition_mb, top_k, partitions, choices)
    pending = [
        p
        for p in partitions
        if not (out / p.filename).exists() or (drift and not (out / p.drift_filename).exists())
    ]
    result = ArchiveResult(out, len(partitions), skipped=len(partitions) - len(pending))
    options = {
        "top_k": top_k,
        "drift": drift,
        "date_field": date_field,
        "period": period,
        "topic_model": topic_model,
    }
    for counts in _execute(pending, bundle_files, str(out), options, address, workers):
        result.written += 1
        result.documents += counts["documents"]
        result.bad_records += counts["bad_records"]
        result.truncated += counts["truncated"]
        result.errors += counts["errors"][: MAX_REPORTED_ERRORS - len(result.errors)]
        if on_partition is not None:
            on_partition(counts)
    if training is not None:
        result.drift = _write_drift(out, partitions, training, bundle_files)
    if date_field:
        written, result.undated = write_archive_over_time(out, partitions, bundle_files, period)
        result.over_time_files = [str(path) for path in written]
    result.seconds = time.perf_counter() - started
    return result


def _topic_model(bundle_files: dict[str, bytes], topic_model: str | None) -> str | None:
    """``topic_model`` checked against the bundle; None for its default topic model, so
    that naming the default resumes an archive started without the option."""
    if topic_model is None:
        return None
    predictor = predictor_of(bundle_files)
    if topic_model not in predictor.topic_models:
        has = ", ".join(predictor.topic_models)
        found = f"this bundle's topic models are {has}" if has else "this bundle has none"
        raise ArchiveError(f"--topics {topic_model}: {found}")
    return None if topic_model == predictor.topic_model else topic_model


def _training_summary(bundle_files: dict[str, bytes]) -> Any:
    """The training side of drift reports, from the bundle (verified by the driver)."""
    from topics.evaluate.drift import training_summary

    return training_summary(predictor_of(bundle_files))


def _write_drift(
    out: Path, partitions: list[Partition], training: Any, bundle_files: dict[str, bytes]
) -> dict[str, Any]:
    """Merge every partition's drift counts and write the archive's drift report."""
    from topics.evaluate.drift import DriftCounts, compare, topic_names
    from topics.evaluate.drift_page import write_drift_report

    batch = DriftCounts(training.labels, training.model, source=f"archive {out}")
    for partition in partitions:
        path = out / partition.drift_filename
        counts = DriftCounts.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
        batch = batch.merge(counts)
    names = topic_names(predictor_of(bundle_files))
    report = compare(training, batch, topic_names=names)
    write_drift_report(report, out)
    return report.to_json()


def write_archive_over_time(
    out: Path, partitions: list[Partition], bundle_files: dict[str, bytes], period: str
) -> tuple[list[Path], int]:
    """Add up every partition's totals per period and write the over-time files into
    ``out``; returns the files and how many documents had no usable date."""
    from topics.evaluate.over_time import PeriodTotals, write_over_time

    totals = PeriodTotals()
    for partition in partitions:
        data = json.loads((out / OVER_TIME_DIR / f"{partition.name}.json").read_text("utf-8"))
        totals = totals.merge(PeriodTotals.from_json(data))
    predictor = predictor_of(bundle_files)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    block = predictor.topic_block(manifest.get("topic_model"))
    names = block.topic_names if block is not None else []
    written = write_over_time(
        out,
        totals if totals.topics else None,
        names,
        {"predicted": totals},
        predictor.labels,
        date_field=manifest["date_field"],
        period=period,
    )
    return written, totals.missing


def _execute(
    pending: list[Partition],
    bundle_files: dict[str, bytes],
    output_dir: str,
    options: dict[str, Any],
    address: str | None,
    workers: int,
) -> Iterator[dict[str, Any]]:
    """Each pending partition through :func:`classify_partition` (``options``: its
    keyword arguments ``top_k``, ``drift``, ``date_field``, ``period``, ``topic_model``)."""
    if not pending:
        return
    if not address and workers <= 1:
        for partition in pending:
            yield classify_partition(partition, bundle_files, output_dir, **options)
        return
    from topics.run.dask import connect, local_cluster, require_distributed

    distributed = require_distributed()
    cluster = None if address else local_cluster(workers)
    try:
        with connect(address or cluster.scheduler_address) as client:  # type: ignore[union-attr]
            [bundle] = client.scatter([bundle_files], broadcast=True, hash=False)
            futures = client.map(
                classify_partition,
                pending,
                bundle_files=bundle,
                output_dir=output_dir,
                pure=False,
                **options,
            )
            for future in distributed.as_completed(futures):
                yield future.result()
                future.release()
    finally:
        if cluster is not None:
            cluster.close()


def _check_manifest(
    out: Path,
    bundle_files: dict[str, bytes],
    files: list[Path],
    partition_mb: float,
    top_k: int,
    partitions: list[Partition],
    choices: dict[str, Any] | None = None,
) -> None:
    """Write ``_archive.json``, or check that a restart matches the one there
    (``choices``: ``date_field``, ``period`` and ``topic_model``)."""
    expected: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_manifest_sha256": hashlib.sha256(bundle_files["manifest.json"]).hexdigest(),
        "partition_mb": partition_mb,
        "top_k": top_k,
        "inputs": {str(p.resolve()): p.stat().st_size for p in files},
        **dict.fromkeys(CHOICES),
        **(choices or {}),
    }
    path = out / MANIFEST
    if path.exists():
        found = json.loads(path.read_text(encoding="utf-8"))
        keys = ("format", "model_manifest_sha256", "partition_mb", "top_k", *CHOICES)
        for key in keys:
            if found.get(key) != expected[key]:
                raise ArchiveError(
                    f"{out} holds output made with another {key} ({found.get(key)!r}, now "
                    f"{expected[key]!r}); resume with the same options or use a new --output"
                )
        for name, size in expected["inputs"].items():
            if name in found.get("inputs", {}) and found["inputs"][name] != size:
                raise ArchiveError(
                    f"{name} changed size since {out} was started ({found['inputs'][name]} -> "
                    f"{size} bytes); its partitions would not line up: use a new --output"
                )
        expected["inputs"] = {**found.get("inputs", {}), **expected["inputs"]}
    expected["partitions"] = [p.filename for p in partitions]
    staging = out / f".{MANIFEST}.tmp"
    staging.write_text(json.dumps(expected, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(staging, path)


def read_output(output_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Every output record in input order (partitions as ``_archive.json`` lists them)."""
    out = Path(output_dir)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    for filename in manifest["partitions"]:
        with (out / filename).open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)
