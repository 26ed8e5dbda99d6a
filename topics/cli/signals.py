"""Signals shared by the commands: SIGTERM ends work as Ctrl-C does."""

from __future__ import annotations

import signal
from typing import Any


def end_on_sigterm() -> None:
    """SIGTERM (a scheduler, `kill`) ends the work like Ctrl-C: runs are tracked KILLED."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
