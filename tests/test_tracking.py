from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import LABELS, REPO, tiny_config
from topics.cli.classify import main as classify_main
from topics.cli.main import main as cli_main
from topics.config import validate_config
from topics.errors import TrackingError
from topics.run.experiment import run
from topics.serve.predictor import Predictor
from topics.tracking import (
    BEST_CHILD_TAG,
    INPUT_EXAMPLE,
    MlflowTracker,
    check_reachable,
    resolve_uri,
)


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
    from topics.serve.predictor import Predictor

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_fails_fast_in_one_line(tmp_path: Path, capsys: Any) -> None:
    uri = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingError, match="not reachable.*make server"):
        check_reachable(uri, timeout=2)
    assert time.monotonic() - started < 5

    # Through the CLI: one line, exit 2, and no training happened (no run folder).
    out = tmp_path / "artifacts"
    code = cli_main(
        [
            "run",
            str(REPO / "experiments" / "quickstart.yaml"),
            "--set",
            f"tracking.uri={uri}",
            "--set",
            f"output_dir={out}",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "not reachable" in err[0]
    assert not out.exists()


def test_sqlite_and_folder_uris_need_no_server() -> None:
    check_reachable("sqlite:///nowhere/mlflow.db")
    check_reachable("file:///tmp/mlruns")


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    tmp = tmp_path_factory.mktemp("tracked")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    config = validate_config(
        tiny_config(tmp, tracking={"enabled": True, "uri": uri}, description="")
    )
    return uri, run(config, MlflowTracker(uri), experiment_file="experiments/tiny.yaml")


def test_runs_are_comparable(tracked_run: tuple[str, Any]) -> None:
    uri, result = tracked_run
    finished = MlflowClient(uri).get_run(result.run_id)
    tags = finished.data.tags
    assert tags["topics.experiment_file"] == "experiments/tiny.yaml"
    assert len(tags["topics.config_hash"]) > 8
    assert tags["topics.package_version"]
    # One-line description of what the run tried.
    note = tags["mlflow.note.content"]
    assert "\n" not in note and "lda K=3" in note and "tfidf linear_svc" in note
    # The corpus is the run's input, its digest the data fingerprint.
    (dataset_input,) = finished.inputs.dataset_inputs
    assert dataset_input.dataset.name == "tiny"
    assert tags["topics.data_fingerprint"].startswith(dataset_input.dataset.digest)
    artifacts = {a.path for a in MlflowClient(uri).list_artifacts(result.run_id)}
    assert "report.html" in artifacts


def test_each_topic_name_is_a_tag_of_the_mlflow_run(tracked_run: tuple[str, Any]) -> None:
    uri, result = tracked_run
    tags = MlflowClient(uri).get_run(result.run_id).data.tags
    names = [tags.get(f"topics.topic.{k}.name") for k in range(3)]  # tiny: K=3
    assert all(names) and len(set(names)) == 3
    spec = json.loads((result.artifact_dir / "model" / "model.json").read_text())
    assert names == spec["features"]["lda"]["topic_names"]


def test_pyfunc_model_has_an_input_example_and_a_real_output_schema(
    tracked_run: tuple[str, Any],
) -> None:
    from mlflow.models import Model, get_model_info
    from mlflow.types.schema import Array, Object

    uri, result = tracked_run
    mlflow.set_tracking_uri(uri)
    (logged,) = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{result.run_id}'", output_format="list"
    )
    model_uri = f"models:/{logged.model_id}"
    signature = get_model_info(model_uri).signature
    (output,) = signature.outputs.inputs
    assert isinstance(output.type, Object)  # was Any
    fields = {prop.name: prop for prop in output.type.properties}
    assert set(fields) == {"labels", "scores", "topics", "explanation"}
    assert isinstance(fields["labels"].dtype, Array)
    assert [p.name for p in fields["scores"].dtype.properties] == sorted(LABELS)
    explained = {p.name for p in fields["explanation"].dtype.properties}
    assert explained == {"terms", "terms_model", "topics", "passages"}
    params = signature.params.params
    assert [p.name for p in params] == ["top_k", "explain", "model", "topic_model"]
    assert params[-1].default == "lda"  # the topic model classify lists by default

    example = Model.load(model_uri).load_input_example(
        mlflow.artifacts.download_artifacts(model_uri)
    )
    assert example == INPUT_EXAMPLE
    served = mlflow.pyfunc.load_model(model_uri)
    expected = Predictor.load(result.artifact_dir / "model").predict(example, top_k=1)
    # the params reach the model (MLflow drops params a signature does not declare)
    assert served.predict(example, params={"top_k": 1}) == expected
    assert all(len(record["topics"]) == 1 for record in expected)
    with pytest.raises(ValueError, match="topic model 'bertopic' is not in this bundle"):
        served.predict(example, params={"topic_model": "bertopic"})


def test_log_model_takes_labels_and_primary_from_the_bundles_spec(
    tracked_run: tuple[str, Any], mlflow_store: str, tmp_path: Path
) -> None:
    """A bundle written without provenance (``export_bundle(..., provenance={})``, as
    benchmarks/predict.py writes one) has no primary in its manifest."""
    from mlflow.models import get_model_info

    _, result = tracked_run
    bundle = tmp_path / "model"
    shutil.copytree(result.artifact_dir / "model", bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["primary"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    tracker = MlflowTracker(mlflow_store)
    tracker.start_run("bare-bundle", "bench", {}, "")
    tracker.log_model(bundle)
    tracker.end_run("FINISHED")
    mlflow.set_tracking_uri(mlflow_store)
    (logged,) = mlflow.search_logged_models(output_format="list")
    (output,) = get_model_info(f"models:/{logged.model_id}").signature.outputs.inputs
    assert {prop.name for prop in output.type.properties} >= {"labels", "scores"}


def test_sweep_parent_points_at_its_best_child(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, log_model=False)
    parent = tracker.start_run("sweep", "k-sweep", {}, "K sweep")
    scores = {4: 0.5, 8: 0.7, 12: 0.6}
    child_ids = {}
    for k, score in scores.items():
        with tracker.child_run(f"k={k}", {"model.lda.num_topics": k}) as child_id:
            tracker.log_metrics({"lda_coherence_c_v": score}, step=k)
            child_ids[k] = child_id
    tracker.log_best_child(child_ids[8], {"lda_coherence_c_v": 0.7})
    tracker.end_run("FINISHED")

    client = MlflowClient(uri)
    parent_run = client.get_run(parent)
    assert parent_run.data.tags[BEST_CHILD_TAG] == child_ids[8]
    assert parent_run.data.metrics["lda_coherence_c_v"] == pytest.approx(0.7)
    for k, child_id in child_ids.items():
        child = client.get_run(child_id)
        assert child.data.tags["mlflow.parentRunId"] == parent
        assert child.info.status == "FINISHED"
        assert child.data.params["model.lda.num_topics"] == str(k)
        (point,) = client.get_metric_history(child_id, "lda_coherence_c_v")
        assert (point.step, point.value) == (k, pytest.approx(scores[k]))


def test_a_sweep_child_and_its_parent_show_their_dataset(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, log_model=False)
    parent = tracker.start_run("sweep", "tiny-sweep", {}, "")
    fingerprint = "ab" * 32
    with tracker.child_run("tiny C=0.1", {"model.tfidf.C": 0.1}) as child:
        tracker.log_dataset("tiny", fingerprint, str(tmp_path / "tiny.jsonl"))
    tracker.log_dataset("tiny", fingerprint, str(tmp_path / "tiny.jsonl"))
    tracker.end_run("FINISHED")

    client = MlflowClient(uri)
    for run_id in (parent, child):
        (dataset_input,) = client.get_run(run_id).inputs.dataset_inputs
        assert dataset_input.dataset.name == "tiny"
        assert fingerprint.startswith(dataset_input.dataset.digest)


def test_a_failing_child_is_marked_failed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, log_model=False)
    tracker.start_run("sweep", "k-sweep", {}, "")
    child: dict[str, str] = {}
    with pytest.raises(ValueError), tracker.child_run("k=2", {"k": 2}) as child_id:
        child["id"] = child_id
        raise ValueError("boom")
    tracker.end_run("FAILED")
    assert MlflowClient(uri).get_run(child["id"]).info.status == "FAILED"


def _classify(args: list[str], capsys: Any) -> str:
    assert classify_main(["--format", "json", "--explain", *args, *TEXTS]) == 0
    return str(capsys.readouterr().out)


TEXTS = ["Railway cargo trains reached the port", "Police detained a journalist at a rally"]


def test_register_then_classify_from_the_registry(
    tracked_run: tuple[str, Any], capsys: Any, monkeypatch: Any
) -> None:
    uri, result = tracked_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert cli_main(["register", result.run_id, "--name", "tiny-news", "--alias", "champion"]) == 0
    assert "models:/tiny-news@champion" in capsys.readouterr().out

    local = _classify(["--model", str(result.artifact_dir / "model")], capsys)
    assert _classify(["--model", "models:/tiny-news@champion"], capsys) == local
    assert _classify(["--model", f"runs:/{result.run_id}/model"], capsys) == local
    version = MlflowClient(uri).get_model_version_by_alias("tiny-news", "champion")
    assert version.tags["topics.run_id"] == result.run_id
    assert version.tags["topics.config_hash"]


def test_registry_mistakes_are_one_line(
    tracked_run: tuple[str, Any], capsys: Any, monkeypatch: Any
) -> None:
    uri, _ = tracked_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert cli_main(["register", "0" * 32, "--name", "x"]) == 2
    assert "not found" in capsys.readouterr().err
    assert classify_main(["--model", "models:/no-such-model@champion", "text"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("classify: error: cannot fetch")


def test_a_failing_run_is_marked_failed_with_its_error(tmp_path: Path, monkeypatch: Any) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise MemoryError("cannot allocate the topic-word matrix")

    monkeypatch.setattr("topics.run.experiment.train_and_evaluate", explode)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = validate_config(tiny_config(tmp_path, tracking={"enabled": True, "uri": uri}))
    with pytest.raises(MemoryError):
        run(config, MlflowTracker(uri))
    (failed,) = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("tiny").experiment_id]
    )
    assert failed.info.status == "FAILED"
    assert failed.data.tags["topics.error"] == "MemoryError: cannot allocate the topic-word matrix"


def test_child_runs_nest_under_the_experiment_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, log_model=False)
    parent = tracker.start_run("sweep", "parent", {}, "")
    with tracker.child_run("parent-k5", {}):
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


def _downloaded_pyfunc(folder: Path, bundle_path: str) -> Path:
    """A folder shaped like a downloaded pyfunc model whose MLmodel names ``bundle_path``."""
    import yaml

    folder.mkdir(parents=True)
    flavor = {"artifacts": {"bundle": {"path": bundle_path}}, "loader_module": "x"}
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": flavor}}))
    return folder


@pytest.mark.parametrize("where", ["absolute", "dotdot", "symlink"])
def test_mlmodel_bundle_path_outside_the_download_is_refused(
    tracked_run: tuple[str, Any], tmp_path: Path, capsys: Any, monkeypatch: Any, where: str
) -> None:
    """``artifacts.bundle.path`` is data from the store: an absolute or ``../`` path (or a
    link) would make ``classify --model runs:/...`` load any local folder."""
    import shutil

    import mlflow.artifacts

    uri, result = tracked_run
    victim = (result.artifact_dir / "model").resolve()  # a real bundle elsewhere on disk
    source = tmp_path / "store" / "model"
    if where == "absolute":
        _downloaded_pyfunc(source, str(victim))
    elif where == "dotdot":
        _downloaded_pyfunc(source, "../" * 12 + str(victim).lstrip("/"))
    else:
        _downloaded_pyfunc(source, "artifacts/model")
        (source / "artifacts").mkdir()
        (source / "artifacts" / "model").symlink_to(victim)

    def download(artifact_uri: str, dst_path: str) -> str:
        return shutil.copytree(source, Path(dst_path) / "model", symlinks=True)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)
    assert classify_main(["--model", "runs:/0123/model", "--tracking-uri", uri, "text"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "points outside the downloaded model" in err[0]


def test_classify_from_the_registry_never_imports_the_models_code(
    tracked_run: tuple[str, Any], tmp_path: Path, capsys: Any
) -> None:
    """``mlflow.pyfunc.load_model`` runs the logged ``topics_model.py`` and ``code/``
    (README says serving through MLflow trusts the store); ``classify`` reads the
    bundle only, so code planted there never runs."""
    uri, result = tracked_run
    client = MlflowClient(uri)
    experiment = client.get_run(result.run_id).info.experiment_id
    (logged,) = client.search_logged_models(
        experiment_ids=[experiment], filter_string=f"source_run_id = '{result.run_id}'"
    )
    stored = Path(logged.artifact_location.removeprefix("file://"))
    marker = tmp_path / "model-code-ran"
    planted = f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n"
    scripts = [stored / "topics_model.py", *sorted((stored / "code").rglob("*.py"))]
    assert len(scripts) > 10
    originals = {script: script.read_text() for script in scripts}
    try:
        for script, text in originals.items():  # would leave a trace if ever run
            script.write_text(planted + text)
        local = _classify(["--model", str(result.artifact_dir / "model")], capsys)
        remote = ["--model", f"models:/{logged.model_id}", "--tracking-uri", uri]
        assert _classify(remote, capsys) == local
        assert not marker.exists()
    finally:  # the store is shared by this module's tests (serving it runs that code)
        for script, text in originals.items():
            script.write_text(text)


# The tracking store's faults: a first migration cut short, a corrupt or locked store,
# a read-only artifact folder, a full disk.


def error_lines(stderr: str) -> list[str]:
    """stderr without the run's stage lines (``topics: [  0.0s] load and split ...``)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("topics: [")]


def _fail_when_creating(table: str) -> Any:
    """Alembic's create_table, failing like a full disk once ``table`` is made."""
    import sqlite3

    import sqlalchemy
    from alembic.operations import Operations

    create_table = Operations.create_table

    def full_disk(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        made = create_table(self, name, *args, **kwargs)
        if name == table:
            error = sqlite3.OperationalError("database or disk is full")
            raise sqlalchemy.exc.OperationalError("CREATE INDEX", {}, error)
        return made

    return full_disk


def test_disk_full_during_first_migration_leaves_no_half_migrated_store(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from alembic.operations import Operations

    db = tmp_path / "mlflow.db"
    with monkeypatch.context() as patch:
        patch.setattr(Operations, "create_table", _fail_when_creating("spans"))
        with pytest.raises(TrackingError, match="cannot create the MLflow store") as failed:
            MlflowTracker(f"sqlite:///{db}").start_run("e", "r", {}, "")
    assert "\n" not in str(failed.value) and "database or disk is full" in str(failed.value)
    # Nothing half-migrated is left: no store, no temporary file.
    assert not db.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mlflow.db.lock"]
    # Space freed: the next run works (it failed with "table spans already exists").
    tracker = MlflowTracker(f"sqlite:///{db}", log_model=False)
    run_id = tracker.start_run("e", "r", {}, "")
    tracker.end_run("FINISHED")
    assert MlflowClient(f"sqlite:///{db}").get_run(run_id).info.status == "FINISHED"


def test_half_migrated_store_says_how_to_recover(tmp_path: Path, monkeypatch: Any) -> None:
    from alembic.operations import Operations
    from mlflow.store.db import utils as db_utils

    # What a first migration made in place leaves when the disk fills half-way.
    db = tmp_path / "mlflow.db"
    engine = db_utils.create_sqlalchemy_engine(f"sqlite:///{db}")
    with monkeypatch.context() as patch:
        patch.setattr(Operations, "create_table", _fail_when_creating("spans"))
        with pytest.raises(Exception, match="database or disk is full"):
            db_utils._initialize_tables(engine)
    engine.dispose()
    half = db.read_bytes()

    with pytest.raises(TrackingError, match="half-migrated") as failed:
        MlflowTracker(f"sqlite:///{db}").start_run("e", "r", {}, "")
    message = str(failed.value)
    assert "\n" not in message
    assert f"it holds no runs: delete it (rm {db}) and rerun" in message
    assert db.read_bytes() == half  # the store is left as it was, for the user to decide


def _corrupt(kind: str, store: Path) -> None:
    data = bytearray(store.read_bytes())
    if kind == "garbage":
        data = bytearray(b"this is not a database\n" * 200)
    elif kind == "bad-header":
        data[16:18] = b"\x00\x03"  # page size 3
    elif kind == "truncated":
        data = data[: len(data) // 2]
    elif kind == "damaged-page":
        data[4096 : 4 * 4096] = b"\xff" * (3 * 4096)
    store.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("garbage", "is not an SQLite database"),
        ("bad-header", "has a damaged SQLite header (page size 3"),
        ("truncated", "is truncated"),
        ("damaged-page", "is damaged"),
    ],
    ids=["garbage", "bad-header", "truncated", "damaged-page"],
)
def test_corrupt_store_is_one_line_before_training(
    tmp_path: Path, mlflow_store: str, monkeypatch: Any, capsys: Any, kind: str, expected: str
) -> None:
    db = Path(mlflow_store.removeprefix("sqlite:///"))
    _corrupt(kind, db)
    corrupt = db.read_bytes()

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("training started on a corrupt store")

    monkeypatch.setattr("topics.run.experiment.train_and_evaluate", no_training)
    experiment = tmp_path / "tiny.yaml"
    config = tiny_config(tmp_path, tracking={"enabled": True, "uri": mlflow_store})
    experiment.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    assert cli_main(["run", str(experiment)]) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and expected in err[0] and f"mv {db} {db}.broken" in err[0], err
    assert time.monotonic() - started < 30  # checked before MLflow opens the file
    assert db.read_bytes() == corrupt
    assert not list((tmp_path / "artifacts").glob("tiny/*"))  # no run folder


def test_locked_store_is_retried_with_backoff(mlflow_store: str, caplog: Any) -> None:
    import sqlite3
    import threading

    db = mlflow_store.removeprefix("sqlite:///")
    # One attempt waits 1 s at most (lock_wait / 5): a 2.5 s lock needs retries.
    tracker = MlflowTracker(mlflow_store, log_model=False, lock_wait=5)
    run_id = tracker.start_run("e", "r", {}, "")
    locked, release = threading.Event(), threading.Event()

    def hold_lock(seconds: float) -> None:
        connection = sqlite3.connect(db, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(seconds)
        connection.execute("COMMIT")
        connection.close()

    holder = threading.Thread(target=hold_lock, args=(2.5,))
    holder.start()
    locked.wait()
    started = time.monotonic()
    tracker.log_metrics({"m": 1.0})
    waited = time.monotonic() - started
    holder.join()
    tracker.end_run("FINISHED")
    assert 2.0 < waited < 5.0
    assert "is locked; retrying for up to" in caplog.text
    assert MlflowClient(mlflow_store).get_run(run_id).data.metrics == {"m": 1.0}

    # Locked past the budget: one line naming the wait, not a traceback after 20 s.
    short = MlflowTracker(mlflow_store, log_model=False, lock_wait=1)
    short.start_run("e", "r2", {}, "")
    locked.clear()
    holder = threading.Thread(target=hold_lock, args=(60,))  # until released below
    holder.start()
    locked.wait(10)
    started = time.monotonic()
    with pytest.raises(TrackingError, match="stayed locked for 1 s") as failed:
        short.log_metrics({"m": 2.0})
    assert time.monotonic() - started < 3.0 and "\n" not in str(failed.value)
    release.set()
    holder.join()
    short.end_run("FAILED")


@pytest.mark.parametrize("folder", ["output_dir", "mlflow_artifacts"])
def test_read_only_artifacts_folder_is_one_line_before_training(
    tmp_path: Path, mlflow_store: str, monkeypatch: Any, capsys: Any, folder: str
) -> None:
    import errno
    import tempfile

    real = tempfile.TemporaryFile
    refused = tmp_path / "artifacts" if folder == "output_dir" else tmp_path / "mlruns"
    refused.mkdir()

    def read_only(*args: Any, dir: Any = None, **kwargs: Any) -> Any:
        if dir is not None and Path(dir).resolve() == refused.resolve():
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr("topics.run.experiment.train_and_evaluate", no_training)
    monkeypatch.chdir(tmp_path)  # MLflow's artifact root is ./mlruns
    experiment = tmp_path / "tiny.yaml"
    config = tiny_config(tmp_path, tracking={"enabled": True, "uri": mlflow_store})
    experiment.write_text(yaml.safe_dump(config))
    assert cli_main(["run", str(experiment)]) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "Read-only file system" in err[0], err
    expected = "output_dir: cannot write to" if folder == "output_dir" else "artifact folder"
    assert expected in err[0]
    client = MlflowClient(mlflow_store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs == []  # no empty run left behind


@pytest.mark.server
def test_readme_mlflow_models_serve_works_without_the_venv_on_path(
    tracked_run: tuple[str, Any], tmp_path: Path
) -> None:
    """README's serve command, run as written from a shell whose PATH lacks the venv
    (MLflow starts the server as a ``uvicorn`` command found on PATH)."""
    import json
    import os
    import subprocess
    import urllib.request

    from tests.servers import VENV_BIN, _stop, free_port, require, wait_for
    from topics.tracking import register_run_model

    require(
        "uvicorn (the server extra)", (VENV_BIN / "uvicorn").exists(), "pip install '.[server]'"
    )
    (command,) = [
        line
        for line in (REPO / "README.md").read_text().splitlines()
        if "mlflow models serve" in line and line.startswith("PATH=")
    ]
    assert command.startswith('PATH="$PWD/.venv/bin:$PATH" mlflow models serve')
    uri, result = tracked_run
    register_run_model(result.run_id, "topics-news", "champion", uri)
    (tmp_path / ".venv").symlink_to(VENV_BIN.parent)  # the project folder a user is in
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["/bin/bash", "-c", command.replace("--port 5001", f"--port {port}")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", 180, proc, log)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps({"inputs": TEXTS, "params": {"top_k": 1}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            served = json.loads(response.read())["predictions"]
    finally:
        _stop(proc)
    expected = Predictor.load(result.artifact_dir / "model").predict(TEXTS, top_k=1)
    assert served == json.loads(json.dumps(expected))


def test_experiment_of_run_names_the_runs_experiment_and_creates_no_store(
    tracked_run: tuple[str, Any], tmp_path: Path
) -> None:
    from topics.tracking import experiment_of_run

    uri, result = tracked_run
    assert experiment_of_run(result.run_id, uri) == "tiny"
    assert experiment_of_run("0" * 32, uri) is None
    missing = tmp_path / "none.db"
    assert experiment_of_run(result.run_id, f"sqlite:///{missing}") is None
    assert not missing.exists()
