"""The tracked-run context: every run and sweep ends FINISHED, FAILED or KILLED."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.conftest import RecordingTracker
from topics.cli.signals import end_on_sigterm
from topics.errors import TrackingError
from topics.run.trackers import NullTracker, tracked_run


def finish() -> None:
    pass


def fail() -> None:
    raise RuntimeError("disk full")


def interrupt() -> None:
    raise KeyboardInterrupt


def terminate() -> None:
    previous = {kind: signal.getsignal(kind) for kind in (signal.SIGTERM, signal.SIGINT)}
    end_on_sigterm()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts the sleep
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)


@pytest.mark.parametrize(
    ("body", "raised", "status", "error"),
    [
        (finish, None, "FINISHED", None),
        (fail, RuntimeError, "FAILED", "RuntimeError: disk full"),
        (interrupt, KeyboardInterrupt, "KILLED", "interrupted (Ctrl-C or SIGTERM)"),
        (terminate, KeyboardInterrupt, "KILLED", "interrupted (Ctrl-C or SIGTERM)"),
    ],
    ids=["finished", "exception-failed", "ctrl-c-killed", "sigterm-killed"],
)
def test_tracked_run_ends_with_the_status_the_block_earned(
    body: Callable[[], None], raised: type[BaseException] | None, status: str, error: str | None
) -> None:
    tracker = RecordingTracker()

    def block() -> None:
        with tracked_run(tracker, "exp", "name", {"topics.dataset": "tiny"}, "desc") as run_id:
            assert run_id == "recorded0run"
            tracker.log_metrics({"m": 1.0})
            body()

    if raised is None:
        block()
    else:
        with pytest.raises(raised):
            block()
    assert [name for name, _ in tracker.calls] == ["start_run", "log_metrics", "end_run"]
    assert tracker.tags == {"topics.dataset": "tiny"}
    assert (tracker.status, tracker.error) == (status, error)


def test_null_tracker_runs_have_random_ids() -> None:
    with tracked_run(NullTracker(), "exp", "name", {}, "") as first:
        pass
    with tracked_run(NullTracker(), "exp", "name", {}, "") as second:
        pass
    assert len(first) == 32 and first != second


class StoreGoneTracker(RecordingTracker):
    """A tracker whose store fails when the run is ended (e.g. still locked)."""

    def end_run(self, status: str, error: str | None = None) -> None:
        super().end_run(status, error)
        raise TrackingError("cannot end the run: the MLflow store stayed locked for 1 s")


def test_store_locked_when_a_failed_run_ends_does_not_hide_the_runs_error() -> None:
    tracker = StoreGoneTracker()
    with pytest.raises(RuntimeError, match="disk full"), tracked_run(tracker, "e", "n", {}, ""):
        fail()
    assert (tracker.status, tracker.error) == ("FAILED", "RuntimeError: disk full")
    # A run that finished but cannot be ended says so.
    ended = tracked_run(tracker, "e", "n", {}, "")
    with pytest.raises(TrackingError, match="stayed locked"), ended:
        pass
