"""Reading an archive without loading it: its files, their partitions (byte ranges of
JSONL aligned on line starts, or Parquet row groups) and each partition's documents."""

from __future__ import annotations

import glob
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topics.errors import TopicsError

CHUNK = 1024  # documents read (and scored) at a time
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


def read_documents(
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
