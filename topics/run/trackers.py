"""What a run needs from an experiment tracker, and the tracker a config asks for.

:class:`topics.tracking.MlflowTracker` is the real one (imported only when
tracking is on); :class:`NullTracker` tracks nothing; tests pass a recorder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from topics.config import ExperimentConfig


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


@contextmanager
def tracked_run(
    tracker: Tracker, experiment: str, run_name: str, tags: dict[str, str], description: str
) -> Iterator[str]:
    """Start a tracked run, yield its id, and end it with the status the block earned.

    FINISHED when the block returns; FAILED, with ``"<ExceptionType>: <message>"`` as
    the error, when it raises; KILLED on Ctrl-C, or SIGTERM once
    :func:`topics.cli.signals.end_on_sigterm` turns it into ``KeyboardInterrupt``.
    The exception always propagates.

    Examples
    --------
    >>> with tracked_run(NullTracker(), "quickstart", "quickstart", {}, "") as run_id:
    ...     pass  # log params, metrics and artifacts here
    """
    run_id = tracker.start_run(experiment, run_name, tags, description)
    status, error = "FAILED", None
    try:
        yield run_id
        status = "FINISHED"
    except KeyboardInterrupt:
        status, error = "KILLED", "interrupted (Ctrl-C or SIGTERM)"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        tracker.end_run(status, error)


def make_tracker(
    config: ExperimentConfig, no_track: bool = False, log_model: bool | None = None
) -> Any:
    """The tracker ``config.tracking`` asks for: MLflow (imported only then) or none."""
    if no_track or not config.tracking.enabled:
        return NullTracker()
    from topics.tracking import MlflowTracker

    log = config.tracking.log_model if log_model is None else log_model
    return MlflowTracker(config.tracking.uri, log_model=log)
