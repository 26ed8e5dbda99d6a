"""MLflow tracking. The only module that imports mlflow.

:class:`MlflowTracker` implements the :class:`topics.run.experiment.Tracker`
protocol (runs, nested sweep children, the dataset as a run input);
:class:`TopicsPyfunc` wraps a portable bundle as an MLflow pyfunc model so
``mlflow models serve`` serves exactly what ``classify`` computes.
:func:`register_run_model` puts a run's pyfunc model in the registry and
:func:`fetch_bundle` turns ``models:/`` and ``runs:/`` URIs back into bundle folders.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent first runs are rare there
    fcntl = None  # type: ignore[assignment]

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd  # MLflow's own dependency
import sqlalchemy
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import (
    Array,
    ColSpec,
    DataType,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
)

import topics
from topics.errors import TrackingError
from topics.serve.predictor import TOPIC_BLOCKS, Predictor

logger = logging.getLogger(__name__)
Result = TypeVar("Result")

DEFAULT_URI = "sqlite:///mlflow.db"
PYFUNC_NAME = "topics-classifier"
BEST_CHILD_TAG = "topics.best_child_run_id"
# Who owns a RUNNING run: ``topics gc`` marks it KILLED once that process is gone.
PID_TAG = "topics.pid"
HOST_TAG = "topics.host"
PROCESS_START_TAG = "topics.process_start"
ERROR_TAG = "topics.error"
# A locked SQLite store is retried, with backoff, for this long in all (seconds).
LOCK_WAIT_SECONDS = 120.0
LOCK_WAIT_ENV = "TOPICS_STORE_LOCK_WAIT"
SQLITE_MAGIC = b"SQLite format 3\x00"
# Per SQLite URI: how long one attempt waits on a lock (ms); see _limit_busy_wait.
_BUSY_MILLIS: dict[str, int] = {}
REACHABILITY_TIMEOUT = 3.0
# The tracking store keeps dataset digests in a 36-character column.
DIGEST_CHARS = 32
# What `mlflow models serve` shows as the model's input example (and checks it serves).
INPUT_EXAMPLE = [
    "Kazakhstan and Korea open a bus and truck plant in Almaty",
    "Border guards detained two journalists at the crossing",
]
MODEL_SCRIPT = """\
import mlflow
from topics.tracking import TopicsPyfunc

mlflow.models.set_model(TopicsPyfunc())
"""


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


class TopicsPyfunc(PythonModel):
    """Serves a topics bundle: input is text (a list, or a DataFrame with a
    ``text`` column); output is the same records ``classify --format json`` prints."""

    def load_context(self, context: Any) -> None:

        self.predictor = Predictor.load(context.artifacts["bundle"])

    # The input as a DataFrame and no return annotation: MLflow infers no signature
    # from these (a list[str] hint would give output "Any" and no params, overriding
    # the signature log_model gives; see pyfunc_signature).
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ):
        return self.predictor.predict(_texts(model_input), **(params or {}))


def _texts(model_input: Any) -> list[str]:
    """Texts from what MLflow passes: a list, or a DataFrame (its ``text`` column, else
    its only one) when the input went through the signature's schema."""
    if hasattr(model_input, "columns"):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(text) for text in model_input[column].tolist()]
    if isinstance(model_input, str):
        return [model_input]
    return [str(text) for text in model_input]


class MlflowTracker:
    """Logs one experiment run to MLflow at ``uri`` (see :func:`resolve_uri`).

    A SQLite store is checked before a run starts (see :func:`open_store`); a
    locked one is retried with backoff for ``lock_wait`` seconds in all
    (default ``$TOPICS_STORE_LOCK_WAIT``, else :data:`LOCK_WAIT_SECONDS`), then
    the call fails with a :class:`~topics.errors.TrackingError`.
    """

    def __init__(
        self, uri: str | None = None, log_model: bool = True, lock_wait: float | None = None
    ) -> None:
        self.uri = resolve_uri(uri)
        self.log_model_enabled = log_model
        self.lock_wait = _lock_wait(lock_wait)
        self._run_id: str | None = None
        self._logged = False
        self._failed = False
        _quiet_mlflow()
        check_reachable(self.uri)
        mlflow.set_tracking_uri(self.uri)

    def start_run(
        self,
        experiment: str,
        run_name: str,
        tags: dict[str, str],
        description: str,
        run_id: str | None = None,
    ) -> str:
        """Start a run, or resume ``run_id`` when the store has it (``topics log``)."""
        self._failed = False
        owner = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
        owner[PROCESS_START_TAG] = _process_start(os.getpid())
        try:
            with _store_lock(self.uri):
                open_store(self.uri, self.lock_wait)
                found = self._retry(
                    lambda: mlflow.set_experiment(experiment), "open the experiment"
                )
                _check_artifact_root(found.artifact_location)
                resumed = bool(run_id) and self._has_run(str(run_id))
                if resumed:
                    run = self._retry(lambda: mlflow.start_run(run_id=run_id), "resume the run")
                    self._retry(lambda: mlflow.set_tags({**tags, **owner}), "tag the run")
                else:
                    run = self._retry(
                        lambda: mlflow.start_run(
                            run_name=run_name, tags={**tags, **owner}, description=description
                        ),
                        "start a run",
                    )
        except (MlflowException, OSError, sqlalchemy.exc.SQLAlchemyError) as exc:
            raise TrackingError(
                f"cannot use the MLflow store at {self.uri}: {_first_line(exc)}; "
                "check tracking.uri / MLFLOW_TRACKING_URI, or set tracking.enabled=false"
            ) from exc
        # A resumed run is not empty: a failure now must not delete it.
        self._run_id, self._logged = str(run.info.run_id), resumed
        return self._run_id

    def log_params(self, params: dict[str, Any]) -> None:
        values = {key: _param_value(value) for key, value in params.items()}
        self._retry(lambda: mlflow.log_params(values), "log the params")
        self._logged = True

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        finite = {k: float(v) for k, v in metrics.items() if np.isfinite(v)}
        self._retry(lambda: mlflow.log_metrics(finite, step=step), "log the metrics")
        self._logged = True

    def log_artifacts(self, directory: Path) -> None:
        self._retry(lambda: mlflow.log_artifacts(str(directory)), "log the artifacts")
        self._logged = True

    def log_tags(self, tags: dict[str, str]) -> None:
        """Tags on the active run (e.g. ``topics.topic.3.name``)."""
        values = {key: str(value) for key, value in tags.items()}
        self._retry(lambda: mlflow.set_tags(values), "tag the run")
        self._logged = True

    def log_dataset(self, name: str, digest: str, source: str, context: str = "corpus") -> None:
        """Record the corpus as the run's input; ``digest`` is its content fingerprint."""
        from mlflow.data.meta_dataset import MetaDataset

        # Registered at import time, hence invisible to mypy.
        from mlflow.data.sources import LocalArtifactDatasetSource  # type: ignore[attr-defined]

        # MetaDataset: the corpus is described (name, source, digest), not uploaded.
        dataset = MetaDataset(  # type: ignore[abstract]
            LocalArtifactDatasetSource(source), name=name, digest=digest[:DIGEST_CHARS]
        )
        self._retry(lambda: mlflow.log_input(dataset, context=context), "log the dataset")

    @contextmanager
    def child_run(self, name: str, params: dict[str, Any]) -> Iterator[str]:
        """A nested run under the active one; ``log_*`` calls inside go to the child.

        Yields the child's run id. The child ends FINISHED, or FAILED/KILLED
        when the block raises.
        """
        run = self._retry(lambda: mlflow.start_run(run_name=name, nested=True), "start a child run")
        self._logged = True
        status = "FAILED"
        try:
            self.log_params(params)
            yield str(run.info.run_id)
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            mlflow.end_run(status=status)

    def log_best_child(self, run_id: str, metrics: dict[str, float]) -> None:
        """Copy the best child's metrics onto the active (parent) run and tag its id."""
        self.log_metrics(metrics)
        self._retry(lambda: mlflow.set_tag(BEST_CHILD_TAG, run_id), "tag the best child")

    def log_model(self, bundle_dir: Path) -> None:
        """Log ``bundle_dir`` as the pyfunc model ``topics-classifier``, with its
        signature (:func:`pyfunc_signature`) and :data:`INPUT_EXAMPLE`."""
        if not self.log_model_enabled:
            return
        manifest = json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))
        features = json.loads((bundle_dir / "model.json").read_text(encoding="utf-8"))["features"]
        topic_model = next((name for name in TOPIC_BLOCKS if name in features), None)
        with tempfile.TemporaryDirectory() as tmp:
            # "Models from code": MLflow stores this script instead of a pickle.
            script = Path(tmp) / "topics_model.py"
            script.write_text(MODEL_SCRIPT)
            self._retry(
                lambda: mlflow.pyfunc.log_model(
                    name=PYFUNC_NAME,
                    python_model=str(script),
                    artifacts={"bundle": str(bundle_dir)},
                    code_paths=[str(Path(topics.__file__).parent)],
                    signature=pyfunc_signature(
                        manifest["labels"], manifest["primary"], topic_model
                    ),
                    input_example=INPUT_EXAMPLE,
                    # Pinned: inferring requirements costs ~4 s per run. tokenizers:
                    # for encoder models.
                    pip_requirements=[
                        f"mlflow=={mlflow.__version__}",
                        f"numpy=={np.__version__}",
                        f"tokenizers=={metadata.version('tokenizers')}",
                    ],
                ),
                "log the model",
            )
        self._logged = True

    def end_run(self, status: str, error: str | None = None) -> None:
        """End the active run with ``status``.

        A run that FAILED before anything was logged (a store fault at its first
        write) is deleted, so a failing run leaves no empty run behind.
        """
        run_id = self._run_id
        client = mlflow.MlflowClient(self.uri)
        try:
            if run_id and error:  # the reason shows on the run in the UI
                self._retry(lambda: client.set_tag(run_id, ERROR_TAG, error[:5000]), "tag the run")
            if run_id:
                self._retry(lambda: client.set_terminated(run_id, status), "end the run")
            if run_id and status == "FAILED" and not self._logged:
                self._retry(lambda: client.delete_run(run_id), "delete the empty run")
        finally:
            self._run_id = None
            # Pops the active run even when the store cannot be written.
            with suppress(MlflowException):
                mlflow.end_run(status=status)

    def _has_run(self, run_id: str) -> bool:
        client = mlflow.MlflowClient(self.uri)
        try:
            self._retry(partial(client.get_run, run_id), "look up the run")
        except TrackingError as exc:
            if isinstance(exc.__cause__, MlflowException) and "not found" in str(exc).lower():
                return False
            raise
        return True

    def _retry(self, call: Callable[[], Result], what: str) -> Result:
        """``call()``, retried with backoff while the store is locked, for
        ``lock_wait`` seconds in all; any store failure becomes one TrackingError line.

        Once a call has failed, the next ones (ending the run, tagging its error) try
        once: a store that just stayed locked for ``lock_wait`` is not waited for again.
        """
        try:
            return retry_locked(call, what, self.uri, 0.0 if self._failed else self.lock_wait)
        except TrackingError:
            self._failed = True
            raise


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
                    f"cannot {what} in the MLflow store {uri}: {_first_line(exc)}"
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


def _lock_wait(lock_wait: float | None) -> float:
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


def pyfunc_signature(
    labels: list[str], primary: str, topic_model: str | None = None
) -> ModelSignature:
    """The served model's signature: texts in; per text the record ``classify --format
    json`` prints (``labels``, a score per label, dominant ``topics``; ``explanation``
    with ``explain=True``); params ``top_k``, ``explain``, ``model`` and, for a bundle
    with a topic model (``topic_model``: its default one), ``topic_model``."""
    topic = Object(
        [
            Property("topic", DataType.long),
            Property("name", DataType.string),
            Property("weight", DataType.double),
            Property("words", Array(DataType.string)),
        ]
    )
    term = Object([Property("term", DataType.string), Property("weight", DataType.double)])
    explanation = Object(
        [
            Property(
                "terms",
                Object([Property(label, Array(term), required=False) for label in labels]),
            ),
            Property("terms_model", DataType.string, required=False),
            Property("topics", Array(topic)),
        ]
    )
    record = Object(
        [
            Property("labels", Array(DataType.string)),
            Property("scores", Object([Property(label, DataType.double) for label in labels])),
            Property("topics", Array(topic)),
            Property("explanation", explanation, required=False),
        ]
    )
    return ModelSignature(
        inputs=Schema([ColSpec(DataType.string)]),
        outputs=Schema([ColSpec(record)]),
        params=ParamSchema(
            [
                ParamSpec("top_k", DataType.long, 3),
                ParamSpec("explain", DataType.boolean, False),
                ParamSpec("model", DataType.string, primary),
                *([ParamSpec("topic_model", DataType.string, topic_model)] if topic_model else []),
            ]
        ),
    )


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
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
            f"cannot create the MLflow store {path}: {_first_line(exc)}; nothing was "
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
        verdict = _first_line(exc.__cause__)
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


def _check_artifact_root(location: str | None) -> None:
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


def register_run_model(
    run_id: str, name: str, alias: str | None = None, uri: str | None = None
) -> str:
    """Register the pyfunc model logged by ``run_id`` as a new version of ``name``.

    The version points at the run's LoggedModel ``topics-classifier``, whose
    ``bundle`` artifact is the run's portable bundle, so ``models:/NAME@ALIAS``
    serves through MLflow and resolves to the same files ``classify`` reads.
    Returns the new version number.
    """
    tracking_uri = resolve_uri(uri)
    _quiet_mlflow()
    check_reachable(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise TrackingError(
            f"run {run_id} not found in {tracking_uri}: {_first_line(exc)}; "
            "check the id and tracking.uri / MLFLOW_TRACKING_URI"
        ) from exc
    model_ids = [output.model_id for output in (run.outputs.model_outputs if run.outputs else [])]
    if not model_ids:
        model_ids = [
            model.model_id
            for model in client.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run_id}' AND name = '{PYFUNC_NAME}'",
            )
        ]
    if not model_ids:
        raise TrackingError(
            f"run {run_id} logged no '{PYFUNC_NAME}' model; rerun it with tracking.log_model=true"
        )
    provenance = {k: v for k, v in run.data.tags.items() if k.startswith("topics.")}
    try:
        version = mlflow.register_model(
            f"models:/{model_ids[0]}",
            name,
            tags={**provenance, "topics.run_id": run_id},
        )
        if alias:
            client.set_registered_model_alias(name, alias, version.version)
    except MlflowException as exc:
        raise TrackingError(f"cannot register {name}: {_first_line(exc)}") from exc
    return str(version.version)


def resolve_alias(model_uri: str, uri: str | None = None) -> str:
    """``models:/NAME@ALIAS`` -> ``models:/NAME/VERSION``, the version the alias names now."""
    name, _, alias = model_uri.removeprefix("models:/").rstrip("/").partition("@")
    tracking_uri = resolve_uri(uri)
    _quiet_mlflow()
    check_reachable(tracking_uri)
    try:
        version = mlflow.MlflowClient(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise TrackingError(
            f"cannot fetch {model_uri} from {tracking_uri}: {_first_line(exc)}; "
            "check the name/alias, and tracking.uri / MLFLOW_TRACKING_URI"
        ) from exc
    return f"models:/{name}/{version.version}"


def fetch_bundle(model_uri: str, dst: str | Path, uri: str | None = None) -> Path:
    """Download the bundle behind ``model_uri`` into ``dst``; return its folder.

    ``runs:/RUN_ID/model`` is the bundle folder a run logged as artifacts;
    ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` and ``models:/MODEL_ID`` are
    pyfunc models whose ``bundle`` artifact is that same folder.
    """
    tracking_uri = resolve_uri(uri)
    _quiet_mlflow()
    check_reachable(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))
    except (MlflowException, OSError) as exc:
        raise TrackingError(
            f"cannot fetch {model_uri} from {tracking_uri}: {_first_line(exc)}; "
            "check the name/alias or run id, and tracking.uri / MLFLOW_TRACKING_URI"
        ) from exc
    if (local / "manifest.json").is_file():
        return local
    mlmodel = local / "MLmodel"
    if mlmodel.is_file():
        flavor = yaml.safe_load(mlmodel.read_text()).get("flavors", {}).get("python_function", {})
        bundle = flavor.get("artifacts", {}).get("bundle", {}).get("path")
        if bundle:
            folder = _inside(local, bundle, model_uri)
            if (folder / "manifest.json").is_file():
                return folder
    raise TrackingError(
        f"{model_uri} holds no topics bundle (no manifest.json); "
        f"use a run's bundle (runs:/RUN_ID/model) or a registered '{PYFUNC_NAME}' model"
    )


def _inside(local: Path, relative: Any, model_uri: str) -> Path:
    """``local / relative`` resolved, refused unless it stays inside ``local``: the
    MLmodel is data from the store, and its path must not point at any other folder."""
    root = local.resolve()
    folder = (root / str(relative)).resolve()
    if not isinstance(relative, str) or not folder.is_relative_to(root):
        raise TrackingError(
            f"{model_uri}: MLmodel artifacts.bundle.path {relative!r} points outside the "
            "downloaded model; expected a path inside it, such as 'artifacts/model'. "
            "Re-log the model, or use the run's bundle (runs:/RUN_ID/model)"
        )
    return folder


def _quiet_mlflow() -> None:
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


def _param_value(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _process_start(pid: int) -> str:
    """When ``pid`` started (Linux: clock ticks since boot), to tell a reused pid
    from the process that owned a run; empty where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z" and (not started or _process_start(pid) == started)


def end_dead_runs(uri: str | None = None, dry_run: bool = False) -> list[dict[str, str]]:
    """Mark KILLED every RUNNING run whose process (pid and host tags) is gone.

    ``kill -9`` gives a run no chance to end itself; its owner's pid, host and
    start time are tags set when the run started. Runs started on another host,
    or by an older topics without those tags, are left alone. Returns one record
    per run ended (``run_id``, ``experiment``, ``name``, ``pid``); ``dry_run``
    only lists them.
    """
    tracking_uri = resolve_uri(uri)
    if not _store_exists(tracking_uri):
        return []
    _quiet_mlflow()
    check_reachable(tracking_uri)
    open_store(tracking_uri, _lock_wait(None))
    client = mlflow.MlflowClient(tracking_uri)
    wait = _lock_wait(None)
    host = socket.gethostname()
    ended = []
    experiments = retry_locked(client.search_experiments, "list experiments", tracking_uri, wait)
    for experiment in experiments:
        runs = retry_locked(
            partial(
                client.search_runs,
                [experiment.experiment_id],
                filter_string="attributes.status = 'RUNNING'",
            ),
            "list the running runs",
            tracking_uri,
            wait,
        )
        for run in runs:
            tags = run.data.tags
            if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
                continue
            pid = int(tags[PID_TAG])
            if _process_alive(pid, tags.get(PROCESS_START_TAG, "")):
                continue
            run_id = run.info.run_id
            if not dry_run:
                note = f"process {pid} on {host} ended without ending the run (kill -9?)"
                retry_locked(
                    partial(client.set_tag, run_id, ERROR_TAG, note), "tag", tracking_uri, wait
                )
                retry_locked(
                    partial(client.set_terminated, run_id, "KILLED"), "end", tracking_uri, wait
                )
            ended.append(
                {
                    "run_id": run_id,
                    "experiment": experiment.name,
                    "name": run.info.run_name or "",
                    "pid": str(pid),
                }
            )
    return ended


def experiment_of_run(run_id: str, uri: str | None = None) -> str | None:
    """The name of the experiment ``run_id`` belongs to in the store, or None when
    the store does not hold that run (a ``--no-track`` run's id, another store's)
    or does not exist yet. ``topics evaluate`` logs an evaluation beside the run
    it evaluates, as a run of its own (not a child: the model's run is finished)."""
    tracking_uri = resolve_uri(uri)
    if not _store_exists(tracking_uri):
        return None
    _quiet_mlflow()
    check_reachable(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    wait = _lock_wait(None)
    try:
        run = retry_locked(partial(client.get_run, run_id), "look up", tracking_uri, wait)
        experiment = retry_locked(
            partial(client.get_experiment, run.info.experiment_id), "look up", tracking_uri, wait
        )
    except TrackingError as exc:
        if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
            return None
        raise
    return str(experiment.name)


def run_statuses(run_ids: list[str], uri: str | None = None) -> dict[str, str]:
    """The status (RUNNING, FINISHED, FAILED, KILLED) of each of ``run_ids`` the
    store knows; ids it does not know are left out."""
    tracking_uri = resolve_uri(uri)
    if not run_ids or not _store_exists(tracking_uri):
        return {}
    client = mlflow.MlflowClient(tracking_uri)
    wait = _lock_wait(None)
    statuses = {}
    for run_id in run_ids:
        try:
            run = retry_locked(partial(client.get_run, run_id), "look up", tracking_uri, wait)
        except TrackingError as exc:
            if "not found" in str(exc).lower():
                continue
            raise
        statuses[run_id] = str(run.info.status)
    return statuses


def _store_exists(uri: str) -> bool:
    """False for a SQLite store that was never made (asking would create it)."""
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).exists()
