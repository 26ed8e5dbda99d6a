"""Trials and the executor every sweep runs through: ``topics sweep`` and a run's K sweep.

A trial is a validated config with its overrides. :func:`execute` runs a picklable
``work(trial)`` for each, here (joblib) or on a Dask cluster, and yields results as
they finish; :func:`log_child_run` logs one as a nested tracked run. Only the
driver tracks: workers return metrics and files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topics.config import ExperimentConfig, deep_merge, validate_config
from topics.errors import TopicsError

__all__ = [
    "Trial",
    "TrialFailed",
    "TrialResult",
    "execute",
    "log_child_run",
    "make_trials",
    "run_name",
]

# MLflow keeps run names as a tag; long ones are unreadable in the runs list anyway.
RUN_NAME_CHARS = 120


@dataclass(frozen=True)
class Trial:
    index: int
    name: str
    overrides: dict[str, Any]
    config: ExperimentConfig


@dataclass
class TrialResult:
    index: int
    metrics: dict[str, float] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # run folder, relative paths
    seconds: float = 0.0
    host: str = ""
    error: str | None = None
    data_fingerprint: str = ""  # of the corpus the trial trained on (the run's, same data)
    # training curves (encoder epochs, LDA passes) as (step, metrics), for the child run
    steps: list[tuple[int, dict[str, float]]] = field(default_factory=list)


TrialWork = Callable[[Trial], TrialResult]
"""What the executor runs per trial; picklable, never raises (errors go in the result)."""


class TrialFailed(TopicsError, RuntimeError):
    """Raised inside a child run so the tracker marks it FAILED."""


def make_trials(
    base: ExperimentConfig, override_sets: list[dict[str, Any]], names: list[str]
) -> list[Trial]:
    """One trial per override set (dotted keys -> values), named by ``names``; each trial's
    config is ``base`` without its ``sweep:`` section plus the overrides, validated.

    Presets build on it: the K sweep of a run is
    ``make_trials(config, [{"model.lda.num_topics": k} for k in ks], names)``.
    """
    plain = base.model_dump(mode="json")
    plain.pop("sweep", None)
    trials = []
    for index, (overrides, name) in enumerate(zip(override_sets, names, strict=True)):
        merged = plain
        for key, value in overrides.items():
            nested: Any = value
            for part in reversed(key.split(".")):
                nested = {part: nested}
            merged = deep_merge(merged, nested)
        config = validate_config(merged, source=f"sweep {name} ({_describe(overrides)})")
        trials.append(Trial(index, name, overrides, config))
    return trials


def run_name(experiment: str, overrides: Mapping[str, Any]) -> str:
    """A run name that says what differs: ``quickstart C=0.1 seed=7``.

    Each override is shown by its last key part (``model.tfidf.C`` -> ``C``), or by
    its whole key when two overrides share that part; values are shown as written
    (strings without quotes). Without overrides the name is ``experiment``.

    Examples
    --------
    >>> run_name("quickstart", {"model.tfidf.C": 0.1, "features.tfidf.ngram_range": [1, 2]})
    'quickstart C=0.1 ngram_range=[1,2]'
    >>> run_name("quickstart", {"model.tfidf.C": 1, "model.complement_nb.C": 2})
    'quickstart model.tfidf.C=1 model.complement_nb.C=2'
    """
    last = [key.rsplit(".", 1)[-1] for key in overrides]
    parts = [
        f"{short if last.count(short) == 1 else key}={_show(value)}"
        for key, short, value in zip(overrides, last, overrides.values(), strict=True)
    ]
    name = " ".join([experiment, *parts])
    return name if len(name) <= RUN_NAME_CHARS else name[: RUN_NAME_CHARS - 3] + "..."


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _describe(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in overrides.items())


def execute(
    trials: list[Trial], work: TrialWork, n_jobs: int, address: str | None
) -> Iterator[TrialResult]:
    """Yield ``work(trial)`` for each trial as soon as it finishes (any order).

    ``work`` must be picklable (a module-level function, or a ``functools.partial``
    of one) and never raise: :func:`run_trial` for ``topics sweep``, a run's K sweep
    its own.
    """
    if address:
        yield from _execute_dask(trials, work, address)
        return
    if n_jobs == 1 or len(trials) == 1:
        for trial in trials:
            yield work(trial)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    yield from parallel(delayed(work)(trial) for trial in trials)


def _execute_dask(trials: list[Trial], work: TrialWork, address: str) -> Iterator[TrialResult]:
    from topics.run.dask import connect, require_distributed

    distributed = require_distributed()
    with connect(address) as client:
        futures = [client.submit(work, trial, pure=False) for trial in trials]
        for future in distributed.as_completed(futures):
            yield future.result()


def log_child_run(
    tracker: Any,
    name: str,
    params: dict[str, Any],
    result: TrialResult,
    metrics: dict[str, float],
    trial_dir: Path | None = None,
    dataset: tuple[str, str] | None = None,
) -> str:
    """Log one finished trial as a nested run of the tracker's current run; return its id.

    The child logs ``params`` and ``metrics``; with ``trial_dir`` it also writes the
    trial's files there and logs them as artifacts; with ``dataset`` (name, source) and
    a ``result.data_fingerprint``, the corpus it trained on as its input. A trial with
    an error becomes a FAILED child (nothing is raised here: the caller decides what a
    failure means).
    """
    child_id = ""
    try:
        with tracker.child_run(name, params) as child_id:
            if dataset is not None and result.data_fingerprint:
                tracker.log_dataset(dataset[0], result.data_fingerprint, dataset[1])
            if result.error is not None:
                raise TrialFailed(result.error)
            if trial_dir is not None:
                trial_dir.mkdir(parents=True, exist_ok=True)
                for relative, content in result.files.items():
                    (trial_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                    (trial_dir / relative).write_bytes(content)
            tracker.log_metrics(metrics)
            for step, values in result.steps:
                tracker.log_metrics(values, step=step)
            if trial_dir is not None:
                tracker.log_artifacts(trial_dir)
    except TrialFailed:
        pass  # logged as a FAILED child; the result keeps the error
    return child_id
