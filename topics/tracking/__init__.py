"""MLflow tracking: the only package that imports mlflow.

:class:`MlflowTracker` implements the :class:`topics.run.experiment.Tracker`
protocol (runs, nested sweep children, the dataset as a run input);
:class:`TopicsPyfunc` wraps a portable bundle as an MLflow pyfunc model so
``mlflow models serve`` serves exactly what ``classify`` computes. Beside them:

- :mod:`topics.tracking.store`: the store's URI, reachability and safe opening;
- :mod:`topics.tracking.registry`: :func:`register_run_model` puts a run's pyfunc
  model in the registry and :func:`fetch_bundle` turns ``models:/`` and
  ``runs:/`` URIs back into bundle folders;
- :mod:`topics.tracking.runs`: runs already in the store (``topics gc``).

Callers import every name from here.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd  # MLflow's own dependency
import sqlalchemy
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
from topics.tracking.registry import (
    PYFUNC_NAME,
    fetch_bundle,
    register_run_model,
    resolve_alias,
)
from topics.tracking.runs import (
    ERROR_TAG,
    HOST_TAG,
    PID_TAG,
    PROCESS_START_TAG,
    end_dead_runs,
    experiment_of_run,
    process_start,
    run_statuses,
)
from topics.tracking.store import (
    DEFAULT_URI,
    Result,
    check_artifact_root,
    check_reachable,
    first_line,
    open_store,
    quiet_mlflow,
    resolve_lock_wait,
    resolve_uri,
    retry_locked,
    store_lock,
)

__all__ = [
    "BEST_CHILD_TAG",
    "check_reachable",
    "DEFAULT_URI",
    "end_dead_runs",
    "experiment_of_run",
    "fetch_bundle",
    "INPUT_EXAMPLE",
    "MlflowTracker",
    "open_store",
    "register_run_model",
    "resolve_alias",
    "resolve_uri",
    "run_statuses",
    "TopicsPyfunc",
]


BEST_CHILD_TAG = "topics.best_child_run_id"
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
        self.lock_wait = resolve_lock_wait(lock_wait)
        self._run_id: str | None = None
        self._logged = False
        self._failed = False
        quiet_mlflow()
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
        owner[PROCESS_START_TAG] = process_start(os.getpid())
        try:
            with store_lock(self.uri):
                open_store(self.uri, self.lock_wait)
                found = self._retry(
                    lambda: mlflow.set_experiment(experiment), "open the experiment"
                )
                check_artifact_root(found.artifact_location)
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
                f"cannot use the MLflow store at {self.uri}: {first_line(exc)}; "
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
        # The spec, not the manifest: its labels and primary are there whatever
        # provenance the bundle was written with.
        spec = json.loads((bundle_dir / "model.json").read_text(encoding="utf-8"))
        topic_model = next((name for name in TOPIC_BLOCKS if name in spec["features"]), None)
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
                    signature=pyfunc_signature(spec["labels"], spec["primary"], topic_model),
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
            Property(  # a label scored by a passage of a long text: that passage
                "passages",
                Object([Property(label, DataType.string, required=False) for label in labels]),
                required=False,
            ),
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


def _param_value(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."
