"""The ``topics`` commands on the MLflow store: ``register`` a run's model, ``log`` a run
folder whose tracking failed, ``gc`` runs a dead process left RUNNING."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def build_parser(commands: Any) -> None:
    """Add ``register``, ``log`` and ``gc`` to ``topics``' ``commands``."""
    store = "MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)"
    register = commands.add_parser(
        "register",
        help="register a run's model in the MLflow model registry (optionally under an alias)",
        description="Register the model a tracked run logged; classify it with "
        "--model models:/NAME@ALIAS.",
    )
    register.add_argument("run_id", metavar="RUN_ID", help="the run whose model to register")
    register.add_argument("--name", required=True, help="registered model name, e.g. topics-news")
    register.add_argument("--alias", help="alias to point at the new version, e.g. champion")
    register.add_argument("--tracking-uri", help=store)
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


def register_command(args: argparse.Namespace) -> int:
    from topics.tracking import register_run_model, resolve_uri

    version = register_run_model(args.run_id, args.name, args.alias, args.tracking_uri)
    target = f"models:/{args.name}@{args.alias}" if args.alias else f"models:/{args.name}/{version}"
    print(f"registered run {args.run_id} as {args.name} version {version}")
    print(f'  classify --model {target} "some text"   # ({resolve_uri(args.tracking_uri)})')
    return 0


def log_command(args: argparse.Namespace) -> int:
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


def gc_command(args: argparse.Namespace) -> int:
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
