"""Runs already in the store: the tags that say which process owns a RUNNING
run, ending the runs whose process is gone (``topics gc``), and a run's
experiment and status."""

from __future__ import annotations

import os
import socket
from functools import partial
from pathlib import Path

import mlflow

from topics.errors import TrackingError
from topics.tracking.store import (
    check_reachable,
    open_store,
    quiet_mlflow,
    resolve_lock_wait,
    resolve_uri,
    retry_locked,
    store_exists,
)

# Who owns a RUNNING run: ``topics gc`` marks it KILLED once that process is gone.
PID_TAG = "topics.pid"
HOST_TAG = "topics.host"
PROCESS_START_TAG = "topics.process_start"
ERROR_TAG = "topics.error"


def process_start(pid: int) -> str:
    """When ``pid`` started (Linux: clock ticks since boot), to tell a reused pid
    from the process that owned a run; empty where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z" and (not started or process_start(pid) == started)


def end_dead_runs(uri: str | None = None, dry_run: bool = False) -> list[dict[str, str]]:
    """Mark KILLED every RUNNING run whose process (pid and host tags) is gone.

    ``kill -9`` gives a run no chance to end itself; its owner's pid, host and
    start time are tags set when the run started. Runs started on another host,
    or by an older topics without those tags, are left alone. Returns one record
    per run ended (``run_id``, ``experiment``, ``name``, ``pid``); ``dry_run``
    only lists them.
    """
    tracking_uri = resolve_uri(uri)
    if not store_exists(tracking_uri):
        return []
    quiet_mlflow()
    check_reachable(tracking_uri)
    open_store(tracking_uri, resolve_lock_wait(None))
    client = mlflow.MlflowClient(tracking_uri)
    wait = resolve_lock_wait(None)
    host = socket.gethostname()
    ended = []
    experiments = retry_locked(client.search_experiments, "list experiments", tracking_uri, wait)
    for experiment in experiments:
        runs = retry_locked(
            partial(
                client.search_runs,
                [experiment.experiment_id],
                filter_string="attributes.status = 'RUNNING'",
            ),
            "list the running runs",
            tracking_uri,
            wait,
        )
        for run in runs:
            tags = run.data.tags
            if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
                continue
            pid = int(tags[PID_TAG])
            if _process_alive(pid, tags.get(PROCESS_START_TAG, "")):
                continue
            run_id = run.info.run_id
            if not dry_run:
                note = f"process {pid} on {host} ended without ending the run (kill -9?)"
                retry_locked(
                    partial(client.set_tag, run_id, ERROR_TAG, note), "tag", tracking_uri, wait
                )
                retry_locked(
                    partial(client.set_terminated, run_id, "KILLED"), "end", tracking_uri, wait
                )
            ended.append(
                {
                    "run_id": run_id,
                    "experiment": experiment.name,
                    "name": run.info.run_name or "",
                    "pid": str(pid),
                }
            )
    return ended


def experiment_of_run(run_id: str, uri: str | None = None) -> str | None:
    """The name of the experiment ``run_id`` belongs to in the store, or None when
    the store does not hold that run (a ``--no-track`` run's id, another store's)
    or does not exist yet. ``topics evaluate`` logs an evaluation beside the run
    it evaluates, as a run of its own (not a child: the model's run is finished)."""
    tracking_uri = resolve_uri(uri)
    if not store_exists(tracking_uri):
        return None
    quiet_mlflow()
    check_reachable(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    wait = resolve_lock_wait(None)
    try:
        run = retry_locked(partial(client.get_run, run_id), "look up", tracking_uri, wait)
        experiment = retry_locked(
            partial(client.get_experiment, run.info.experiment_id), "look up", tracking_uri, wait
        )
    except TrackingError as exc:
        if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
            return None
        raise
    return str(experiment.name)


def run_statuses(run_ids: list[str], uri: str | None = None) -> dict[str, str]:
    """The status (RUNNING, FINISHED, FAILED, KILLED) of each of ``run_ids`` the
    store knows; ids it does not know are left out."""
    tracking_uri = resolve_uri(uri)
    if not run_ids or not store_exists(tracking_uri):
        return {}
    client = mlflow.MlflowClient(tracking_uri)
    wait = resolve_lock_wait(None)
    statuses = {}
    for run_id in run_ids:
        try:
            run = retry_locked(partial(client.get_run, run_id), "look up", tracking_uri, wait)
        except TrackingError as exc:
            if "not found" in str(exc).lower():
                continue
            raise
        statuses[run_id] = str(run.info.status)
    return statuses
