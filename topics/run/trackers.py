"""What a run needs from an experiment tracker, and the tracker a config asks for.

:class:`topics.tracking.MlflowTracker` is the real one (imported only when
tracking is on); :class:`NullTracker` tracks nothing; tests pass a recorder.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from topics import progress
from topics.config import ExperimentConfig, flatten, validate_config
from topics.errors import TopicsError, TrackingError

logger = logging.getLogger(__name__)
# Written into a run folder whose tracking failed after training: what
# ``topics log RUN_DIR`` sends to the store later.
TRACKING_RECORD = "tracking.json"
RUN_ID = re.compile(r"[0-9a-f]{32}")


class Tracker(Protocol):
    """What :func:`run` needs from an experiment tracker."""

    def start_run(
        self, experiment: str, run_name: str, tags: dict[str, str], description: str
    ) -> str: ...
    def log_params(self, params: dict[str, Any]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def log_artifacts(self, directory: Path) -> None: ...
    def log_model(self, bundle_dir: Path) -> None: ...
    def end_run(self, status: str, error: str | None = None) -> None: ...
    def log_dataset(self, name: str, digest: str, source: str, context: str = "corpus") -> None: ...
    def child_run(self, name: str, params: dict[str, Any]) -> AbstractContextManager[str]:
        """A nested run; ``log_*`` calls inside the block go to it. Yields its id."""
        ...

    def log_best_child(self, run_id: str, metrics: dict[str, float]) -> None:
        """On the parent: the best child's metrics and a tag naming its run id."""
        ...


class NullTracker:
    """Tracks nothing (``tracking.enabled: false``); run ids are random hex."""

    def start_run(
        self, experiment: str, run_name: str, tags: dict[str, str], description: str
    ) -> str:
        return os.urandom(16).hex()

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_artifacts(self, directory: Path) -> None:
        pass

    def log_model(self, bundle_dir: Path) -> None:
        pass

    def end_run(self, status: str, error: str | None = None) -> None:
        pass

    def log_dataset(self, name: str, digest: str, source: str, context: str = "corpus") -> None:
        pass

    @contextmanager
    def child_run(self, name: str, params: dict[str, Any]) -> Iterator[str]:
        yield os.urandom(16).hex()

    def log_best_child(self, run_id: str, metrics: dict[str, float]) -> None:
        pass


class StepRecorder(NullTracker):
    """Keeps the stepped metrics (training curves) a fit reports, where nothing is
    tracked: on a sweep worker, to be logged on the trial's child run."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, dict[str, float]]] = []

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if step is not None:
            self.steps.append((step, dict(metrics)))


@contextmanager
def tracked_run(
    tracker: Tracker,
    experiment: str,
    run_name: str,
    tags: dict[str, str],
    description: str,
    resume: str | None = None,
) -> Iterator[str]:
    """Start a tracked run, yield its id, and end it with the status the block earned.

    FINISHED when the block returns; FAILED, with ``"<ExceptionType>: <message>"`` as
    the error, when it raises; KILLED on Ctrl-C, or SIGTERM once
    :func:`topics.cli.signals.end_on_sigterm` turns it into ``KeyboardInterrupt``.
    The exception always propagates. ``resume`` names a run of the store to continue
    (an MLflow tracker's ``start_run(run_id=...)``) instead of starting a new one.

    Examples
    --------
    >>> with tracked_run(NullTracker(), "quickstart", "quickstart", {}, "") as run_id:
    ...     pass  # log params, metrics and artifacts here
    """
    resumed = {"run_id": resume} if resume else {}
    run_id = tracker.start_run(experiment, run_name, tags, description, **resumed)
    status, error = "FAILED", None
    try:
        yield run_id
        status = "FINISHED"
    except KeyboardInterrupt:
        progress.clear_stop()  # ending the run is what the stop asked for
        status, error = "KILLED", "interrupted (Ctrl-C or SIGTERM)"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if status == "FINISHED":
            tracker.end_run(status, error)
        else:  # the block's own error is the one to report, not the store's
            try:
                tracker.end_run(status, error)
            except TopicsError as exc:
                logger.warning("could not mark run %s %s: %s", run_id, status, exc)


@contextmanager
def kept_when_untracked(run_dir: Path, record: dict[str, Any]) -> Iterator[None]:
    """Around the tracker calls that follow training: when the store fails
    (locked past the retries, full, read-only), the run folder keeps the bundle and
    metrics, ``record`` (experiment, run name, tags, description, params, dataset,
    tracking URI) is saved beside them, and the error says how to log them later.

    Examples
    --------
    >>> with kept_when_untracked(run_dir, record):  # doctest: +SKIP
    ...     tracker.log_metrics(metrics)
    """
    try:
        yield
    except TrackingError as exc:
        (run_dir / TRACKING_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
        raise TrackingError(
            f"training finished but tracking failed ({exc}); the bundle and metrics are "
            f"kept in {run_dir}: log them later with 'topics log {run_dir}'"
        ) from exc


def log_run_folder(run_dir: Path, tracker: Any) -> str:
    """Log a finished run folder (params, metrics, artifacts, bundle) with ``tracker``.

    The run the folder is named after is resumed when the store has it (a run whose
    tracking failed after training); otherwise a new run is made. Params, tags and
    the dataset come from ``tracking.json`` when the failed run saved it, else from
    the folder's ``config.yaml`` and the bundle's manifest. Returns the run id.
    """
    manifest_file = run_dir / "model" / "manifest.json"
    if not (run_dir / "metrics.json").is_file() or not manifest_file.is_file():
        raise TrackingError(
            f"{run_dir} is not a finished run folder (expected metrics.json and "
            "model/manifest.json in it); pass a folder like artifacts/NAME/RUN_ID"
        )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    record = _tracking_record(run_dir, json.loads(manifest_file.read_text()))
    with tracked_run(
        tracker,
        record["experiment"],
        record["run_name"],
        record["tags"],
        record["description"],
        resume=run_dir.name,
    ) as run_id:
        dataset = record.get("dataset")
        if dataset:
            tracker.log_dataset(dataset["name"], dataset["digest"], dataset["source"])
        tracker.log_params(record["params"])
        tracker.log_metrics(metrics)
        tracker.log_artifacts(run_dir)
        tracker.log_model(run_dir / "model")
    return str(run_id)


def _tracking_record(run_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    saved = run_dir / TRACKING_RECORD
    if saved.is_file():
        return dict(json.loads(saved.read_text()))
    if not (run_dir / "config.yaml").is_file():
        raise TrackingError(
            f"{run_dir} has neither {TRACKING_RECORD} nor config.yaml; "
            "it was not written by topics run"
        )
    config = validate_config(yaml.safe_load((run_dir / "config.yaml").read_text()))
    return {
        "experiment": config.tracking.experiment_name or config.name,
        "run_name": config.name,
        "tags": {
            "topics.config_hash": str(manifest.get("config_hash", "")),
            "topics.data_fingerprint": str(manifest.get("data_fingerprint", "")),
            "topics.dataset": config.data.name,
        },
        "description": "",
        "params": flatten(config.model_dump(mode="json")),
    }


@dataclass
class Garbage:
    """What :func:`collect_garbage` found: runs it ended KILLED, folders it removed."""

    ended: list[dict[str, str]] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def collect_garbage(output_dir: Path, uri: str | None = None, dry_run: bool = False) -> Garbage:
    """End the runs ``kill -9`` left RUNNING and remove their orphan run folders.

    A run is ended KILLED when the process that started it (its ``topics.pid`` /
    ``topics.host`` tags) is gone. An orphan is a folder ``output_dir/NAME/RUN_ID``
    with no bundle (no ``model/manifest.json``) whose run the store has as
    KILLED or FAILED; a folder with a bundle (e.g. one waiting for ``topics log``)
    or of a run the store does not know is kept. ``dry_run`` changes nothing.
    """
    from topics.tracking import end_dead_runs, run_statuses

    ended = end_dead_runs(uri, dry_run=dry_run)
    candidates = sorted(
        folder
        for folder in output_dir.glob("*/*")
        if folder.is_dir()
        and not folder.is_symlink()
        and RUN_ID.fullmatch(folder.name)
        and not (folder / "model" / "manifest.json").is_file()
    )
    statuses = run_statuses([folder.name for folder in candidates], uri)
    statuses.update({run["run_id"]: "KILLED" for run in ended})
    removed = [f for f in candidates if statuses.get(f.name) in ("KILLED", "FAILED")]
    if not dry_run:
        for folder in removed:
            shutil.rmtree(folder)
    return Garbage(ended=ended, removed=removed)


def make_tracker(
    config: ExperimentConfig, no_track: bool = False, log_model: bool | None = None
) -> Any:
    """The tracker ``config.tracking`` asks for: MLflow (imported only then) or none."""
    if no_track or not config.tracking.enabled:
        return NullTracker()
    from topics.tracking import MlflowTracker

    log = config.tracking.log_model if log_model is None else log_model
    return MlflowTracker(config.tracking.uri, log_model=log)
