"""The tracking store: where it is, whether it answers, and opening it safely.

A URI comes from the config, else ``$MLFLOW_TRACKING_URI``, else the embedded
SQLite file; an ``http(s)://`` server is asked once whether it is up. A SQLite
store is created under a cross-process lock, checked (an intact file, a schema
this MLflow can read) before MLflow touches it, and a locked one is retried with
backoff instead of failing the run.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent first runs are rare there
    fcntl = None  # type: ignore[assignment]

import mlflow
import sqlalchemy
from mlflow.exceptions import MlflowException

from topics.errors import TrackingError

logger = logging.getLogger(__name__)
Result = TypeVar("Result")
DEFAULT_URI = "sqlite:///mlflow.db"
# A locked SQLite store is retried, with backoff, for this long in all (seconds).
LOCK_WAIT_SECONDS = 120.0
LOCK_WAIT_ENV = "TOPICS_STORE_LOCK_WAIT"
SQLITE_MAGIC = b"SQLite format 3\x00"
# Per SQLite URI: how long one attempt waits on a lock (ms); see _limit_busy_wait.
_BUSY_MILLIS: dict[str, int] = {}
REACHABILITY_TIMEOUT = 3.0


def resolve_uri(uri: str | None) -> str:
    """Config value, else ``$MLFLOW_TRACKING_URI``, else the embedded SQLite store."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def check_reachable(uri: str, timeout: float = REACHABILITY_TIMEOUT) -> None:
    """Fail fast, in one line, when an ``http(s)://`` tracking server does not answer.

    MLflow's own client retries a dead server for minutes; this asks the
    server's ``/health`` endpoint once, with a short timeout. Other URIs
    (SQLite, a folder) are checked when the run starts.
    """
    if not uri.startswith(("http://", "https://")):
        return
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"MLflow server {uri} is not reachable ({reason}); start it with 'make server', "
            "fix tracking.uri / MLFLOW_TRACKING_URI, or pass --no-track"
        ) from exc
    if status != 200:
        raise TrackingError(
            f"MLflow server {uri} answered {url} with HTTP {status}, expected 200; "
            "is it an MLflow tracking server?"
        )


def retry_locked(call: Callable[[], Result], what: str, uri: str, lock_wait: float) -> Result:
    """Run ``call``; while it fails on a locked SQLite store, wait and retry (0.1 s,
    doubling up to 5 s) until ``lock_wait`` seconds have passed. Then, or on any
    other store failure, raise a one-line :class:`~topics.errors.TrackingError`."""
    deadline = time.monotonic() + lock_wait
    delay = 0.1
    _limit_busy_wait(uri, lock_wait)
    warned = False
    while True:
        try:
            return call()
        except (MlflowException, OSError, sqlalchemy.exc.SQLAlchemyError, sqlite3.Error) as exc:
            left = deadline - time.monotonic()
            if not _is_locked(exc):
                raise TrackingError(
                    f"cannot {what} in the MLflow store {uri}: {first_line(exc)}"
                ) from exc
            if left <= 0:
                raise TrackingError(
                    f"cannot {what}: the MLflow store {uri} stayed locked for {lock_wait:g} s "
                    f"(another process holds it); retry later or raise ${LOCK_WAIT_ENV}"
                ) from exc
            if not warned:
                logger.warning(
                    "the MLflow store %s is locked; retrying for up to %.0f s", uri, left
                )
                warned = True
            time.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


def resolve_lock_wait(lock_wait: float | None) -> float:
    if lock_wait is not None:
        return float(lock_wait)
    value = os.environ.get(LOCK_WAIT_ENV)
    try:
        return float(value) if value else LOCK_WAIT_SECONDS
    except ValueError:
        raise TrackingError(
            f"{LOCK_WAIT_ENV} must be a number of seconds, got {value!r}; e.g. {LOCK_WAIT_ENV}=60"
        ) from None


def _limit_busy_wait(uri: str, lock_wait: float) -> None:
    """Make one attempt on a locked store wait at most ~1/5 of ``lock_wait`` (<= 5 s).

    MLflow sets ``PRAGMA busy_timeout = 20000`` on every session, so a single call
    blocks 20 s before it fails; the retry loop needs shorter attempts to back off
    and to honour a budget below 20 s.
    """
    if not uri.startswith("sqlite:"):
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = SqlAlchemyStore._engine_map.get(uri)
    if engine is None:
        return
    if uri not in _BUSY_MILLIS:

        def rewrite(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> Any:
            if statement.lstrip().upper().startswith("PRAGMA BUSY_TIMEOUT"):
                statement = f"PRAGMA busy_timeout = {_BUSY_MILLIS[uri]};"
            return statement, parameters

        sqlalchemy.event.listen(engine, "before_cursor_execute", rewrite, retval=True)
    _BUSY_MILLIS[uri] = int(1000 * min(5.0, max(lock_wait / 5, 0.05)))


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Serialise first use of a SQLite store across processes: two runs creating
    the same new database at once would both run its schema migrations."""
    if not uri.startswith("sqlite:///") or fcntl is None:
        yield
        return
    lock_path = Path(uri.removeprefix("sqlite:///") + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_store(uri: str, lock_wait: float = LOCK_WAIT_SECONDS) -> None:
    """Check a SQLite store before a run writes to it; create a new one atomically.

    A new (missing or empty) store is migrated in a temporary file beside it and
    renamed into place, so a first use cut short (a full disk, a kill) leaves no
    half-migrated ``mlflow.db``. An existing store must be an intact SQLite file
    at the schema revision this MLflow expects; otherwise a one-line
    :class:`~topics.errors.TrackingError` says what is wrong and how to recover.
    Other URIs (a server, a folder) are left to MLflow.
    """
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.exists() or path.stat().st_size == 0:
        _create_store(path)
    else:
        _check_sqlite_file(path, lock_wait)
        retry_locked(lambda: _check_schema(path), "read the schema", uri, lock_wait)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # The engine MLflow will use, made now so every attempt on it has a bounded wait.
    SqlAlchemyStore._get_or_create_engine(uri)
    _limit_busy_wait(uri, lock_wait)


def _create_store(path: Path) -> None:
    from mlflow.store.db import utils as db_utils

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.migrating")
    staging.unlink(missing_ok=True)
    try:
        engine = db_utils.create_sqlalchemy_engine(f"sqlite:///{staging}")
        try:
            db_utils._initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(staging, path)
    except (sqlalchemy.exc.SQLAlchemyError, MlflowException, OSError) as exc:
        raise TrackingError(
            f"cannot create the MLflow store {path}: {first_line(exc)}; nothing was "
            "written (a new store is migrated in a temporary file); free space and rerun"
        ) from exc
    finally:
        staging.unlink(missing_ok=True)


def _check_sqlite_file(path: Path, lock_wait: float) -> None:
    """An intact SQLite file: its magic, its header's page size and page count, then
    SQLite's own ``quick_check``."""
    recover = (
        f"move it aside (mv {path} {path}.broken) to start a new store, or restore it from a backup"
    )
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(100)
    if not header.startswith(SQLITE_MAGIC):
        raise TrackingError(
            f"the MLflow store {path} is not an SQLite database (it starts with "
            f"{header[:16]!r}, expected {SQLITE_MAGIC!r}); {recover}"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if len(header) < 100 or page_size < 512 or page_size & (page_size - 1):
        raise TrackingError(
            f"the MLflow store {path} has a damaged SQLite header (page size {page_size}, "
            f"expected a power of two from 512 to 65536); {recover}"
        )
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is valid when its change counter matches "version-valid-for".
    if header[24:28] == header[92:96] and size < pages * page_size:
        raise TrackingError(
            f"the MLflow store {path} is truncated ({size} bytes, its header says "
            f"{pages * page_size}); {recover}"
        )

    def quick_check() -> str:
        connection = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=min(5.0, max(lock_wait / 5, 0.05))
        )
        try:
            return str(connection.execute("PRAGMA quick_check(1)").fetchone()[0])
        finally:
            connection.close()

    try:
        verdict = retry_locked(quick_check, "check", f"sqlite:///{path}", lock_wait)
    except TrackingError as exc:
        if not isinstance(exc.__cause__, sqlite3.DatabaseError) or _is_locked(exc.__cause__):
            raise
        verdict = first_line(exc.__cause__)
    verdict = " ".join(verdict.split())
    if verdict != "ok":
        raise TrackingError(f"the MLflow store {path} is damaged ({verdict}); {recover}")


def _check_schema(path: Path) -> None:
    from mlflow.store.db import utils as db_utils

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
    try:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
        revision = None
        if "alembic_version" in tables:
            row = connection.execute("select version_num from alembic_version").fetchone()
            revision = row[0] if row else None
        runs = 0
        if "runs" in tables:
            runs = connection.execute("select count(*) from runs").fetchone()[0]
    finally:
        connection.close()
    head = db_utils._get_latest_schema_revision()
    if revision == head:
        return
    if runs:
        how = f"back it up, then run 'mlflow db upgrade sqlite:///{path}'"
    else:
        how = f"it holds no runs: delete it (rm {path}) and rerun"
    raise TrackingError(
        f"the MLflow store {path} is half-migrated or from another MLflow version (schema "
        f"revision {revision}, MLflow {mlflow.__version__} expects {head}); {how}"
    )


def check_artifact_root(location: str | None) -> None:
    """A local artifact folder (MLflow's ``mlruns/``) must be writable before a run starts."""
    if not location or not location.startswith(("file:", "/")):
        return
    from mlflow.utils.file_utils import local_file_uri_to_path

    folder = Path(local_file_uri_to_path(location))
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:  # a probe, not os.access: a full disk or a read-only mount refuses root too
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"topics")
    except OSError as exc:
        raise TrackingError(
            f"MLflow's artifact folder {folder} is not writable ({exc.strerror or exc}); "
            "fix its permissions or free space, or point tracking.uri / MLFLOW_TRACKING_URI "
            "at another store"
        ) from exc


def quiet_mlflow() -> None:
    # Schema migrations and "creating experiment" notes are not news to the user.
    # Nor are "validating the input example" notes.
    for name in (
        "alembic",
        "mlflow.store.db.utils",
        "mlflow.tracking.fluent",
        "mlflow.pyfunc",
        "mlflow.models",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    # It logs each locked or failed query with a traceback; the store's faults reach
    # the user once, as one TrackingError line (see retry_locked).
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def store_exists(uri: str) -> bool:
    """False for a SQLite store that was never made (asking would create it)."""
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).exists()
