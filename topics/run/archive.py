"""Classify an archive too large for one process: partitions, in parallel, restartable.

The input (JSONL or Parquet; one file or a glob) is cut into partitions without
being read on the driver: byte ranges of about ``partition_mb`` aligned on line
starts for JSONL, row groups for Parquet. Each partition is scored by a worker
with the numpy-only :class:`~topics.serve.predictor.Predictor` and written to
``DIR/<partition>.jsonl``, one line per document in the record format of
``classify --format jsonl`` (``id``, ``labels``, ``scores``, ``topics``).

- **The model travels as bytes.** The driver reads and verifies the bundle, then
  sends its three files to every worker once (``scatter(broadcast=True)``);
  workers verify the checksums again and need no access to the model's path.
- **Input and output are paths.** Workers read their own byte range of INPUT and
  write their partition into DIR, so both must be paths every worker sees (one
  machine, or a shared mount). The driver only handles partition descriptors and
  per-partition counts: its memory does not grow with the archive.
- **Restarts skip finished work.** A partition is written under a temporary name
  and renamed when complete, so an existing ``<partition>.jsonl`` is finished.
  ``DIR/_archive.json`` records the model checksum, partition size and input
  sizes; a restart with different ones is refused instead of mixing outputs.
- **Drift** (``drift=True``): each partition also writes ``<partition>.drift.json``,
  the additive counts of :mod:`topics.evaluate.drift`; the driver merges every
  partition's and writes ``DIR/drift.html`` and ``DIR/drift.json`` against the
  bundle's training summary. A finished partition without its counts is scored again.
- **Topics over time.** With ``date_field``, each partition also sums its
  documents' topic proportions and predicted labels per period into
  ``DIR/_over_time/<partition>.json`` (written before the partition itself), and
  the driver adds them up into the files of :mod:`topics.evaluate.over_time`
  (``DIR/topics_over_time.csv``, ``labels_over_time.csv``, ...).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from topics.errors import TopicsError

__all__ = [
    "ArchiveResult",
    "Partition",
    "classify_archive",
    "classify_partition",
    "plan_partitions",
    "read_output",
]

MANIFEST = "_archive.json"
FORMAT = "topics-archive-output"
FORMAT_VERSION = 1
DEFAULT_PARTITION_MB = 16.0
CHUNK = 1024
MAX_REPORTED_ERRORS = 5
BUNDLE_FILES = ("manifest.json", "model.json", "arrays.npz")
DRIFT_SUFFIX = ".drift.json"
OVER_TIME_DIR = "_over_time"
CHOICES = ("date_field", "period", "topic_model")  # options a restart must repeat


class ArchiveError(TopicsError, ValueError):
    """The input, output folder or options cannot be used."""


@dataclass(frozen=True)
class Partition:
    """A slice of one input file: bytes ``[start, stop)`` (JSONL) or row groups (Parquet)."""

    name: str
    source: str
    kind: str  # "jsonl" or "parquet"
    start: int
    stop: int

    @property
    def filename(self) -> str:
        return f"{self.name}.jsonl"

    @property
    def drift_filename(self) -> str:
        return f"{self.name}{DRIFT_SUFFIX}"


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


# ---------------------------------------------------------------------------
# Planning (driver): which partitions exist, without reading the data


def expand_inputs(pattern: str) -> list[Path]:
    """The files ``pattern`` names (a path or a glob), sorted."""
    paths = sorted(map(Path, glob.glob(pattern))) if glob.has_magic(pattern) else [Path(pattern)]
    files = [p for p in paths if p.is_file()]
    if not files:
        raise ArchiveError(
            f"{pattern}: no input files found; pass a .jsonl/.parquet file or a glob"
        )
    for path in files:
        _kind(path)
    return files


def plan_partitions(files: Iterable[Path], partition_mb: float) -> list[Partition]:
    """Partitions of every file in order; names are stable for the same inputs and size."""
    if partition_mb <= 0:
        raise ArchiveError(f"--partition-mb must be > 0, got {partition_mb}")
    blocksize = max(1, int(partition_mb * 1024 * 1024))
    partitions = []
    for path in files:
        kind = _kind(path)
        path_hash = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
        prefix = f"part-{_slug(path.stem)}-{path_hash}"
        if kind == "parquet":
            import pyarrow.parquet as pq

            groups = pq.ParquetFile(path).metadata.num_row_groups
            ranges = [(g, g + 1) for g in range(groups)]
        else:
            size = path.stat().st_size
            ranges = [(lo, min(lo + blocksize, size)) for lo in range(0, size, blocksize)]
        partitions += [
            Partition(f"{prefix}-{i:05d}", str(path.resolve()), kind, lo, hi)
            for i, (lo, hi) in enumerate(ranges)
        ]
    return partitions


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    raise ArchiveError(
        f"{path}: expected a .jsonl or .parquet file, found '{suffix or 'no suffix'}'"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40] or "input"


# ---------------------------------------------------------------------------
# One partition (worker)

_PREDICTORS: dict[str, Any] = {}


def _predictor(bundle_files: dict[str, bytes]) -> Any:
    """The bundle as a Predictor, built once per process and verified on load."""
    from topics.serve.predictor import Predictor

    key = hashlib.sha256(bundle_files["manifest.json"]).hexdigest()
    if key not in _PREDICTORS:
        with tempfile.TemporaryDirectory(prefix="topics-bundle-") as tmp:
            for name, content in bundle_files.items():
                (Path(tmp) / name).write_bytes(content)
            _PREDICTORS[key] = Predictor.load(tmp)  # checks every checksum
    return _PREDICTORS[key]


def classify_partition(
    partition: Partition,
    bundle_files: dict[str, bytes],
    output_dir: str,
    top_k: int = 3,
    drift: bool = False,
    date_field: str | None = None,
    period: str = "year",
    topic_model: str | None = None,
) -> dict[str, Any]:
    """Score one partition into ``output_dir/<name>.jsonl`` (atomically); return its counts.

    ``drift``: also write its drift counts to ``<name>.drift.json``. With
    ``date_field``, the partition's totals per period (topic proportions and
    predicted labels, see :class:`topics.evaluate.over_time.PeriodTotals`) go to
    ``output_dir/_over_time/<name>.json``. Both are written before the output.
    ``topic_model``: which of the bundle's topic models lists the topics (and sums
    them over time); default the bundle's, which drift always counts.
    """
    from topics.evaluate.drift_counts import n_topics as topic_count
    from topics.evaluate.over_time import PeriodTotals, period_of

    started = time.perf_counter()
    predictor = _predictor(bundle_files)
    counting = _DriftCounting(predictor, topic_model) if drift else None
    target = Path(output_dir) / partition.filename
    errors: list[str] = []
    truncated: list[str] = []
    documents = 0
    # drift and over time need every topic's weight, not only the top_k written out
    n_topics = topic_count(predictor, topic_model) if drift or date_field else 0
    totals = PeriodTotals()
    # A unique temporary name per attempt: a worker that died left at most litter.
    staging = target.with_name(f".{partition.name}-{os.urandom(6).hex()}.tmp")
    try:
        with staging.open("w", encoding="utf-8") as handle:
            records = _documents(partition, errors, truncated, date_field)
            while chunk := list(islice(records, CHUNK)):
                texts = [text for _, text, _ in chunk]
                results = predictor.predict(
                    texts, top_k=max(top_k, n_topics), topic_model=topic_model
                )
                if counting is not None:
                    counting.add(texts, results)
                if date_field:
                    periods = [period_of(date, period) for _, _, date in chunk]
                    totals = totals.merge(_chunk_totals(predictor, periods, results, n_topics))
                for (doc_id, _, _), result in zip(chunk, results, strict=True):
                    if n_topics:
                        result["topics"] = result["topics"][:top_k]
                    if doc_id is not None:
                        result = {"id": doc_id, **result}
                    handle.write(json.dumps(result, ensure_ascii=False) + "\n")
                documents += len(chunk)
        if counting is not None:
            counting.write(Path(output_dir) / partition.drift_filename)
        if date_field:
            sums = Path(output_dir) / OVER_TIME_DIR / f"{partition.name}.json"
            _write_json(sums, totals.to_json())
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return {
        "name": partition.name,
        "documents": documents,
        "bad_records": len(errors),
        "truncated": len(truncated),
        # Reported as warnings: the bad records first, then the documents cut to the limit.
        "errors": (errors + truncated)[:MAX_REPORTED_ERRORS],
        "seconds": time.perf_counter() - started,
        "undated": totals.missing,
    }


class _DriftCounting:
    """Counts scored chunks for drift; the chunks carry every topic (the full topic mix)."""

    def __init__(self, predictor: Any, topic_model: str | None = None) -> None:
        from topics.evaluate.drift_counts import DriftCounts, OovCounter

        self.counts = DriftCounts(list(predictor.labels), predictor.primary)
        self.oov = OovCounter(predictor)
        # the training summary holds the default topic model's mix: another one listed
        # in the output costs a second scoring of each chunk, for drift alone
        self.predictor = predictor
        self.rescore = topic_model not in (None, predictor.topic_model)

    def add(self, texts: list[str], results: list[dict[str, Any]]) -> None:
        if self.rescore:
            from topics.evaluate.drift_counts import n_topics

            results = self.predictor.predict(texts, top_k=n_topics(self.predictor))
        self.counts.add(results, self.oov(texts))

    def write(self, path: Path) -> None:
        _write_json(path, self.counts.to_json())


def _chunk_totals(
    predictor: Any, periods: list[str | None], results: list[dict[str, Any]], n_topics: int
) -> Any:
    """Per-period totals of one scored chunk: full topic mixes and predicted labels."""
    from topics.evaluate.over_time import PeriodTotals

    labels = predictor.labels
    y = np.array([[label in r["labels"] for label in labels] for r in results], dtype=np.int64)
    theta = None
    if n_topics:
        theta = np.zeros((len(results), n_topics))
        for i, result in enumerate(results):
            for topic in result["topics"]:
                theta[i, topic["topic"]] = topic["weight"]
        theta /= np.maximum(theta.sum(axis=1, keepdims=True), 1e-12)  # weights are rounded
    return PeriodTotals.accumulate(periods, theta, y.reshape(len(results), len(labels)))


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}-{os.urandom(6).hex()}.tmp")
    staging.write_text(json.dumps(data), encoding="utf-8")
    os.replace(staging, path)


def _documents(
    partition: Partition, errors: list[str], truncated: list[str], date_field: str | None = None
) -> Iterator[tuple[str | None, str, Any]]:
    """The partition's documents with their ``date_field`` value (None without one); bad
    lines go to ``errors``, cut documents to ``truncated``."""
    from topics.serve.inputs import MAX_DOCUMENT_CHARS, over_limit

    for where, (doc_id, text), date in _records(partition, errors, date_field):
        if len(text) > MAX_DOCUMENT_CHARS:
            truncated.append(over_limit(where, len(text)))
            text = text[:MAX_DOCUMENT_CHARS]
        yield doc_id, text, date


def _records(
    partition: Partition, errors: list[str], date_field: str | None = None
) -> Iterator[tuple[str, tuple[str | None, str], Any]]:
    from topics.serve.inputs import InputError, _json_document, document_from_record

    if partition.kind == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(partition.source)
        wanted = ("id", "title", "text", *([date_field] if date_field else []))
        columns = [c for c in wanted if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(
            batch_size=CHUNK,
            row_groups=list(range(partition.start, partition.stop)),
            columns=columns,
        ):
            for record in batch.to_pylist():
                yield (
                    f"{partition.source}:row-group-{partition.start}",
                    document_from_record(record),
                    record.get(date_field) if date_field else None,
                )
        return
    for offset, line in _lines(partition.source, partition.start, partition.stop):
        if not line.strip():
            continue
        where = f"{partition.source}@{offset}"
        try:
            document = _json_document(line.decode("utf-8", errors="replace"), where)
        except InputError as exc:  # one bad line costs one document, as in classify
            errors.append(str(exc))
            continue
        yield where, document, _date_of(line, date_field) if date_field else None


def _date_of(line: bytes, date_field: str) -> Any:
    """The ``date_field`` value of a JSONL line that parsed as a document (None if absent)."""
    record = json.loads(line.decode("utf-8", errors="replace"))
    return record.get(date_field) if isinstance(record, dict) else None


def _lines(path: str, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """Every line that starts in ``[start, stop)``, read to its end (maybe past ``stop``)."""
    with open(path, "rb") as handle:
        if start > 0:
            handle.seek(start - 1)
            handle.readline()  # the rest of the line that started before ``start``
        offset = handle.tell()
        while offset < stop:
            line = handle.readline()
            if not line:
                break
            yield offset, line
            offset += len(line)


# ---------------------------------------------------------------------------
# The archive (driver)


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
    predictor = _predictor(bundle_files)
    if topic_model not in predictor.topic_models:
        has = ", ".join(predictor.topic_models)
        found = f"this bundle's topic models are {has}" if has else "this bundle has none"
        raise ArchiveError(f"--topics {topic_model}: {found}")
    return None if topic_model == predictor.topic_model else topic_model


def _training_summary(bundle_files: dict[str, bytes]) -> Any:
    """The training side of drift reports, from the bundle (verified by the driver)."""
    from topics.evaluate.drift import training_summary

    return training_summary(_predictor(bundle_files))


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
    names = topic_names(_predictor(bundle_files))
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
    predictor = _predictor(bundle_files)
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
