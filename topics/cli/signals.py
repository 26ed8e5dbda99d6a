"""Signals shared by the commands: SIGTERM ends work as Ctrl-C does."""

from __future__ import annotations

import signal
from typing import Any

from topics import progress


def end_on_sigterm() -> None:
    """SIGTERM (a scheduler, `kill`) and Ctrl-C end the work: runs are tracked KILLED.

    Each raises ``KeyboardInterrupt`` at once and asks for a stop
    (:func:`topics.progress.request_stop`), which ends the work at its next step if
    library code swallowed that exception.
    """

    def interrupt(signum: int, frame: Any) -> None:
        progress.request_stop()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
