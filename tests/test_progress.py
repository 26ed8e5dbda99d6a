from __future__ import annotations

import io
import re
from typing import Any

import pytest

from topics import progress


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
