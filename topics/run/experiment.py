"""Run one experiment: prepare (load, split, check), train, evaluate, plot, save, track.

Experiment code orchestrates; the models (:mod:`topics.families.linear`,
:mod:`topics.families.lda.model`) know nothing of files or tracking. The tracker is
passed in: :class:`topics.tracking.MlflowTracker` in the CLI, a recorder in tests.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from topics import __version__, progress
from topics.config import ExperimentConfig, flatten, to_yaml
from topics.errors import ConfigError
from topics.evaluate.report import write_report
from topics.evaluate.run_metrics import RunMetrics
from topics.run.build import describe_run
from topics.run.crossval import cross_validate
from topics.run.prepare import Prepared, prepare
from topics.run.trackers import NullTracker, Tracker, kept_when_untracked, tracked_run
from topics.run.train import train_and_evaluate

LATEST = "latest"


@dataclass(frozen=True)
class RunResult:
    run_id: str
    experiment: str
    artifact_dir: Path
    scores: RunMetrics
    labels: tuple[str, ...] = ()  # as the data names them ("human rights")

    @property
    def metrics(self) -> dict[str, float]:
        """The flat metric keys, as ``metrics.json``, the tracker and ``--json`` have them."""
        return self.scores.flat()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "artifact_dir": str(self.artifact_dir),
            "metrics": self.metrics,
        }


def run(
    config: ExperimentConfig,
    tracker: Tracker,
    experiment_file: str | None = None,
    run_name: str | None = None,
) -> RunResult:
    """Train and evaluate every enabled model of ``config``; return the run's metrics.

    ``run_name`` names the tracked run (default: ``config.name``); the CLI passes
    :func:`topics.run.trials.run_name` of its ``--set`` overrides, or ``--run-name``.

    Data problems surface (in :func:`topics.run.prepare.prepare`) before the tracker
    starts a run. Once started, the run ends FINISHED, FAILED (an exception) or KILLED
    (Ctrl-C / SIGTERM): see :func:`topics.run.trackers.tracked_run`.
    """
    prepared = prepare(config)
    train, test = prepared.train, prepared.test
    tags = run_tags(config, prepared, experiment_file)
    description = describe_run(config)
    experiment = config.tracking.experiment_name or config.name
    check_writable(Path(config.output_dir))
    name = run_name or config.name
    with tracked_run(tracker, experiment, name, tags, description) as run_id:
        dataset = dataset_record(config, prepared)
        tracker.log_dataset(**dataset)
        params = run_params(config, prepared)
        tracker.log_params(params)
        run_dir = Path(config.output_dir) / config.name / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        provenance = bundle_provenance(config, prepared, run_id)
        unlabelled = prepared.unlabelled.texts if prepared.unlabelled is not None else []
        scores = train_and_evaluate(
            config, train, test, run_dir, provenance, tracker, unlabelled=unlabelled
        )
        if config.data.split.kind == "kfold" and config.model.tfidf.enabled:  # cv_*: all folds
            scores.run.update(cross_validate(config, prepared.corpus))
        metrics = scores.flat()
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        (run_dir / "config.yaml").write_text(to_yaml(config))
        facts = {"run id": run_id, **tags}
        write_report(run_dir, scores, prepared.corpus.label_names, config.name, description, facts)
        # The bundle is complete: it is the latest good model even if tracking fails now.
        point_latest(Path(config.output_dir), run_dir / "model")
        record = {
            "experiment": experiment,
            "run_name": name,
            "tags": tags,
            "description": description,
            "params": params,
            "dataset": dataset,
            "tracking_uri": getattr(tracker, "uri", None),
            "log_model": getattr(tracker, "log_model_enabled", True),
        }
        with kept_when_untracked(run_dir, record):
            progress.stage("log metrics and artifacts")
            tracker.log_metrics(metrics)
            tracker.log_artifacts(run_dir)
            tracker.log_model(run_dir / "model")
    return RunResult(
        run_id=run_id,
        experiment=config.name,
        artifact_dir=run_dir,
        scores=scores,
        labels=tuple(prepared.corpus.label_names),
    )


def dataset_record(config: ExperimentConfig, prepared: Prepared) -> dict[str, str]:
    """The run's dataset as MLflow logs it: name, content digest, source."""
    return {
        "name": config.data.name,
        "digest": prepared.fingerprint,
        "source": str(config.data.resolved_path()),
    }


def bundle_provenance(config: ExperimentConfig, prepared: Prepared, run_id: str) -> dict[str, Any]:
    """What the bundle records of where it came from."""
    return {
        "versions": library_versions(),
        "config_hash": prepared.config_hash,
        "data_fingerprint": prepared.fingerprint,
        "experiment": config.name,
        "run_id": run_id,
    }


def run_tags(
    config: ExperimentConfig, prepared: Prepared, experiment_file: str | None
) -> dict[str, str]:
    """The run's ``topics.*`` tags: what it was trained from (config, data, code)."""
    return {
        "topics.config_hash": prepared.config_hash,
        "topics.data_fingerprint": prepared.fingerprint,
        "topics.dataset": config.data.name,
        "topics.package_version": __version__,
        "topics.experiment_file": experiment_file or "",
        "topics.git_commit": _git_commit(),
        "topics.versions": json.dumps(library_versions(), sort_keys=True),
    }


def run_params(config: ExperimentConfig, prepared: Prepared) -> dict[str, Any]:
    """The run's logged parameters: every config key, flattened, and the split's sizes."""
    params = {**flatten(config.model_dump(mode="json")), "n_train": len(prepared.train)}
    params["n_test"] = len(prepared.test)
    if prepared.unlabelled is not None:
        params["n_unlabelled"] = len(prepared.unlabelled)
    return params


def check_writable(folder: Path) -> None:
    """Fail in one line, before a run starts, when ``folder`` cannot take files
    (read-only, not ours, or a full disk)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"topics")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise ConfigError(
            f"output_dir: cannot write to {folder} ({exc.strerror or exc}); free space or "
            "fix its permissions, or pick another folder with --set output_dir=DIR"
        ) from exc


def point_latest(output_dir: Path, model_dir: Path) -> Path:
    """Atomically repoint ``output_dir/latest`` at ``model_dir`` (a relative symlink)."""
    link = output_dir / LATEST
    staging = output_dir / f".{LATEST}-{os.getpid()}"
    if staging.is_symlink() or staging.exists():
        staging.unlink()
    staging.symlink_to(os.path.relpath(model_dir.resolve(), output_dir.resolve()))
    os.replace(staging, link)
    return link


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries whose behaviour shapes the numbers."""
    versions = {"python": platform.python_version()}
    # the core install has MLflow's client alone (mlflow-skinny); make ui adds mlflow
    for package, *alternatives in (
        ("topics",),
        ("numpy",),
        ("scipy",),
        ("scikit-learn",),
        ("gensim",),
        ("mlflow", "mlflow-skinny"),
    ):
        versions[package] = "not installed"
        for distribution in (package, *alternatives):
            try:
                versions[package] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


__all__ = ["NullTracker", "RunResult", "Tracker", "point_latest", "run"]
