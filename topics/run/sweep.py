"""Sweeps: many trainings of one experiment over a grid or random samples of config keys.

An experiment file declares what to try under ``sweep:``::

    sweep:
      grid: {model.tfidf.C: [0.3, 1, 3]}
      random: {model.lda.num_topics: {randint: [5, 20]}}
      trials: 4        # random samples (each combined with every grid point)
      metric: val_micro_f1

Trials run in parallel through joblib on this machine, or on a Dask cluster
(``--dask tcp://HOST:PORT`` or ``dask.address``). A trial is a pure function of its
config: it trains and evaluates in a scratch folder and returns metrics and its
small files (model bundle, plots) to the driver. Only the driver talks to the
tracker: one parent run, one nested child run per trial, and the best trial's
metrics on the parent. Workers need ``topics`` installed, not MLflow access.

Choosing the best: ``val_*`` metrics come from fitting on the training split
minus ``validation_size`` and scoring the held-out part, so the test split never
takes part in the choice. ``test_*`` metrics come from a second fit on the whole
training split, scored on the test split, as ``topics run`` does.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from topics.config import (
    ExperimentConfig,
    ExperimentSweepConfig,
    RandomParam,
    config_hash,
    flatten,
    to_yaml,
)
from topics.data.splits import split_indices
from topics.errors import ConfigError
from topics.run.prepare import prepare
from topics.run.trackers import StepRecorder, tracked_run
from topics.run.train import train_and_evaluate
from topics.run.trials import (
    Trial,
    TrialFailed,
    TrialResult,
    execute,
    log_child_run,
    make_trials,
    run_name,
)

__all__ = ["SweepResult", "expand_trials", "run_sweep", "run_trial"]


@dataclass(frozen=True)
class SweepResult:
    run_id: str
    experiment: str
    artifact_dir: Path
    metric: str
    best_trial: str | None
    best_run_id: str | None
    trials: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "artifact_dir": str(self.artifact_dir),
            "metric": self.metric,
            "best_trial": self.best_trial,
            "best_run_id": self.best_run_id,
            "trials": self.trials,
        }


# ---------------------------------------------------------------------------
# Expanding the sweep into trials (on the driver)


def expand_trials(base: ExperimentConfig) -> list[Trial]:
    """Every trial of ``base.sweep``, each a validated config; errors name the trial."""
    sweep = base.sweep
    if sweep is None:
        raise ConfigError(
            f"{base.name}: no sweep: section; add e.g. sweep: {{grid: {{model.tfidf.C: [0.3, 1]}}}}"
        )
    override_sets = _override_sets(sweep)
    return make_trials(base, override_sets, [f"trial-{i:03d}" for i in range(len(override_sets))])


def _override_sets(sweep: ExperimentSweepConfig) -> list[dict[str, Any]]:
    grid_keys = list(sweep.grid)
    points = [
        dict(zip(grid_keys, values, strict=True))
        for values in itertools.product(*(sweep.grid[k] for k in grid_keys))
    ]
    if not sweep.random:
        return points

    rng = np.random.default_rng(sweep.seed)
    samples = [
        {key: _sample(spec, rng) for key, spec in sweep.random.items()}
        for _ in range(sweep.trials or 0)
    ]
    return [{**point, **sample} for point in points or [{}] for sample in samples]


def _sample(spec: RandomParam, rng: Any) -> Any:
    if spec.choice is not None:
        return spec.choice[int(rng.integers(len(spec.choice)))]
    if spec.uniform is not None:
        return float(rng.uniform(*spec.uniform))
    if spec.loguniform is not None:
        low, high = spec.loguniform
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    assert spec.randint is not None
    return int(rng.integers(spec.randint[0], spec.randint[1] + 1))


# ---------------------------------------------------------------------------
# One trial (on a worker: no tracker, no shared disk)


def run_trial(trial: Trial, validation_size: float | None) -> TrialResult:
    """Train and evaluate one trial in a scratch folder; never raises.

    The data comes from :func:`topics.run.prepare.prepare`, as in ``topics run``
    (cache, split, preflight, fingerprint). Returns ``val_*`` metrics (fit on train
    minus ``validation_size``, scored on the held-out part) when ``validation_size``
    is set, and ``test_*`` metrics as ``topics run`` computes them, plus the run
    folder's files.
    """
    started = time.perf_counter()
    result = TrialResult(index=trial.index, host=f"{socket.gethostname()}:{os.getpid()}")
    config = trial.config
    try:
        prepared = prepare(config)
        train, test = prepared.train, prepared.test
        result.data_fingerprint = prepared.fingerprint
        provenance = {
            "experiment": config.name,
            "sweep_trial": trial.name,
            "config_hash": prepared.config_hash,
            "data_fingerprint": prepared.fingerprint,
        }
        with tempfile.TemporaryDirectory(prefix="topics-trial-") as tmp:
            metrics: dict[str, float] = {}
            if validation_size is not None:
                fit_idx, val_idx = split_indices(
                    train, test_size=validation_size, seed=config.split_seed()
                )
                fit, held = train.subset(fit_idx), train.subset(val_idx)
                if prepared.validation is not None:  # the data ships validation documents
                    fit, held = train, prepared.validation
                scored = train_and_evaluate(
                    config,
                    fit,
                    held,
                    Path(tmp) / "validation",
                    provenance,
                )
                metrics.update(scored.held_out_as("val").flat())
            run_dir = Path(tmp) / "run"
            curves = StepRecorder()
            unlabelled = prepared.unlabelled.texts if prepared.unlabelled is not None else []
            scored = train_and_evaluate(
                config, train, test, run_dir, provenance, curves, unlabelled
            )
            metrics.update(scored.flat())
            result.steps = curves.steps
            (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
            result.files = {
                str(path.relative_to(run_dir)): path.read_bytes()
                for path in sorted(run_dir.rglob("*"))
                if path.is_file()
            }
        result.metrics = metrics
    except Exception as exc:  # a failed trial is reported; the sweep goes on
        result.error = f"{exc.__class__.__name__}: {exc}"
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------
# The sweep (on the driver: the only place that tracks)


def run_sweep(
    base: ExperimentConfig,
    tracker: Any,
    address: str | None = None,
    experiment_file: str | None = None,
    on_result: Any = None,
    parent_name: str | None = None,
) -> SweepResult:
    """Run every trial of ``base.sweep``; log a parent run with one child per trial.

    The parent run is named ``parent_name`` (default ``<name>-sweep``); each child
    after its trial's params (``quickstart C=0.1``, see :func:`run_name`).

    ``address`` (else ``base.dask.address``) sends trials to a Dask scheduler;
    without one they run here through joblib (``sweep.n_jobs`` at a time).
    ``on_result(trial, result)`` is called as each trial finishes (progress).
    """
    trials = expand_trials(base)
    sweep = base.sweep
    assert sweep is not None
    address = address or base.dask.address
    experiment = base.tracking.experiment_name or base.name
    tags = {
        "topics.config_hash": config_hash(base),
        "topics.dataset": base.data.name,
        "topics.experiment_file": experiment_file or "",
        "topics.sweep_trials": str(len(trials)),
        "topics.sweep_metric": sweep.metric,
        "topics.sweep_executor": f"dask {address}" if address else f"joblib n_jobs={sweep.n_jobs}",
    }
    description = (
        f"Sweep of {len(trials)} trials over {', '.join([*sweep.grid, *sweep.random])}; "
        f"best by {sweep.metric} ({sweep.goal})."
    )
    parent_name = parent_name or f"{base.name}-sweep"
    with tracked_run(tracker, experiment, parent_name, tags, description) as run_id:
        sweep_dir = Path(base.output_dir) / base.name / run_id
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / "config.yaml").write_text(to_yaml(base))
        tracker.log_params(flatten(base.model_dump(mode="json")))
        by_index = {trial.index: trial for trial in trials}
        rows: list[dict[str, Any]] = []
        work = partial(run_trial, validation_size=sweep.validation_size)
        datasets: dict[tuple[str, str, str], None] = {}  # in order, each once
        for result in execute(trials, work, sweep.n_jobs, address):
            trial = by_index[result.index]
            rows.append(_log_trial(tracker, trial, result, sweep_dir / "trials" / trial.name))
            if result.data_fingerprint:
                datasets[(*_dataset(trial), result.data_fingerprint)] = None
            if on_result is not None:
                on_result(trial, result)
        # The parent's input: the corpus its trials trained on (several if a trial
        # changed data.* keys), as `topics run` logs its own.
        for name, source, digest in datasets:
            tracker.log_dataset(name, digest, source)
        rows.sort(key=lambda row: row["trial"])
        best = _best(rows, sweep.metric, sweep.goal)
        if best is not None:
            tracker.log_best_child(best["run_id"], best["metrics"])
        table = {"metric": sweep.metric, "goal": sweep.goal, "best": best, "trials": rows}
        (sweep_dir / "sweep.json").write_text(json.dumps(table, indent=2, sort_keys=True))
        if best is None:
            errors = "; ".join(f"{row['trial']}: {row['error']}" for row in rows[:3])
            raise TrialFailed(f"every trial failed or lacks metric {sweep.metric} ({errors})")
    return SweepResult(
        run_id=run_id,
        experiment=base.name,
        artifact_dir=sweep_dir,
        metric=sweep.metric,
        best_trial=best["trial"],
        best_run_id=best["run_id"],
        trials=rows,
    )


def _log_trial(tracker: Any, trial: Trial, result: TrialResult, trial_dir: Path) -> dict[str, Any]:
    """One child run for ``trial``: its overrides as params, its metrics and files."""
    params = {**trial.overrides, "sweep.trial": trial.name, "sweep.worker": result.host}
    row: dict[str, Any] = {
        "trial": trial.name,
        "overrides": trial.overrides,
        "seconds": round(result.seconds, 3),
        "error": result.error,
        "metrics": result.metrics,
    }
    metrics = {**result.metrics, "trial_seconds": result.seconds}
    name = run_name(trial.config.name, trial.overrides)
    row["run_id"] = log_child_run(
        tracker, name, params, result, metrics, trial_dir, dataset=_dataset(trial)
    )
    return row


def _dataset(trial: Trial) -> tuple[str, str]:
    """(name, source) of the corpus ``trial`` trains on."""
    data = trial.config.data
    return data.name, str(data.resolved_path())


def _best(rows: list[dict[str, Any]], metric: str, goal: str) -> dict[str, Any] | None:
    scored = [
        row
        for row in rows
        if row["error"] is None and isinstance(row["metrics"].get(metric), int | float)
    ]
    if not scored:
        return None
    sign = 1.0 if goal == "maximize" else -1.0
    # Ties go to the earliest trial, so the choice does not depend on finishing order.
    return max(scored, key=lambda row: sign * row["metrics"][metric])
