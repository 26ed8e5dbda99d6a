"""One partition of an archive, scored by a worker: the bundle arrives as bytes, the
output is written under a temporary name and renamed when complete."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from topics.run.archive.partitions import CHUNK, Partition, read_documents

MAX_REPORTED_ERRORS = 5
OVER_TIME_DIR = "_over_time"

_PREDICTORS: dict[str, Any] = {}


def predictor_of(bundle_files: dict[str, bytes]) -> Any:
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
    predictor = predictor_of(bundle_files)
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
            records = read_documents(partition, errors, truncated, date_field)
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
