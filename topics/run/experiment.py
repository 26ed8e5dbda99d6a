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
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from topics import __version__
from topics.config import ExperimentConfig, config_hash, flatten, to_yaml
from topics.data.corpus import Corpus
from topics.data.splits import split_indices
from topics.evaluate.report import describe_run, write_report
from topics.run.cache import load_corpus_cached
from topics.run.preflight import check_training_data

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


def make_tracker(
    config: ExperimentConfig, no_track: bool = False, log_model: bool | None = None
) -> Any:
    """The tracker ``config.tracking`` asks for: MLflow (imported only then) or none."""
    if no_track or not config.tracking.enabled:
        return NullTracker()
    from topics.tracking import MlflowTracker

    log = config.tracking.log_model if log_model is None else log_model
    return MlflowTracker(config.tracking.uri, log_model=log)


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


def train_and_evaluate(
    config: ExperimentConfig,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    provenance: dict[str, Any],
    tracker: Tracker | None = None,
) -> dict[str, float]:
    """Fit the enabled models, evaluate on ``test``, write plots and the bundle to ``run_dir``."""
    from topics.evaluate.metrics import (
        as_indicator,
        multilabel_metrics,
        out_of_fold_score,
        single_label_metrics,
        write_evaluation_report,
    )
    from topics.evaluate.plots import plot_label_confusion
    from topics.evaluate.topic_report import report_topics
    from topics.run.build import (
        fit_encoder_model,
        fit_ensemble_model,
        fit_hybrid_model,
        fit_lda_model,
        fit_tfidf_model,
    )
    from topics.run.export import export_bundle

    labels = list(train.label_names)
    y_train, y_test = train.label_matrix(), test.label_matrix()
    single = config.data.single_label
    targets = y_train.argmax(axis=1) if single else y_train  # 1-D classes: argmax prediction
    fitted = {}
    # fine_labels: the classifier learns the source classes and maps them itself
    sources = np.asarray(train.meta.get("source_label", []))
    if config.model.tfidf.enabled:
        tfidf_targets = sources if config.model.tfidf.fine_labels else targets
        fitted["tfidf"] = fit_tfidf_model(config, train.texts, tfidf_targets, labels)
    if config.model.lda.enabled:
        fitted["lda"] = fit_lda_model(config, train.texts, targets, labels)
    if config.model.hybrid.enabled:
        fitted["hybrid"] = fit_hybrid_model(
            config, fitted["tfidf"], fitted["lda"], train.texts, targets, labels
        )
    if config.model.encoder.enabled:
        encoder_targets = sources if config.model.encoder.fine_labels else targets
        fitted["encoder"] = fit_encoder_model(config, train.texts, encoder_targets, labels)
    if config.model.ensemble.enabled:
        fitted["ensemble"] = fit_ensemble_model(config, fitted["tfidf"], fitted["encoder"], y_train)

    metrics: dict[str, float] = {}
    per_model: dict[str, dict[str, float]] = {}
    for name, model in fitted.items():
        # scored once: predictions follow from the probabilities (slow models, e.g.
        # the encoder, are not run twice over the test texts)
        proba = model.predict_proba(test.texts)
        y_pred = as_indicator(model.classifier.decide(proba), len(labels))
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
            proba,
            labels,
            thresholds=None if single else model.classifier.thresholds_,
        )
    # The primary model (plain test_* keys, classify's labels) is chosen on the
    # training split's out-of-fold predictions (the encoder: its held-out share of
    # train), never on test; or named by model.primary.
    for name, model in fitted.items():
        score = getattr(model.classifier, "validation_score_", None)
        if score is None:
            score = out_of_fold_score(model.classifier, y_train, single)
        metrics[f"{name}_train_cv_score"] = score
    primary: str = config.model.primary or max(
        fitted, key=lambda name: metrics[f"{name}_train_cv_score"]
    )
    metrics.update(per_model[primary])
    if "lda" in fitted:
        lda = fitted["lda"].topics
        metrics.update(report_topics(config, lda, train, test, run_dir, tracker or NullTracker()))
    export_bundle(
        run_dir / "model",
        labels=labels,
        primary=primary,
        classifiers={
            name: (model.features, model.export_classifier()) for name, model in fitted.items()
        },
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
