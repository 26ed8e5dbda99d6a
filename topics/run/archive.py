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
) -> dict[str, Any]:
    """Score one partition into ``output_dir/<name>.jsonl`` (atomically); return its counts.
    ``drift``: also write its drift counts to ``<name>.drift.json``, before the output."""
    started = time.perf_counter()
    predictor = _predictor(bundle_files)
    counting = _DriftCounting(predictor, top_k) if drift else None
    target = Path(output_dir) / partition.filename
    errors: list[str] = []
    truncated: list[str] = []
    documents = 0
    # A unique temporary name per attempt: a worker that died left at most litter.
    staging = target.with_name(f".{partition.name}-{os.urandom(6).hex()}.tmp")
    try:
        with staging.open("w", encoding="utf-8") as handle:
            records = _documents(partition, errors, truncated)
            while chunk := list(islice(records, CHUNK)):
                texts = [text for _, text in chunk]
                if counting is None:
                    results = predictor.predict(texts, top_k=top_k)
                else:
                    results = counting.predict(texts)
                for (doc_id, _), result in zip(chunk, results, strict=True):
                    if doc_id is not None:
                        result = {"id": doc_id, **result}
                    handle.write(json.dumps(result, ensure_ascii=False) + "\n")
                documents += len(chunk)
        if counting is not None:
            counting.write(Path(output_dir) / partition.drift_filename)
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
    }


class _DriftCounting:
    """Scores chunks with every topic (the full topic mix), counts them for drift and
    hands back results cut to ``top_k`` topics: the records ``top_k`` alone gives
    (topics are listed by weight, so the first ``top_k`` are the same)."""

    def __init__(self, predictor: Any, top_k: int) -> None:
        from topics.evaluate.drift_counts import DriftCounts, OovCounter, n_topics

        self.predictor, self.top_k, self.n_topics = predictor, top_k, n_topics(predictor)
        self.counts = DriftCounts(list(predictor.labels), predictor.primary)
        self.oov = OovCounter(predictor)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        results = self.predictor.predict(texts, top_k=max(self.top_k, self.n_topics))
        self.counts.add(results, self.oov(texts))
        for result in results:
            result["topics"] = result["topics"][: self.top_k]
        return results

    def write(self, path: Path) -> None:
        staging = path.with_name(f".{path.name}-{os.urandom(6).hex()}.tmp")
        staging.write_text(json.dumps(self.counts.to_json()), encoding="utf-8")
        os.replace(staging, path)


def _documents(
    partition: Partition, errors: list[str], truncated: list[str]
) -> Iterator[tuple[str | None, str]]:
    """The partition's documents; bad lines go to ``errors``, cut documents to ``truncated``."""
    from topics.serve.inputs import MAX_DOCUMENT_CHARS, over_limit

    for where, (doc_id, text) in _records(partition, errors):
        if len(text) > MAX_DOCUMENT_CHARS:
            truncated.append(over_limit(where, len(text)))
            text = text[:MAX_DOCUMENT_CHARS]
        yield doc_id, text


def _records(
    partition: Partition, errors: list[str]
) -> Iterator[tuple[str, tuple[str | None, str]]]:
    from topics.serve.inputs import InputError, _json_document, document_from_record

    if partition.kind == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(partition.source)
        columns = [c for c in ("id", "title", "text") if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(
            batch_size=CHUNK,
            row_groups=list(range(partition.start, partition.stop)),
            columns=columns,
        ):
            for record in batch.to_pylist():
                yield (
                    f"{partition.source}:row-group-{partition.start}",
                    document_from_record(record),
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
        yield where, document


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
) -> ArchiveResult:
    """Classify every document of ``input_pattern`` into partitions under ``output_dir``.

    ``address`` sends partitions to a Dask scheduler; else ``workers`` > 1 starts a
    local Dask cluster of that many processes; else partitions run in this process.
    ``on_partition(counts)`` is called as each partition finishes (progress).
    ``drift``: also write ``drift.html`` and ``drift.json`` for the whole archive
    (the bundle must carry a training summary; checked before any work).
    """
    started = time.perf_counter()
    training = _training_summary(bundle_files) if drift else None
    files = expand_inputs(input_pattern)
    partitions = plan_partitions(files, partition_mb)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_manifest(out, bundle_files, files, partition_mb, top_k, partitions)
    pending = [
        p
        for p in partitions
        if not (out / p.filename).exists() or (drift and not (out / p.drift_filename).exists())
    ]
    result = ArchiveResult(out, len(partitions), skipped=len(partitions) - len(pending))
    for counts in _execute(pending, bundle_files, str(out), top_k, address, workers, drift):
        result.written += 1
        result.documents += counts["documents"]
        result.bad_records += counts["bad_records"]
        result.truncated += counts["truncated"]
        result.errors += counts["errors"][: MAX_REPORTED_ERRORS - len(result.errors)]
        if on_partition is not None:
            on_partition(counts)
    if training is not None:
        result.drift = _write_drift(out, partitions, training, bundle_files)
    result.seconds = time.perf_counter() - started
    return result


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


def _execute(
    pending: list[Partition],
    bundle_files: dict[str, bytes],
    output_dir: str,
    top_k: int,
    address: str | None,
    workers: int,
    drift: bool = False,
) -> Iterator[dict[str, Any]]:
    if not pending:
        return
    if not address and workers <= 1:
        for partition in pending:
            yield classify_partition(partition, bundle_files, output_dir, top_k, drift)
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
                top_k=top_k,
                drift=drift,
                pure=False,
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
) -> None:
    """Write ``_archive.json``, or check that a restart matches the one there."""
    expected: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_manifest_sha256": hashlib.sha256(bundle_files["manifest.json"]).hexdigest(),
        "partition_mb": partition_mb,
        "top_k": top_k,
        "inputs": {str(p.resolve()): p.stat().st_size for p in files},
    }
    path = out / MANIFEST
    if path.exists():
        found = json.loads(path.read_text(encoding="utf-8"))
        for key in ("format", "model_manifest_sha256", "partition_mb", "top_k"):
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
