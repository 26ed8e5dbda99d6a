from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import tiny_config
from topics.config import validate_config
from topics.errors import TrackingError
from topics.experiment import run
from topics.tracking import MlflowTracker, resolve_uri


def test_uri_resolution(monkeypatch: Any) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_uri(None) == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_uri(None) == "http://127.0.0.1:5999"
    assert resolve_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_end_to_end_with_a_real_sqlite_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = validate_config(tiny_config(tmp_path, tracking={"enabled": True, "uri": uri}))
    result = run(config, MlflowTracker(uri))

    client = MlflowClient(uri)
    finished = client.get_run(result.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.params["model.lda.num_topics"] == "3"
    assert finished.data.metrics["test_micro_f1"] == pytest.approx(result.metrics["test_micro_f1"])
    assert finished.data.tags["topics.dataset"] == "tiny"
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"metrics.json", "config.yaml", "plots", "model"} <= artifacts

    # The logged pyfunc model serves what the bundle predicts.
    model_uri = f"models:/{mlflow.last_logged_model().model_id}"
    served = mlflow.pyfunc.load_model(model_uri).predict(["Railway cargo trains reached the port"])
    from topics.predict import Predictor

    expected = Predictor.load(result.artifact_dir / "model").predict(
        ["Railway cargo trains reached the port"]
    )
    assert served == expected


def test_unusable_store_is_reported_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    tracker = MlflowTracker(f"sqlite:///{blocker}/sub/mlflow.db")
    with pytest.raises(TrackingError, match="cannot use the MLflow store"):
        tracker.start_run("e", "r", {}, "")


def test_child_runs_nest_under_the_experiment_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, log_model=False)
    parent = tracker.start_run("sweep", "parent", {}, "")
    with tracker.child_run("parent-k5"):
        tracker.log_metrics({"lda_coherence_c_v": 0.5})
    tracker.log_metrics({"lda_sweep_best_k": 5.0})  # back on the parent
    tracker.end_run("FINISHED")

    client = MlflowClient(uri)
    (child,) = client.search_runs(
        [client.get_run(parent).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    )
    assert child.info.run_name == "parent-k5"
    assert child.data.metrics == {"lda_coherence_c_v": 0.5}
    assert client.get_run(parent).data.metrics == {"lda_sweep_best_k": 5.0}
