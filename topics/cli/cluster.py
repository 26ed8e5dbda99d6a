"""The ``topics sweep`` and ``topics classify-archive`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from topics import progress
from topics.cli.arguments import add_config_arguments, add_run_name_argument
from topics.cli.signals import end_on_sigterm
from topics.errors import TopicsError


def build_parser(commands: Any) -> None:
    """Add ``sweep`` and ``classify-archive`` to ``topics``' ``commands``."""
    sweep = commands.add_parser(
        "sweep",
        help="train an experiment over a grid or random values of config keys (nested runs)",
        description="Run every trial of the experiment's sweep: section, in parallel "
        "(joblib here, or a Dask cluster); each trial is a nested MLflow run logged here.",
    )
    add_config_arguments(sweep)
    sweep.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="Dask scheduler for the trials, e.g. tcp://127.0.0.1:8786 (default: dask.address)",
    )
    sweep.add_argument("--json", action="store_true", help="print the result as one JSON line")
    sweep.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    add_run_name_argument(sweep, "'<name>-sweep'; children are named after their trial's params")

    archive = commands.add_parser(
        "classify-archive",
        help="classify a large JSONL/Parquet archive into partitioned JSONL, restartable",
        description="Classify every document of INPUT with a trained bundle; writes "
        "DIR/part-*.jsonl (the records of 'classify --format jsonl'). A rerun skips "
        "finished partitions. INPUT and DIR must be paths all workers can reach.",
    )
    archive.add_argument("input", metavar="INPUT", help="a .jsonl/.parquet file or a glob")
    archive.add_argument("--output", required=True, metavar="DIR", help="output folder")
    archive.add_argument(
        "--model", default="artifacts/latest", help="bundle folder or models:/ / runs:/ URI"
    )
    archive.add_argument("--tracking-uri", help="MLflow store for models:/ and runs:/ URIs")
    archive.add_argument("--dask", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    archive.add_argument(
        "--workers",
        type=int,
        default=1,
        help="without --dask: 1 runs here, N>1 starts a local Dask cluster of N processes",
    )
    archive.add_argument(
        "--partition-mb", type=float, default=16.0, help="JSONL partition size (default: 16)"
    )
    archive.add_argument("--top-k", type=int, default=3, help="dominant topics per document")
    archive.add_argument(
        "--topics",
        metavar="NAME",
        help="which topic model lists the topics (and, with --date-field, their prevalence), "
        "for a bundle with both: lda or embedding_topics (default: lda when the bundle has "
        "it, else embedding_topics); --drift still compares the default's topic mix",
    )
    archive.add_argument(
        "--drift",
        action="store_true",
        help="also write DIR/drift.html and DIR/drift.json: the archive against the model's "
        "training data (as 'topics drift'); exit 3 when a measure moved",
    )
    archive.add_argument(
        "--date-field",
        metavar="FIELD",
        help="record field with a date or year: also write topic and label prevalence "
        "per period into DIR (topics_over_time.csv/.png, labels_over_time.csv)",
    )
    archive.add_argument(
        "--period",
        choices=("year", "quarter", "month"),
        default="year",
        help="period of --date-field (default: year)",
    )


def sweep_command(args: argparse.Namespace) -> int:
    from topics.config import load_config
    from topics.run.sweep import expand_trials, run_sweep
    from topics.run.trackers import make_tracker

    config = load_config(args.experiment, args.overrides)
    end_on_sigterm()
    tracker = make_tracker(config, args.no_track, log_model=False)
    address = args.dask or config.dask.address
    if address:
        from topics.run.dask import require_distributed

        require_distributed()  # fail in one line before a parent run is started
    bar = progress.bar("trials", total=len(expand_trials(config)), unit="trial")

    def report(trial: Any, result: Any) -> None:
        state = "failed: " + result.error if result.error else f"{result.seconds:.1f}s"
        bar.update(1, f"{trial.name} {state}")

    with progress.report_stages():
        result = run_sweep(
            config, tracker, address, args.experiment, on_result=report, parent_name=args.run_name
        )
    bar.close()
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return 0
    metric = result.metric
    print(f"\n{'trial':<11}{metric:>16}{'test_micro_f1':>15}{'seconds':>9}  overrides")
    for row in result.trials:
        metrics = row["metrics"]
        mark = "*" if row["trial"] == result.best_trial else " "
        overrides = ", ".join(f"{k}={json.dumps(v)}" for k, v in row["overrides"].items())
        if row["error"]:
            overrides = f"FAILED: {row['error']}"
        test_f1 = metrics.get("test_micro_f1", float("nan"))
        print(
            f"{row['trial'] + mark:<11}{metrics.get(metric, float('nan')):>16.3f}"
            f"{test_f1:>15.3f}{row['seconds']:>9.1f}  {overrides}"
        )
    print(f"\nbest ({metric}): {result.best_trial}, run {result.best_run_id}")
    print(f"sweep run {result.run_id} -> {result.artifact_dir}")
    if getattr(tracker, "uri", None):
        print(f"  (tracked in {tracker.uri}; children are nested under the sweep run)")
    return 0


def classify_archive_command(args: argparse.Namespace) -> int:
    from topics.run.archive import classify_archive, read_bundle_files

    if args.top_k < 0:
        raise _UsageError("--top-k must be >= 0")
    if args.workers < 1:
        raise _UsageError("--workers must be >= 1")
    if args.dask or args.workers > 1:
        from topics.run.dask import require_distributed

        require_distributed()
    bundle_files = read_bundle_files(args.model, args.tracking_uri)
    bar = _Bar("partitions")

    def report(counts: dict[str, Any]) -> None:
        bar.update(f"{counts['name']}: {counts['documents']} docs")

    result = classify_archive(
        args.input,
        args.output,
        bundle_files,
        address=args.dask,
        workers=args.workers,
        partition_mb=args.partition_mb,
        top_k=args.top_k,
        on_partition=report,
        drift=args.drift,
        date_field=args.date_field,
        period=args.period,
        topic_model=args.topics,
    )
    bar.close()
    for error in result.errors:
        print(f"topics: warning: {error}", file=sys.stderr)
    if result.undated:
        print(
            f"topics: warning: {result.undated} documents have no usable date in "
            f"'{args.date_field}'; left out of the topics-over-time files",
            file=sys.stderr,
        )
    if result.over_time_files:
        print(f"topics over time: {', '.join(Path(f).name for f in result.over_time_files)}")
    rate = result.documents / result.seconds if result.seconds else 0.0
    print(
        f"{result.written} partitions written, {result.skipped} already complete, "
        f"{result.documents} documents ({rate:,.0f}/s), {result.bad_records} bad records "
        f"skipped -> {result.output_dir}"
    )
    if result.drift is not None:
        moved = ", ".join(result.drift["flagged"]) or "nothing"
        print(f"drift: {moved} moved beyond its threshold -> {result.output_dir / 'drift.html'}")
    if result.bad_records:
        return 1
    return 3 if result.drift and result.drift["flagged"] else 0


class _UsageError(TopicsError, ValueError):
    pass


class _Bar:
    """A tqdm bar on a terminal; nothing elsewhere."""

    def __init__(self, unit: str) -> None:
        self.bar = None
        if progress.enabled():
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=unit, unit="", leave=False, dynamic_ncols=True)

    def update(self, message: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(message, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
