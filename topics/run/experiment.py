"""Run one experiment: load, split, train both models, evaluate, plot, save, track.

Experiment code orchestrates; the models (:mod:`topics.families.linear`,
:mod:`topics.families.lda.model`) know nothing of files or tracking. The tracker is
passed in: :class:`topics.tracking.MlflowTracker` in the CLI, a recorder in tests.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from topics import __version__
from topics.config import ExperimentConfig, config_hash, flatten, to_yaml
from topics.data.splits import split_indices
from topics.evaluate.report import write_report
from topics.run.build import describe_run
from topics.run.cache import load_corpus_cached, split_kwargs
from topics.run.preflight import check_training_data
from topics.run.trackers import NullTracker, Tracker
from topics.run.train import train_and_evaluate

LATEST = "latest"


@dataclass(frozen=True)
class RunResult:
    run_id: str
    experiment: str
    artifact_dir: Path
    metrics: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "artifact_dir": str(self.artifact_dir),
            "metrics": self.metrics,
        }


def run(
    config: ExperimentConfig, tracker: Tracker, experiment_file: str | None = None
) -> RunResult:
    """Train and evaluate every enabled model of ``config``; return the run's metrics.

    Data problems surface before the tracker starts a run. Once started, the run
    ends FINISHED, FAILED (an exception) or KILLED (Ctrl-C / SIGTERM).
    """
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    check_training_data(config, train)
    fingerprint = corpus.fingerprint()
    digest = config_hash(config)
    tags = {
        "topics.config_hash": digest,
        "topics.data_fingerprint": fingerprint,
        "topics.dataset": config.data.name,
        "topics.package_version": __version__,
        "topics.experiment_file": experiment_file or "",
        "topics.git_commit": _git_commit(),
        "topics.versions": json.dumps(library_versions(), sort_keys=True),
    }
    description = describe_run(config)
    experiment = config.tracking.experiment_name or config.name
    run_id = tracker.start_run(experiment, config.name, tags, description)
    status, error = "FAILED", None
    try:
        tracker.log_dataset(config.data.name, fingerprint, str(config.data.resolved_path()))
        run_dir = Path(config.output_dir) / config.name / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        tracker.log_params(
            {**flatten(config.model_dump(mode="json")), "n_train": len(train), "n_test": len(test)}
        )
        provenance = {
            "versions": library_versions(),
            "config_hash": digest,
            "data_fingerprint": fingerprint,
            "experiment": config.name,
            "run_id": run_id,
        }
        metrics = train_and_evaluate(config, train, test, run_dir, provenance, tracker)
        if config.data.split.kind == "kfold" and config.model.tfidf.enabled:
            from topics.run.crossval import cross_validate  # test_*: fold 1; cv_*: all folds

            metrics.update(cross_validate(config, corpus))
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        (run_dir / "config.yaml").write_text(to_yaml(config))
        facts = {"run id": run_id, **tags}
        write_report(run_dir, metrics, corpus.label_names, config.name, description, facts)
        tracker.log_metrics(metrics)
        tracker.log_artifacts(run_dir)
        tracker.log_model(run_dir / "model")
        point_latest(Path(config.output_dir), run_dir / "model")
        status = "FINISHED"
    except KeyboardInterrupt:
        status, error = "KILLED", "interrupted (Ctrl-C or SIGTERM)"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        tracker.end_run(status, error)
    return RunResult(run_id=run_id, experiment=config.name, artifact_dir=run_dir, metrics=metrics)


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
    for package in ("topics", "numpy", "scipy", "scikit-learn", "gensim", "mlflow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
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
