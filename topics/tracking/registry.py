"""The model registry: a run's pyfunc model registered under a name (and
alias), aliases resolved, and ``models:/`` and ``runs:/`` URIs fetched back as
bundle folders that ``classify`` scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import mlflow.artifacts
import yaml
from mlflow.exceptions import MlflowException

from topics.errors import TrackingError
from topics.tracking.store import check_reachable, first_line, quiet_mlflow, resolve_uri

PYFUNC_NAME = "topics-classifier"


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
    quiet_mlflow()
    check_reachable(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise TrackingError(
            f"run {run_id} not found in {tracking_uri}: {first_line(exc)}; "
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
        raise TrackingError(f"cannot register {name}: {first_line(exc)}") from exc
    return str(version.version)


def resolve_alias(model_uri: str, uri: str | None = None) -> str:
    """``models:/NAME@ALIAS`` -> ``models:/NAME/VERSION``, the version the alias names now."""
    name, _, alias = model_uri.removeprefix("models:/").rstrip("/").partition("@")
    tracking_uri = resolve_uri(uri)
    quiet_mlflow()
    check_reachable(tracking_uri)
    try:
        version = mlflow.MlflowClient(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise TrackingError(
            f"cannot fetch {model_uri} from {tracking_uri}: {first_line(exc)}; "
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
    quiet_mlflow()
    check_reachable(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))
    except (MlflowException, OSError) as exc:
        raise TrackingError(
            f"cannot fetch {model_uri} from {tracking_uri}: {first_line(exc)}; "
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
