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
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent first runs are rare there
    fcntl = None  # type: ignore[assignment]

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd  # MLflow's own dependency
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
from topics.serve.predictor import Predictor

DEFAULT_URI = "sqlite:///mlflow.db"
PYFUNC_NAME = "topics-classifier"
BEST_CHILD_TAG = "topics.best_child_run_id"
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
    """Logs one experiment run to MLflow at ``uri`` (see :func:`resolve_uri`)."""

    def __init__(self, uri: str | None = None, log_model: bool = True) -> None:
        self.uri = resolve_uri(uri)
        self.log_model_enabled = log_model
        _quiet_mlflow()
        check_reachable(self.uri)
        mlflow.set_tracking_uri(self.uri)

    def start_run(
        self, experiment: str, run_name: str, tags: dict[str, str], description: str
    ) -> str:
        try:
            with _store_lock(self.uri):
                mlflow.set_experiment(experiment)
                run = mlflow.start_run(run_name=run_name, tags=tags, description=description)
        except (MlflowException, OSError) as exc:
            raise TrackingError(
                f"cannot use the MLflow store at {self.uri}: {_first_line(exc)}; "
                "check tracking.uri / MLFLOW_TRACKING_URI, or set tracking.enabled=false"
            ) from exc
        return str(run.info.run_id)

    def log_params(self, params: dict[str, Any]) -> None:
        mlflow.log_params({key: _param_value(value) for key, value in params.items()})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        finite = {k: float(v) for k, v in metrics.items() if np.isfinite(v)}
        mlflow.log_metrics(finite, step=step)

    def log_artifacts(self, directory: Path) -> None:
        mlflow.log_artifacts(str(directory))

    def log_dataset(self, name: str, digest: str, source: str, context: str = "corpus") -> None:
        """Record the corpus as the run's input; ``digest`` is its content fingerprint."""
        from mlflow.data.meta_dataset import MetaDataset

        # Registered at import time, hence invisible to mypy.
        from mlflow.data.sources import LocalArtifactDatasetSource  # type: ignore[attr-defined]

        # MetaDataset: the corpus is described (name, source, digest), not uploaded.
        dataset = MetaDataset(  # type: ignore[abstract]
            LocalArtifactDatasetSource(source), name=name, digest=digest[:DIGEST_CHARS]
        )
        mlflow.log_input(dataset, context=context)

    @contextmanager
    def child_run(self, name: str, params: dict[str, Any]) -> Iterator[str]:
        """A nested run under the active one; ``log_*`` calls inside go to the child.

        Yields the child's run id. The child ends FINISHED, or FAILED/KILLED
        when the block raises.
        """
        run = mlflow.start_run(run_name=name, nested=True)
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
        mlflow.set_tag(BEST_CHILD_TAG, run_id)

    def log_model(self, bundle_dir: Path) -> None:
        """Log ``bundle_dir`` as the pyfunc model ``topics-classifier``, with its
        signature (:func:`pyfunc_signature`) and :data:`INPUT_EXAMPLE`."""
        if not self.log_model_enabled:
            return
        manifest = json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory() as tmp:
            # "Models from code": MLflow stores this script instead of a pickle.
            script = Path(tmp) / "topics_model.py"
            script.write_text(MODEL_SCRIPT)
            mlflow.pyfunc.log_model(
                name=PYFUNC_NAME,
                python_model=str(script),
                artifacts={"bundle": str(bundle_dir)},
                code_paths=[str(Path(topics.__file__).parent)],
                signature=pyfunc_signature(manifest["labels"], manifest["primary"]),
                input_example=INPUT_EXAMPLE,
                # Pinned: inferring requirements costs ~4 s per run. tokenizers:
                # for encoder models.
                pip_requirements=[
                    f"mlflow=={mlflow.__version__}",
                    f"numpy=={np.__version__}",
                    f"tokenizers=={metadata.version('tokenizers')}",
                ],
            )

    def end_run(self, status: str, error: str | None = None) -> None:
        if error:  # the reason shows on the run in the UI
            mlflow.set_tag("topics.error", error[:5000])
        mlflow.end_run(status=status)


def pyfunc_signature(labels: list[str], primary: str) -> ModelSignature:
    """The served model's signature: texts in; per text the record ``classify --format
    json`` prints (``labels``, a score per label, dominant ``topics``; ``explanation``
    with ``explain=True``); params ``top_k``, ``explain`` and ``model``."""
    topic = Object(
        [
            Property("topic", DataType.long),
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
        if bundle and (local / bundle / "manifest.json").is_file():
            return local / bundle
    raise TrackingError(
        f"{model_uri} holds no topics bundle (no manifest.json); "
        f"use a run's bundle (runs:/RUN_ID/model) or a registered '{PYFUNC_NAME}' model"
    )


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
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _param_value(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
