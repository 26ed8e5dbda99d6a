from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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
    command = [sys.executable, "-m", "topics.cli.main", "run", str(experiment), *extra]
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
    assert second.wait(timeout=60) == 130
    _, err = second.communicate()
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
