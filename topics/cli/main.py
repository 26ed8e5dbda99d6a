"""The ``topics`` command: run experiments.

Heavy libraries are imported inside the commands, so ``topics --help`` is instant.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics import __version__, progress
from topics.cli.signals import end_on_sigterm
from topics.errors import TopicsError, stdout_closed

# A full disk, a quota, a read-only or forbidden folder: the user's to fix, in one line.
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}

if TYPE_CHECKING:  # the run side is imported by the commands that run
    from topics.run.experiment import RunResult

EPILOG = """\
examples:
  topics init data/my-news.csv            # sniff new data, write experiments/my-news.yaml
  topics run experiments/quickstart.yaml
  topics run experiments/quickstart.yaml --set model.lda.num_topics=12 --set seed=7
  topics run experiments/quickstart.yaml --json | tail -n 1
  topics run experiments/quickstart.yaml --labelled round1.jsonl   # an editor's labels, back in
  topics show-config experiments/quickstart.yaml --set features.tfidf.ngram_range=[1,3]
  topics register RUN_ID --name topics-news --alias champion
  topics log artifacts/quickstart/RUN_ID   # a run whose tracking failed after training
  topics gc                                # end runs a kill -9 left RUNNING, drop their folders
  topics data fetch 20newsgroups          # into $TOPICS_DATA_DIR, else the current directory
  topics sweep experiments/sweep-quickstart.yaml --dask tcp://127.0.0.1:8786
  topics classify-archive 'archive/*.jsonl' --output tagged/ --dask tcp://127.0.0.1:8786
  topics drift --model artifacts/latest new-batch.jsonl   # exit 3: something moved
  topics evaluate --model artifacts/latest experiments/quickstart.yaml   # metrics, report
  topics suggest --model artifacts/latest archive.jsonl --n 20 --output to-label.jsonl

An experiment file names base groups from configs/ under 'defaults' and
overrides only what differs; see README.md.
"""


# --set keys left out of the default run name
NOT_IN_RUN_NAME = ("tracking.", "output_dir", "dask.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="topics",
        description="Train, evaluate and track news classifiers and topic models from YAML.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"topics {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run an experiment: train, evaluate, write artifacts/, log to MLflow",
        description="Run one experiment file end to end.",
    )
    _add_config_arguments(run)
    run.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (run_id, metrics, ...) as the last line",
    )
    run.add_argument(
        "--no-track",
        action="store_true",
        help="do not log to MLflow (same as tracking.enabled=false)",
    )
    run.add_argument(
        "--labelled",
        action="append",
        default=[],
        metavar="FILE",
        help="a labelled round (JSONL: id, text, labels; what 'topics suggest' writes, "
        "filled in) added to training; repeatable, a later file wins for an id "
        "(appends to data.extra_train)",
    )
    _add_run_name_argument(
        run, "the experiment name and the --set overrides, e.g. 'quickstart C=0.1'"
    )

    show = commands.add_parser(
        "show-config", help="print the resolved, validated config of an experiment"
    )
    _add_config_arguments(show)

    register = commands.add_parser(
        "register",
        help="register a run's model in the MLflow model registry (optionally under an alias)",
        description="Register the model a tracked run logged; classify it with "
        "--model models:/NAME@ALIAS.",
    )
    register.add_argument("run_id", metavar="RUN_ID", help="the run whose model to register")
    register.add_argument("--name", required=True, help="registered model name, e.g. topics-news")
    register.add_argument("--alias", help="alias to point at the new version, e.g. champion")
    register.add_argument(
        "--tracking-uri",
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    _add_store_commands(commands)
    data = commands.add_parser("data", help="manage datasets (fetch public archives)")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = data_commands.add_parser(
        "fetch",
        help="download a public archive, check its digest, store it under the data root",
    )
    fetch.add_argument("name", help="20newsgroups or reuters21578")
    fetch.add_argument(
        "--root", help="data root (default: $TOPICS_DATA_DIR, else the current directory)"
    )
    fetch.add_argument("--url", help="download from this URL instead (a mirror)")
    fetch.add_argument("--sha256", help="expected sha256 of the file at --url")
    fetch.add_argument("--force", action="store_true", help="download even if present")
    from topics.cli import init

    init.build_parser(commands)
    _add_cluster_commands(commands)
    from topics.cli import drift, evaluate, suggest

    drift.build_parser(commands)
    evaluate.build_parser(commands)
    suggest.build_parser(commands)
    return parser


def _add_store_commands(commands: Any) -> None:
    store = "MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)"
    log = commands.add_parser(
        "log",
        help="log a finished run folder (params, metrics, bundle) to the MLflow store",
        description="Log RUN_DIR to the store: the run it is named after is resumed if the "
        "store has it (its tracking failed after training), else a new run is made.",
    )
    log.add_argument("run_dir", metavar="RUN_DIR", help="e.g. artifacts/quickstart/RUN_ID")
    log.add_argument("--tracking-uri", help=store + "; default for a failed run: its own")
    gc = commands.add_parser(
        "gc",
        help="mark runs left RUNNING by a dead process KILLED; remove their orphan folders",
        description="End KILLED every RUNNING run whose process (pid and host tags) is gone, "
        "and remove run folders without a bundle whose run is KILLED or FAILED.",
    )
    gc.add_argument("--tracking-uri", help=store)
    gc.add_argument(
        "--output-dir", default="artifacts", help="run folders to scan (default: artifacts)"
    )
    gc.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")


def _add_cluster_commands(commands: Any) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="train an experiment over a grid or random values of config keys (nested runs)",
        description="Run every trial of the experiment's sweep: section, in parallel "
        "(joblib here, or a Dask cluster); each trial is a nested MLflow run logged here.",
    )
    _add_config_arguments(sweep)
    sweep.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="Dask scheduler for the trials, e.g. tcp://127.0.0.1:8786 (default: dask.address)",
    )
    sweep.add_argument("--json", action="store_true", help="print the result as one JSON line")
    sweep.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    _add_run_name_argument(sweep, "'<name>-sweep'; children are named after their trial's params")

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


def _add_run_name_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--run-name", metavar="NAME", help=f"name of the MLflow run (default: {default})"
    )


def default_run_name(experiment: str, overrides: Sequence[str]) -> str:
    """The run name ``topics run`` gives: the experiment and its ``--set`` overrides as
    written, ``quickstart C=0.1 seed=7`` (see :func:`topics.run.trials.run_name`)."""
    from topics.run.trials import run_name

    pairs = {key.strip(): value for key, _, value in (item.partition("=") for item in overrides)}
    # where a run is tracked or written does not tell runs apart
    shown = {key: value for key, value in pairs.items() if not key.startswith(NOT_IN_RUN_NAME)}
    return run_name(experiment, shown)


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", help="experiment YAML file, e.g. experiments/quickstart.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key (repeatable), e.g. --set model.lda.num_topics=12",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_warnings_to_stderr()
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "show-config":
            return _show_config(args)
        if args.command == "register":
            return _register(args)
        if args.command == "data":
            return _data_fetch(args)
        if args.command == "init":
            from topics.cli.init import init_command

            return init_command(args)
        if args.command == "log":
            return _log(args)
        if args.command == "gc":
            return _gc(args)
        if args.command == "sweep":
            from topics.cli.cluster import sweep_command

            return sweep_command(args)
        if args.command == "classify-archive":
            from topics.cli.cluster import classify_archive_command

            return classify_archive_command(args)
        if args.command == "drift":
            from topics.cli.drift import drift_command

            return drift_command(args)
        if args.command == "evaluate":
            from topics.cli.evaluate import evaluate_command

            return evaluate_command(args)
        if args.command == "suggest":
            from topics.cli.suggest import suggest_command

            return suggest_command(args)
    except TopicsError as exc:
        print(f"topics: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.clear_stop()
        print("topics: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return stdout_closed()
    except OSError as exc:
        if exc.errno not in STORAGE_ERRORS:
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        print(
            f"topics: error: {exc.strerror or exc}{where}; free space or fix the folder's "
            "permissions (or --set output_dir=DIR), then rerun",
            file=sys.stderr,
        )
        return 2
    return 1


def _run(args: argparse.Namespace) -> int:
    from topics.config import load_config
    from topics.run.experiment import run
    from topics.run.trackers import make_tracker

    config = load_config(args.experiment, args.overrides)
    shown = list(args.overrides)
    if args.labelled:  # paths as the shell gave them, not under the data root
        files = [str(Path(file).resolve()) for file in args.labelled]
        config.data.extra_train = [*config.data.extra_train, *files]
        shown.append(f"labelled={','.join(Path(file).name for file in args.labelled)}")
    end_on_sigterm()
    tracker = make_tracker(config, args.no_track)
    if progress.enabled():
        print(f"Running {config.name} on {config.data.name} ...", file=sys.stderr)
    name = args.run_name or default_run_name(config.name, shown)
    with progress.report_stages():  # one line per stage, on a terminal or not
        result = run(config, tracker, experiment_file=args.experiment, run_name=name)
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        print(format_summary(result, getattr(tracker, "uri", None)))
    return 0


def _log_warnings_to_stderr() -> None:
    """``topics`` warnings as one line each: ``topics: warning: ...``."""
    logger = logging.getLogger("topics")
    for handler in logger.handlers:  # main() called again: today's stderr, not the first one's
        if getattr(handler, "_topics_cli", False) and isinstance(handler, logging.StreamHandler):
            handler.stream = sys.stderr  # not setStream: it flushes the old, maybe closed, one
    if not any(getattr(h, "_topics_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("topics: warning: %(message)s"))
        handler._topics_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def _show_config(args: argparse.Namespace) -> int:
    from topics.config import config_hash, load_config, to_yaml

    config = load_config(args.experiment, args.overrides)
    print(to_yaml(config), end="")
    print(f"# config hash: {config_hash(config)}")
    return 0


def _register(args: argparse.Namespace) -> int:
    from topics.tracking import register_run_model, resolve_uri

    version = register_run_model(args.run_id, args.name, args.alias, args.tracking_uri)
    target = f"models:/{args.name}@{args.alias}" if args.alias else f"models:/{args.name}/{version}"
    print(f"registered run {args.run_id} as {args.name} version {version}")
    print(f'  classify --model {target} "some text"   # ({resolve_uri(args.tracking_uri)})')
    return 0


def _log(args: argparse.Namespace) -> int:
    from pathlib import Path

    from topics.run.trackers import TRACKING_RECORD, log_run_folder
    from topics.tracking import MlflowTracker

    run_dir = Path(args.run_dir)
    uri, log_model = args.tracking_uri, True
    record = run_dir / TRACKING_RECORD
    if record.is_file():
        saved = json.loads(record.read_text())
        uri = uri or saved.get("tracking_uri")
        log_model = bool(saved.get("log_model", True))
    tracker = MlflowTracker(uri, log_model=log_model)
    run_id = log_run_folder(run_dir, tracker)
    print(f"logged {run_dir} as run {run_id} (tracked in {tracker.uri})")
    return 0


def _gc(args: argparse.Namespace) -> int:
    from pathlib import Path

    from topics.run.trackers import collect_garbage

    found = collect_garbage(Path(args.output_dir), args.tracking_uri, dry_run=args.dry_run)
    verb = "would " if args.dry_run else ""
    for run in found.ended:
        print(
            f"{verb}mark KILLED: run {run['run_id']} ({run['experiment']}/{run['name']}; "
            f"process {run['pid']} is gone)"
        )
    for folder in found.removed:
        print(f"{verb}remove orphan run folder: {folder}")
    if not found.ended and not found.removed:
        print("nothing to collect: no run left RUNNING by a dead process, no orphan folder")
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from topics.config import DATA_ROOT_ENV, DEFAULT_DATA_ROOT
    from topics.data.datasets.fetch import fetch

    root = Path(args.root or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)
    path = fetch(args.name, root, url=args.url, sha256=args.sha256, force=args.force)
    print(path)
    return 0


def format_summary(result: RunResult, tracking_uri: str | None) -> str:
    """The metrics table and next steps printed at the end of ``topics run``."""
    from topics.evaluate.metrics import slug

    scores = result.scores
    models = sorted(name for name in scores.models if scores.split(name, "test"))
    columns = ["micro_f1", "macro_f1", "subset_accuracy"]
    lines = ["", f"{'model':<10}" + "".join(f"{c:>17}" for c in columns)]
    for model in models:
        test = scores.split(model, "test")
        row = "".join(f"{test.get(c, float('nan')):>17.3f}" for c in columns)
        lines.append(f"{model:<10}{row}")
    primary = scores.split(scores.primary or "", "test")
    # labels as written ("human rights"), not as metric keys have them ("human_rights")
    per_label = [(label, f"f1_{slug(label)}") for label in result.labels]
    per_label = [(label, key) for label, key in per_label if key in primary]
    if per_label:
        lines.append("")
        lines.append(
            f"primary model {scores.primary} (the one classify uses), F1 per label: "
            + ", ".join(f"{label} {primary[key]:.3f}" for label, key in per_label)
        )
    if "lda_coherence_c_v" in scores.run:
        lines.append(
            f"LDA coherence: c_v {scores.run['lda_coherence_c_v']:.3f}, "
            f"u_mass {scores.run['lda_coherence_u_mass']:.3f}"
        )
    lines += [
        "",
        f"run {result.run_id} -> {result.artifact_dir}",
        "next:",
        '  classify "Kazakhstan and Korea open a bus and truck plant"   # tag a text',
        "  make ui                                                    # compare runs in MLflow",
        f"  {result.artifact_dir}/report.html   # this run on one page (opens from disk)",
    ]
    if tracking_uri:
        lines.append(f"  topics register {result.run_id} --name topics-news --alias champion")
        lines.append(f"  (tracked in {tracking_uri})")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
