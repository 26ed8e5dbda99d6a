"""Progress: bars on a terminal, one line per stage elsewhere (CI logs, pipes).

Two kinds of report, both to stderr:

- **bars** (:func:`progress`, :func:`bar`): tqdm, on a terminal only. Every bar
  shows its total; a bar opened while another is running takes the line below it
  and is cleared when done, so nested bars (a sweep's trials, a model's labels)
  stay each on their own line instead of redrawing over one another. Worker
  processes (joblib, Dask) draw none: their bars would fight with the parent's.
- **stages** (:func:`stage`): one line when a stage of a run starts (load, split,
  fit tfidf, evaluate, export, log), with the time since the run started. Off until
  a command turns them on for its duration with :func:`report_stages`; library
  calls stay silent.

``TOPICS_PROGRESS=0`` silences both; ``TOPICS_PROGRESS=1`` draws bars off a terminal.

Every step of a :func:`progress` loop, bar update and stage is also where a stop
asked for by a signal (:func:`request_stop`) takes effect: see :func:`check_stop`.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
_OFF = {"0", "false", "no", ""}

_depth = 0  # bars currently open in this process: the next one goes below them
_stages_on = False
_stage_stream: TextIO | None = None  # None: sys.stderr at the time of the line
_stage_clock = 0.0
_stop_requested = False  # by a signal handler (topics.cli.signals), until check_stop acts


def enabled() -> bool:
    """True when bars are drawn: stderr is a terminal (or ``TOPICS_PROGRESS`` is set
    and not ``0``), and this is not a worker process."""
    if multiprocessing.parent_process() is not None:
        return False
    setting = os.environ.get("TOPICS_PROGRESS")
    if setting is not None:
        return setting.strip().lower() not in _OFF
    return sys.stderr.isatty()


def silenced() -> bool:
    """True when ``TOPICS_PROGRESS`` turns every report off."""
    setting = os.environ.get("TOPICS_PROGRESS")
    return setting is not None and setting.strip().lower() in _OFF


def request_stop() -> None:
    """Ask the work in progress to end: :func:`check_stop` raises at its next step."""
    global _stop_requested
    _stop_requested = True


def clear_stop() -> None:
    """Forget a stop request: the work it asked to end has ended."""
    global _stop_requested
    _stop_requested = False


def check_stop() -> None:
    """Raise ``KeyboardInterrupt`` once if a stop was requested (in the main thread).

    The SIGTERM / Ctrl-C handler raises ``KeyboardInterrupt`` itself, at whatever
    bytecode runs next, and library code there can swallow it: tomotopy's import
    clears any error while it picks its SIMD module, and an exception raised in a
    weakref callback is only printed. A run sent SIGTERM then trained on. The
    request stays, so the next step of long work ends it.
    """
    global _stop_requested
    if _stop_requested and threading.current_thread() is threading.main_thread():
        _stop_requested = False
        raise KeyboardInterrupt


def progress(iterable: Iterable[T], desc: str = "", **kwargs: Any) -> Iterator[T]:
    """``tqdm(iterable)`` on a terminal (with a total, below any open bar), the bare
    iterable otherwise; a requested stop ends it at the next item."""
    if not enabled():
        for item in iterable:
            check_stop()
            yield item
        return
    if "total" not in kwargs and hasattr(iterable, "__len__"):
        kwargs["total"] = len(iterable)  # type: ignore[arg-type]
    with bar(desc, **kwargs) as shown:
        for item in iterable:
            yield item
            shown.update(1)  # and check_stop


class _Bar:
    """One tqdm bar at its own line; a no-op off a terminal."""

    def __init__(self, desc: str, total: int | None = None, **kwargs: Any) -> None:
        global _depth
        self._tqdm: Any = None
        if enabled():
            from tqdm.auto import tqdm

            self._tqdm = tqdm(
                desc=desc,
                total=total,
                position=_depth,
                leave=False,
                dynamic_ncols=True,
                file=sys.stderr,
                **kwargs,
            )
            _depth += 1

    def update(self, n: int = 1, note: str | None = None) -> None:
        check_stop()
        if self._tqdm is not None:
            if note is not None:
                self._tqdm.set_postfix_str(note, refresh=False)
            self._tqdm.update(n)

    def close(self) -> None:
        global _depth
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
            _depth = max(_depth - 1, 0)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar(desc: str, total: int | None = None, **kwargs: Any) -> _Bar:
    """A bar updated by hand (``.update(n, note)``, ``.close()``), e.g. trials as they finish."""
    return _Bar(desc, total, **kwargs)


@contextmanager
def report_stages(stream: TextIO | None = None) -> Iterator[None]:
    """Stage lines on inside the block (to ``stream``, default stderr), unless
    ``TOPICS_PROGRESS=0``; the run's clock starts now."""
    global _stages_on, _stage_stream, _stage_clock
    saved = _stages_on, _stage_stream, _stage_clock
    _stages_on, _stage_stream, _stage_clock = not silenced(), stream, time.perf_counter()
    try:
        yield
    finally:
        _stages_on, _stage_stream, _stage_clock = saved


def stage(name: str) -> None:
    """Say that a stage starts: ``topics: [  3.2s] fit tfidf`` (once stages are on)."""
    check_stop()
    if not _stages_on or multiprocessing.parent_process() is not None:
        return
    stream = _stage_stream or sys.stderr
    line = f"topics: [{time.perf_counter() - _stage_clock:6.1f}s] {name}"
    if _depth and enabled():
        from tqdm.auto import tqdm

        tqdm.write(line, file=stream)  # above the open bars, not through them
    else:
        print(line, file=stream, flush=True)
