"""What a benchmark's output records about the code that produced it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def commit() -> str:
    """The short hash of the checked-out commit ("unknown" outside a git checkout).

    Read it when the run starts: the code that runs is that commit's, whatever is
    committed while it runs."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return found.stdout.strip() or "unknown"


def write(out: Path, text: str) -> None:
    """Write a benchmark's output to ``out`` (its folder made), and show it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {out}")


def cold_start_env() -> dict[str, str]:
    """The environment cold starts are timed in: this one, with Python allowed to cache
    bytecode. A user's ``classify`` reads its modules' cached bytecode from the second
    run on; under ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes and containers)
    every start would compile the project's source again (40-50 ms here). Time one
    unmeasured start first, which writes the cache."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
