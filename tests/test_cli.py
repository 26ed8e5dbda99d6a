from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, tiny_config
from topics.cli.main import main


@pytest.fixture
def experiment_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    return path


def test_run_json_prints_one_object_last(
    experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(experiment_file), "--json", "--set", "model.lda.num_topics=2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    payload = json.loads(last)
    assert set(payload) == {"run_id", "experiment", "artifact_dir", "metrics"}
    assert payload["experiment"] == "tiny"
    assert Path(payload["artifact_dir"], "model", "manifest.json").is_file()
    config = yaml.safe_load(Path(payload["artifact_dir"], "config.yaml").read_text())
    assert config["model"]["lda"]["num_topics"] == 2


def test_run_prints_a_table_and_next_steps(
    experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(experiment_file)]) == 0
    out = capsys.readouterr().out
    assert "micro_f1" in out and "tfidf" in out and "lda" in out
    assert "classify" in out and "make ui" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--set", "model.lda.num_topics=0"],
            "model.lda.num_topics: Input should be greater than or equal to 2",
        ),
        (["--set", "modle.lda.num_topics=3"], "modle: unknown key"),
        (["--set", "data.path=/no/such/file.jsonl"], "data not found: /no/such/file.jsonl"),
        (
            ["--set", "data.labels=[economy, sport]"],
            "no document carries the configured label(s) ['sport']",
        ),
    ],
    ids=["bad-value", "typo", "missing-data", "label-nobody-carries"],
)
def test_user_mistakes_give_one_line_and_exit_2(
    experiment_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert main(["run", str(experiment_file), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("topics: error: ")
    assert expected in err
    assert len(err.splitlines()) == 1


def test_missing_experiment_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "nope.yaml"]) == 2
    assert "config file not found: nope.yaml" in capsys.readouterr().err


def test_show_config_prints_resolved_yaml_and_hash(
    experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show-config", str(experiment_file), "--set", "seed=9"]) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out)["seed"] == 9
    assert "# config hash: " in out


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "topics run experiments/quickstart.yaml --set" in capsys.readouterr().out


def test_drift_help_documents_its_measures_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["drift", "--help"])
    out = capsys.readouterr().out
    assert "3 a measure moved beyond its threshold" in out
    assert all(name in out for name in ("label_mix", "topic_mix", "oov_rate", "confidence"))


def test_run_off_a_terminal_prints_one_line_per_stage(experiment_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TOPICS_PROGRESS"}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "topics.cli.main", "run", str(experiment_file)),
            *("--no-track", "--set", "model.lda.enabled=false"),  # one family: fast
        ],
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,  # stderr is a pipe, as in CI logs
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    stages = [line.split("] ", 1)[1] for line in done.stderr.splitlines() if "s] " in line]
    assert stages == [
        "load and split tiny: 40 train, 14 test documents",
        "fit tfidf",
        "evaluate on 14 test documents",
        "export the model bundle",
        "log metrics and artifacts",
    ]
    assert all(line.startswith("topics: [") for line in done.stderr.splitlines())


def test_sweep_bar_shows_the_total_of_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep = {"grid": {"model.tfidf.C": [0.5, 1.0]}, "n_jobs": 1}
    data = tiny_config(tmp_path, model={"lda": {"enabled": False}}, sweep=sweep)
    experiment = tmp_path / "sweep.yaml"
    experiment.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("TOPICS_PROGRESS", "1")  # the bars, as on a terminal
    assert main(["sweep", str(experiment), "--no-track", "--json"]) == 0
    err = capsys.readouterr().err
    assert "trials:   0%" in err and "0/2" in err  # "trials: 3" before: no total
    assert "fit tfidf" in err  # the trials' stage lines, written above the bar


def _topics_run(experiment: Path, cwd: Path, *extra: str) -> subprocess.Popen[str]:
    # The console script, as a scheduler runs it. Under `python -m`, CPython 3.11 exits
    # by SIGINT (-2) if a KeyboardInterrupt once passed through exec'd source (a
    # dataclass or namedtuple being made), even when main() caught it and returned 130.
    topics = Path(sys.executable).with_name("topics")
    command = [str(topics), "run", str(experiment), *extra]
    # The embedded store in cwd, whatever an earlier test left in the environment.
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_run(db: Path, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(db) as connection:
                try:
                    if connection.execute("select count(*) from runs").fetchone()[0] >= count:
                        return
                except sqlite3.OperationalError:
                    pass
        time.sleep(0.05)
    raise AssertionError("no run started")


@pytest.mark.server
def test_sigterm_ends_the_run_killed_and_keeps_the_last_good_model(tmp_path: Path) -> None:
    experiment = REPO / "experiments" / "quickstart.yaml"
    first = _topics_run(experiment, tmp_path, "--set", "model.lda.enabled=false")
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    latest = tmp_path / "artifacts" / "latest"
    good_model = latest.resolve()

    # Enough Gibbs sweeps (the default tomotopy engine) to still be training at the signal.
    second = _topics_run(experiment, tmp_path, "--set", "model.lda.iterations=200000")
    _wait_for_run(tmp_path / "mlflow.db", count=2)
    time.sleep(1.0)  # inside training
    second.send_signal(signal.SIGTERM)
    code = second.wait(timeout=60)
    _, err = second.communicate()
    assert code == 130, err
    assert "Traceback" not in err

    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        statuses = [
            row[0] for row in connection.execute("select status from runs order by start_time")
        ]
    assert statuses == ["FINISHED", "KILLED"]
    assert latest.resolve() == good_model
    models = list((tmp_path / "artifacts").glob("quickstart/*/model"))
    assert models == [good_model]  # the interrupted run left no bundle, whole or half
    assert not list((tmp_path / "artifacts").glob("quickstart/*/.model-*"))


@pytest.mark.server
def test_two_runs_at_once_on_one_sqlite_store(tmp_path: Path) -> None:
    experiment = REPO / "experiments" / "quickstart.yaml"
    runs = [_topics_run(experiment, tmp_path, "--json", "--set", f"seed={seed}") for seed in (1, 2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    run_ids = {json.loads(out.strip().splitlines()[-1])["run_id"] for out, _ in outputs}
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        finished = {
            row[0]
            for row in connection.execute("select run_uuid from runs where status='FINISHED'")
        }
    assert run_ids == finished and len(finished) == 2


def test_k_above_vocabulary_is_one_line_before_any_work(
    experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(experiment_file), "--set", "model.lda.num_topics=900"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("topics: error: model.lda.num_topics: 900 topics but only")
    assert len(err.splitlines()) == 1
    assert not (experiment_file.parent / "artifacts").exists()


# The tracking store's faults, through the command line.


def _tracked_experiment(tmp_path: Path, uri: str) -> Path:
    path = tmp_path / "tracked.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path, tracking={"enabled": True, "uri": uri})))
    return path


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.strip().splitlines() if line.startswith("topics: error:")]


def test_store_locked_after_training_keeps_bundle_and_metrics_for_topics_log(
    tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import threading

    from mlflow.tracking import MlflowClient

    import topics.run.experiment

    db = mlflow_store.removeprefix("sqlite:///")
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        connection = sqlite3.connect(db, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(60)
        connection.execute("COMMIT")
        connection.close()

    write_report = topics.run.experiment.write_report
    holder = threading.Thread(target=hold_lock)

    def report_then_lock(*args: Any, **kwargs: Any) -> None:
        write_report(*args, **kwargs)  # training is over: now the store locks
        holder.start()
        locked.wait(10)

    monkeypatch.setattr("topics.run.experiment.write_report", report_then_lock)
    monkeypatch.setenv("TOPICS_STORE_LOCK_WAIT", "1")
    try:
        code = main(["run", str(_tracked_experiment(tmp_path, mlflow_store))])
    finally:
        release.set()
        holder.join()
    (error,) = _error_lines(capsys.readouterr().err)
    (run_dir,) = (tmp_path / "artifacts" / "tiny").iterdir()
    assert code == 2
    assert "training finished but tracking failed" in error and "stayed locked for 1 s" in error
    assert error.endswith(f"log them later with 'topics log {run_dir}'")
    # The trained model and its metrics are kept, and it is the latest model.
    assert (run_dir / "model" / "manifest.json").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (run_dir / "tracking.json").is_file()
    assert (tmp_path / "artifacts" / "latest").resolve() == (run_dir / "model").resolve()

    # The store is free again: topics log RUN_DIR finishes the very run.
    monkeypatch.delenv("TOPICS_STORE_LOCK_WAIT")
    assert main(["log", str(run_dir)]) == 0
    assert f"logged {run_dir} as run {run_dir.name}" in capsys.readouterr().out
    client = MlflowClient(mlflow_store)
    logged = client.get_run(run_dir.name)
    assert logged.info.status == "FINISHED"
    # every figure of metrics.json; the store also holds the training curves
    # (stepped metrics) logged while training, before the store locked
    assert {k: logged.data.metrics.get(k) for k in metrics} == pytest.approx(metrics)
    assert logged.data.params["model.lda.num_topics"] == "3" and logged.data.params["n_train"]
    assert logged.data.tags["topics.dataset"] == "tiny"
    artifacts = {a.path for a in client.list_artifacts(run_dir.name)}
    assert {"metrics.json", "model", "report.html"} <= artifacts
    (model,) = client.search_logged_models(
        experiment_ids=[logged.info.experiment_id],
        filter_string=f"source_run_id = '{run_dir.name}'",
    )
    assert model.name == "topics-classifier"


def test_topics_log_refuses_a_folder_that_is_not_a_finished_run(
    tmp_path: Path, mlflow_store: str, capsys: Any
) -> None:
    assert main(["log", str(tmp_path), "--tracking-uri", mlflow_store]) == 2
    (error,) = _error_lines(capsys.readouterr().err)
    assert "is not a finished run folder" in error


def _no_space(*args: Any, **kwargs: Any) -> None:
    import errno

    raise OSError(errno.ENOSPC, "No space left on device", "artifacts/tiny/run/model")


@pytest.mark.parametrize(
    "where", ["output-dir-probe", "store-first-write", "bundle-write"], ids=str
)
def test_disk_full_is_one_line_and_leaves_no_empty_run(
    tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, where: str
) -> None:
    import tempfile

    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    def store_full(*args: Any, **kwargs: Any) -> None:
        raise MlflowException("(sqlite3.OperationalError) database or disk is full")

    if where == "output-dir-probe":
        monkeypatch.setattr(tempfile, "TemporaryFile", _no_space)
        expected = "output_dir: cannot write to"
    elif where == "store-first-write":
        monkeypatch.setattr(mlflow, "log_params", store_full)
        expected = "database or disk is full"
    else:
        monkeypatch.setattr("topics.run.train.export_bundle", _no_space)
        expected = "No space left on device writing artifacts/tiny/run/model; free space"
    assert main(["run", str(_tracked_experiment(tmp_path, mlflow_store))]) == 2
    (error,) = _error_lines(capsys.readouterr().err)
    assert expected in error
    client = MlflowClient(mlflow_store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    if where == "bundle-write":  # failed in training: a FAILED run with its params and error
        (failed,) = runs
        assert failed.info.status == "FAILED" and failed.data.params
        assert "No space left on device" in failed.data.tags["topics.error"]
    else:  # failed before anything was logged: no run, no run folder
        assert runs == []
        assert not list((tmp_path / "artifacts").glob("tiny/*"))


def test_kill_9_runs_are_marked_killed_and_their_orphan_folders_removed_by_gc(
    tmp_path: Path, mlflow_store: str, capsys: Any
) -> None:
    from mlflow.tracking import MlflowClient

    from topics.tracking import MlflowTracker

    out = tmp_path / "artifacts"
    experiment = _tracked_experiment(tmp_path, mlflow_store)
    # A run that trains for ever (a sleep stands in for training), killed with SIGKILL.
    code = (
        "import time, topics.run.experiment as experiment\n"
        "experiment.train_and_evaluate = lambda *args, **kwargs: time.sleep(600)\n"
        "from topics.cli.main import main\n"
        f"main(['run', {str(experiment)!r}])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    while not list(out.glob("tiny/*")) and time.monotonic() < deadline:
        assert child.poll() is None, "the run ended before it could be killed"
        time.sleep(0.1)
    (orphan,) = out.glob("tiny/*")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    client = MlflowClient(mlflow_store)
    assert client.get_run(orphan.name).info.status == "RUNNING"  # what kill -9 leaves

    # Kept: a run whose process lives (this one), a folder with a bundle, an unknown folder.
    live = MlflowTracker(mlflow_store, log_model=False)
    live_id = live.start_run("tiny", "live", {}, "")
    kept = out / "tiny" / ("b" * 32) / "model"
    kept.mkdir(parents=True)
    (kept / "manifest.json").write_text("{}")
    unknown = out / "tiny" / ("c" * 32)
    unknown.mkdir()

    assert main(["gc", "--tracking-uri", mlflow_store, "--output-dir", str(out), "--dry-run"]) == 0
    assert f"would remove orphan run folder: {orphan}" in capsys.readouterr().out
    assert orphan.exists()
    assert main(["gc", "--tracking-uri", mlflow_store, "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"mark KILLED: run {orphan.name} (tiny/tiny; process {child.pid} is gone)" in printed
    assert f"remove orphan run folder: {orphan}" in printed
    killed = client.get_run(orphan.name)
    assert killed.info.status == "KILLED" and "kill -9" in killed.data.tags["topics.error"]
    assert not orphan.exists() and kept.exists() and unknown.exists()
    assert client.get_run(live_id).info.status == "RUNNING"
    live.end_run("FINISHED")
    assert main(["gc", "--tracking-uri", mlflow_store, "--output-dir", str(out)]) == 0
    assert "nothing to collect" in capsys.readouterr().out
