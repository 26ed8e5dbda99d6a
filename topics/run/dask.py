"""Connecting to Dask, an optional extra (``pip install -e '.[dask]'``).

Only the sweep and archive commands import this, and only when asked to use a
cluster; everything else in ``topics`` runs without Dask installed.
"""

from __future__ import annotations

from typing import Any

from topics.errors import TopicsError

INSTALL_HINT = "install the extra: pip install -e '.[dask]' (dask[distributed], pyarrow)"


class DaskError(TopicsError, RuntimeError):
    """Dask is missing, or the scheduler cannot be reached."""


def require_distributed() -> Any:
    """The ``distributed`` module, or a one-line error naming what to install."""
    try:
        import distributed
    except ImportError as exc:
        raise DaskError(f"this command needs Dask's distributed scheduler; {INSTALL_HINT}") from exc
    return distributed


def connect(address: str, timeout: float = 10.0) -> Any:
    """A ``distributed.Client`` for the scheduler at ``address`` (``tcp://HOST:PORT``)."""
    distributed = require_distributed()
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise DaskError(
            f"cannot reach the Dask scheduler at {address} ({exc.__class__.__name__}: {exc}); "
            "start one with 'dask scheduler' and check the address (tcp://HOST:PORT)"
        ) from exc


def local_cluster(n_workers: int, processes: bool = True) -> Any:
    """A ``distributed.LocalCluster`` on loopback, one thread per worker."""
    distributed = require_distributed()
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=processes,
        host="127.0.0.1",
        dashboard_address=":0",
    )
