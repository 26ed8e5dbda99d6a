"""Progress bars on a terminal, silence elsewhere (CI logs, pipes, tests)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def enabled() -> bool:
    """True when stderr is a terminal and ``TOPICS_PROGRESS`` is not ``0``."""
    setting = os.environ.get("TOPICS_PROGRESS")
    if setting is not None:
        return setting not in {"0", "false", "no", ""}
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str = "", **kwargs: Any) -> Iterator[T]:
    """``tqdm(iterable)`` on a terminal, the bare iterable otherwise."""
    if not enabled():
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True, **kwargs)
