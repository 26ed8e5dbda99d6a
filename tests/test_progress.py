from __future__ import annotations

import io
import os
import re
import signal
import time
from typing import Any

import pytest

from topics import progress
from topics.cli.signals import end_on_sigterm


def test_nested_bars_show_totals_each_on_its_own_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOPICS_PROGRESS", "1")  # bars drawn, as on a terminal
    positions: list[tuple[str, int]] = []
    with progress.bar("trials", total=3) as trials:
        for _ in range(3):
            for _ in progress.progress(["a", "b"], desc="labels"):
                inner: Any = progress._depth
                positions.append(("labels", inner))
            trials.update(1, "trial done")
    assert progress._depth == 0
    assert positions == [("labels", 2)] * 6  # below the trials bar, never over it
    drawn = capsys.readouterr().err
    assert re.search(r"trials: .*\b0/3\b", drawn)  # the total, not "trials: 3"
    assert re.search(r"labels: .*\b0/2\b", drawn)


def test_bars_are_silent_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOPICS_PROGRESS", raising=False)  # captured stderr: no terminal
    assert list(progress.progress(range(3), desc="x")) == [0, 1, 2]
    with progress.bar("trials", total=2) as shown:
        shown.update(1)
    assert capsys.readouterr().err == ""


def test_stage_lines_only_once_turned_on(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.delenv("TOPICS_PROGRESS", raising=False)
    with progress.report_stages(stream):
        progress.stage("fit tfidf")
    progress.stage("export")  # a library call, after the command: silent
    monkeypatch.setenv("TOPICS_PROGRESS", "0")
    with progress.report_stages(stream):
        progress.stage("evaluate")
    assert re.fullmatch(r"topics: \[\s*\d+\.\ds\] fit tfidf\n", stream.getvalue())


@pytest.mark.parametrize("bars", ["0", "1"], ids=["bare", "bar drawn"])
def test_a_requested_stop_ends_a_loop_at_its_next_step_once(
    bars: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPICS_PROGRESS", bars)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        for item in progress.progress(range(5)):
            seen.append(item)
            if item == 1:
                progress.request_stop()
    assert seen == [0, 1]
    assert list(progress.progress(range(3))) == [0, 1, 2]  # the request was used up


def test_sigterm_swallowed_by_library_code_still_ends_the_loop() -> None:
    """tomotopy's import clears any error, a KeyboardInterrupt included: a run sent
    SIGTERM there kept training until the signal handler also asked for a stop."""
    previous = {kind: signal.getsignal(kind) for kind in (signal.SIGTERM, signal.SIGINT)}
    end_on_sigterm()
    steps = []
    try:
        with pytest.raises(KeyboardInterrupt):
            for step in progress.progress(range(3), desc="sweeps"):
                steps.append(step)
                try:  # library code that clears every error
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(2)  # the handler interrupts the sleep
                except BaseException:
                    pass
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
        progress.clear_stop()
    assert steps == [0]
