"""Team mode: ``mlflow server`` backed by PostgreSQL, used for runs, a sweep and the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import tiny_config
from tests.servers import mlflow_server, postgres_bin, postgres_server, require
from topics.cli.classify import main as classify_main
from topics.cli.main import main as cli_main
from topics.config import validate_config
from topics.data.splits import split_indices
from topics.run.cache import load_corpus_from_config, split_kwargs
from topics.run.experiment import run
from topics.run.train import train_and_evaluate
from topics.tracking import BEST_CHILD_TAG, MlflowTracker

pytestmark = pytest.mark.server
TEXTS = ["Railway cargo trains reached the port", "Army troops held drills at the border"]


def test_team_server_on_postgresql(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    require("PostgreSQL", postgres_bin() is not None, "apt-get install -y postgresql")
    with (
        postgres_server() as database,
        mlflow_server(database.replace("postgresql://", "postgresql+psycopg2://"), tmp_path) as uri,
    ):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        client = MlflowClient(uri)

        # An experiment, tracked through the server.
        config = validate_config(tiny_config(tmp_path, tracking={"enabled": True}))
        result = run(config, MlflowTracker())
        logged = client.get_run(result.run_id)
        assert logged.info.status == "FINISHED"
        assert logged.data.params["model.lda.num_topics"] == "3"
        assert {a.path for a in client.list_artifacts(result.run_id)} >= {"model", "report.html"}

        # A sweep over C: a parent run and one nested child per value, each a real fit.
        sweep_id, best = _sweep_over_c(tmp_path, [0.05, 1.0])
        parent = client.get_run(sweep_id)
        assert parent.data.tags[BEST_CHILD_TAG] == best["run_id"]
        assert parent.data.metrics["test_micro_f1"] == pytest.approx(best["test_micro_f1"])
        children = client.search_runs(
            [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{sweep_id}'"
        )
        assert sorted(c.data.params["model.tfidf.C"] for c in children) == ["0.05", "1.0"]

        # The rows really are in PostgreSQL, not in a file next to the server.
        import psycopg2

        with psycopg2.connect(database) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM runs")
            assert cursor.fetchone()[0] == 4  # the experiment, the sweep, two children

        # Register the experiment's model, then classify from the registry.
        assert cli_main(["register", result.run_id, "--name", "news", "--alias", "champion"]) == 0
        capsys.readouterr()
        local = _classify(["--model", str(result.artifact_dir / "model")], capsys)
        assert _classify(["--model", "models:/news@champion"], capsys) == local
        assert _classify(["--model", f"runs:/{result.run_id}/model"], capsys) == local

        # Once fetched, an alias on the server costs one REST call, not an mlflow import,
        # and still follows the alias when it moves to a version not fetched yet.
        assert _classify_fresh("models:/news@champion") == (local, False)
        assert cli_main(["register", result.run_id, "--name", "news", "--alias", "champion"]) == 0
        assert _classify_fresh("models:/news@champion") == (local, True)  # version 2 fetched
        assert _classify_fresh("models:/news@champion") == (local, False)


def _sweep_over_c(tmp_path: Path, values: list[float]) -> tuple[str, dict[str, Any]]:
    base = tiny_config(tmp_path, name="sweep-c", model={"lda": {"enabled": False}})
    config = validate_config(base)
    corpus = load_corpus_from_config(config.data)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)

    tracker = MlflowTracker(log_model=False)
    sweep_id = tracker.start_run("sweep-c", "sweep-c", {}, "tfidf C sweep")
    results = []
    for value in values:
        child_config = validate_config({**base, "model": {**base["model"], "tfidf": {"C": value}}})
        with tracker.child_run(f"C={value}", {"model.tfidf.C": value}) as child_id:
            metrics = train_and_evaluate(
                child_config, train, test, tmp_path / f"C{value}", {}
            ).flat()
            tracker.log_metrics(metrics)
        results.append({"run_id": child_id, **metrics})
    best = max(results, key=lambda r: r["test_micro_f1"])
    tracker.log_best_child(best["run_id"], {"test_micro_f1": best["test_micro_f1"]})
    tracker.end_run("FINISHED")
    return sweep_id, best


def _classify_fresh(model: str) -> tuple[str, bool]:
    """``classify --model MODEL`` in a new interpreter: its JSON, and whether it imported
    mlflow."""
    code = (
        "import sys\n"
        "from topics.cli.classify import main\n"
        f"assert main(['--format', 'json', '--model', {model!r}, *{TEXTS!r}]) == 0\n"
        "print('mlflow' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr.strip().splitlines()[-1] == "True"


def _classify(args: list[str], capsys: Any) -> str:
    assert classify_main(["--format", "json", *args, *TEXTS]) == 0
    return str(capsys.readouterr().out)
