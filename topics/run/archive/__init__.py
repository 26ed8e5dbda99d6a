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

Modules: :mod:`~topics.run.archive.partitions` (inputs, partitions, their records),
:mod:`~topics.run.archive.worker` (one partition scored and written) and
:mod:`~topics.run.archive.driver` (the archive: planning, restarts, merging).
"""

from topics.run.archive.driver import (
    MANIFEST,
    ArchiveResult,
    classify_archive,
    read_bundle_files,
    read_output,
)
from topics.run.archive.partitions import ArchiveError, Partition, expand_inputs, plan_partitions
from topics.run.archive.worker import classify_partition

__all__ = [
    "MANIFEST",
    "ArchiveError",
    "ArchiveResult",
    "Partition",
    "classify_archive",
    "classify_partition",
    "expand_inputs",
    "plan_partitions",
    "read_bundle_files",
    "read_output",
]
