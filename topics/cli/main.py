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
from typing import TYPE_CHECKING

from topics import __version__, progress
from topics.cli import cluster, store
from topics.cli.arguments import add_config_arguments, add_run_name_argument
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
    add_config_arguments(run)
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
    add_run_name_argument(
        run, "the experiment name and the --set overrides, e.g. 'quickstart C=0.1'"
    )

    show = commands.add_parser(
        "show-config", help="print the resolved, validated config of an experiment"
    )
    add_config_arguments(show)

    store.build_parser(commands)
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
    cluster.build_parser(commands)
    from topics.cli import drift, evaluate, suggest

    drift.build_parser(commands)
    evaluate.build_parser(commands)
    suggest.build_parser(commands)
    return parser


def default_run_name(experiment: str, overrides: Sequence[str]) -> str:
    """The run name ``topics run`` gives: the experiment and its ``--set`` overrides as
    written, ``quickstart C=0.1 seed=7`` (see :func:`topics.run.trials.run_name`)."""
    from topics.run.trials import run_name

    pairs = {key.strip(): value for key, _, value in (item.partition("=") for item in overrides)}
    # where a run is tracked or written does not tell runs apart
    shown = {key: value for key, value in pairs.items() if not key.startswith(NOT_IN_RUN_NAME)}
    return run_name(experiment, shown)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_warnings_to_stderr()
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "show-config":
            return _show_config(args)
        if args.command == "register":
            return store.register_command(args)
        if args.command == "data":
            return _data_fetch(args)
        if args.command == "init":
            from topics.cli.init import init_command

            return init_command(args)
        if args.command == "log":
            return store.log_command(args)
        if args.command == "gc":
            return store.gc_command(args)
        if args.command == "sweep":
            return cluster.sweep_command(args)
        if args.command == "classify-archive":
            return cluster.classify_archive_command(args)
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
