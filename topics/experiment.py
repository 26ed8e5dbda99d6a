"""Run one experiment: load, split, train both models, evaluate, plot, save, track.

Experiment code orchestrates; the models (:mod:`topics.classifiers`,
:mod:`topics.topic_models`) know nothing of files or tracking. The tracker is
passed in: :class:`topics.tracking.MlflowTracker` in the CLI, a recorder in tests.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from topics import __version__
from topics.cache import load_corpus_cached
from topics.config import ExperimentConfig, config_hash, flatten, to_yaml
from topics.data import Corpus
from topics.splits import split_indices

LATEST = "latest"


class Tracker(Protocol):
    """What :func:`run` needs from an experiment tracker."""

    def start_run(
        self, experiment: str, run_name: str, tags: dict[str, str], description: str
    ) -> str: ...
    def log_params(self, params: dict[str, Any]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def log_artifacts(self, directory: Path) -> None: ...
    def log_model(self, bundle_dir: Path) -> None: ...
    def end_run(self, status: str) -> None: ...


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

    def end_run(self, status: str) -> None:
        pass


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
    train_idx, test_idx = split_indices(corpus, config.data.split, config.split_seed())
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    fingerprint = corpus.fingerprint()
    digest = config_hash(config)
    tags = {
        "topics.config_hash": digest,
        "topics.data_fingerprint": fingerprint,
        "topics.dataset": config.data.name,
        "topics.package_version": __version__,
        "topics.experiment_file": experiment_file or "",
        "topics.git_commit": _git_commit(),
    }
    description = config.description or f"{config.name} on {config.data.name}"
    experiment = config.tracking.experiment_name or config.name
    run_id = tracker.start_run(experiment, config.name, tags, description)
    status = "FAILED"
    try:
        run_dir = Path(config.output_dir) / config.name / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        tracker.log_params(
            {**flatten(config.model_dump(mode="json")), "n_train": len(train), "n_test": len(test)}
        )
        provenance = {
            "config_hash": digest,
            "data_fingerprint": fingerprint,
            "experiment": config.name,
            "run_id": run_id,
        }
        metrics = train_and_evaluate(config, train, test, run_dir, provenance)
        if config.data.split.kind == "kfold" and config.model.tfidf.enabled:
            from topics.crossval import cross_validate  # test_*: fold 1; cv_*: all folds

            metrics.update(cross_validate(config, corpus))
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        (run_dir / "config.yaml").write_text(to_yaml(config))
        tracker.log_metrics(metrics)
        tracker.log_artifacts(run_dir)
        tracker.log_model(run_dir / "model")
        point_latest(Path(config.output_dir), run_dir / "model")
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.end_run(status)
    return RunResult(run_id=run_id, experiment=config.name, artifact_dir=run_dir, metrics=metrics)


def train_and_evaluate(
    config: ExperimentConfig, train: Corpus, test: Corpus, run_dir: Path, provenance: dict[str, Any]
) -> dict[str, float]:
    """Fit the enabled models, evaluate on ``test``, write plots and the bundle to ``run_dir``."""
    from topics.evaluate import (
        as_indicator,
        multilabel_metrics,
        single_label_metrics,
        write_evaluation_report,
    )
    from topics.export import export_bundle
    from topics.models import fit_lda_model, fit_tfidf_model
    from topics.plots import plot_label_confusion, plot_top_words

    labels = list(train.label_names)
    y_train, y_test = train.label_matrix(), test.label_matrix()
    single = config.data.single_label
    targets = y_train.argmax(axis=1) if single else y_train  # 1-D classes: argmax prediction
    fitted = {}
    if config.model.tfidf.enabled:
        # fine_labels: the classifier learns the source classes and maps them itself
        fine = config.model.tfidf.fine_labels
        tfidf_targets = np.asarray(train.meta["source_label"]) if fine else targets
        fitted["tfidf"] = fit_tfidf_model(config, train.texts, tfidf_targets, labels)
    if config.model.lda.enabled:
        fitted["lda"] = fit_lda_model(config, train.texts, targets, labels)

    metrics: dict[str, float] = {}
    per_model: dict[str, dict[str, float]] = {}
    for name, model in fitted.items():
        y_pred = as_indicator(model.predict(test.texts), len(labels))
        per_model[name] = multilabel_metrics(y_test, y_pred, labels, prefix="test_")
        if single:
            per_model[name].update(single_label_metrics(y_test, y_pred, prefix="test_"))
        metrics.update({f"{name}_{key}": value for key, value in per_model[name].items()})
        metrics[f"{name}_fit_seconds"] = model.fit_seconds
        plot_label_confusion(
            y_test,
            y_pred,
            labels,
            run_dir / "plots" / f"{name}_label_confusion.png",
            title=f"{name}: true vs predicted labels (test)",
        )
        write_evaluation_report(
            run_dir / "plots",
            name,
            test.ids,
            test.texts,
            y_test,
            y_pred,
            model.predict_proba(test.texts),
            labels,
            thresholds=None if single else model.classifier.thresholds_,
        )
    primary = max(per_model, key=lambda name: per_model[name]["test_micro_f1"])
    metrics.update(per_model[primary])
    if "lda" in fitted:
        lda = fitted["lda"].topics
        coherence = lda.coherence(train.texts, measures=("c_v", "u_mass"))
        metrics["lda_coherence_c_v"] = coherence["c_v"]
        metrics["lda_coherence_u_mass"] = coherence["u_mass"]
        plot_top_words(lda.topic_word_, lda.vocabulary_, run_dir / "plots" / "lda_top_words.png")
    export_bundle(
        run_dir / "model",
        labels=labels,
        primary=primary,
        classifiers={name: (model.features, model.classifier) for name, model in fitted.items()},
        provenance={**provenance, "primary": primary},
        vectorizer=fitted["tfidf"].vectorizer if "tfidf" in fitted else None,
        lda=fitted["lda"].topics if "lda" in fitted else None,
        single_label=single,
    )
    return metrics


def point_latest(output_dir: Path, model_dir: Path) -> Path:
    """Atomically repoint ``output_dir/latest`` at ``model_dir`` (a relative symlink)."""
    link = output_dir / LATEST
    staging = output_dir / f".{LATEST}-{os.getpid()}"
    if staging.is_symlink() or staging.exists():
        staging.unlink()
    staging.symlink_to(os.path.relpath(model_dir.resolve(), output_dir.resolve()))
    os.replace(staging, link)
    return link


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


__all__ = ["NullTracker", "RunResult", "Tracker", "point_latest", "run"]
