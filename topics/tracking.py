"""MLflow tracking. The only module that imports mlflow.

:class:`MlflowTracker` implements the :class:`topics.experiment.Tracker`
protocol; :class:`TopicsPyfunc` wraps a portable bundle as an MLflow pyfunc
model so ``mlflow models serve`` serves exactly what ``classify`` computes.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

import topics
from topics.errors import TrackingError

DEFAULT_URI = "sqlite:///mlflow.db"
PYFUNC_NAME = "topics-classifier"
MODEL_SCRIPT = """\
import mlflow
from topics.tracking import TopicsPyfunc

mlflow.models.set_model(TopicsPyfunc())
"""


def resolve_uri(uri: str | None) -> str:
    """Config value, else ``$MLFLOW_TRACKING_URI``, else the embedded SQLite store."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


class TopicsPyfunc(PythonModel):
    """Serves a topics bundle: input is text (a list, or a DataFrame with a
    ``text`` column); output is the same records ``classify --format json`` prints."""

    def load_context(self, context: Any) -> None:
        from topics.predict import Predictor

        self.predictor = Predictor.load(context.artifacts["bundle"])

    # No return annotation: MLflow would type the nested records as "Any" and warn.
    def predict(self, context: Any, model_input: list[str], params: dict[str, Any] | None = None):
        return self.predictor.predict([str(text) for text in model_input], **(params or {}))


class MlflowTracker:
    """Logs one experiment run to MLflow at ``uri`` (see :func:`resolve_uri`)."""

    def __init__(self, uri: str | None = None, log_model: bool = True) -> None:
        self.uri = resolve_uri(uri)
        self.log_model_enabled = log_model
        # Schema migrations and "creating experiment" notes are not news to the user.
        for name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
            logging.getLogger(name).setLevel(logging.WARNING)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mlflow.set_tracking_uri(self.uri)

    def start_run(
        self, experiment: str, run_name: str, tags: dict[str, str], description: str
    ) -> str:
        try:
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

    def log_model(self, bundle_dir: Path) -> None:
        if not self.log_model_enabled:
            return
        with tempfile.TemporaryDirectory() as tmp:
            # "Models from code": MLflow stores this script instead of a pickle.
            script = Path(tmp) / "topics_model.py"
            script.write_text(MODEL_SCRIPT)
            mlflow.pyfunc.log_model(
                name=PYFUNC_NAME,
                python_model=str(script),
                artifacts={"bundle": str(bundle_dir)},
                code_paths=[str(Path(topics.__file__).parent)],
                # Pinned: inferring requirements costs ~4 s per run.
                pip_requirements=[f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}"],
            )

    def end_run(self, status: str) -> None:
        mlflow.end_run(status=status)

    @contextmanager
    def child_run(self, run_name: str) -> Iterator[None]:
        """A nested run under the active one (e.g. one per K of a sweep)."""
        with mlflow.start_run(run_name=run_name, nested=True):
            yield


def _param_value(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
