"""Done means: the real ``dask scheduler`` and two ``dask worker`` processes on loopback,
``topics classify-archive`` on 5,000 documents equal to ``classify -f``, and
``topics sweep experiments/sweep-quickstart.yaml --dask`` with its nested runs logged."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_ARTICLES, tiny_config
from tests.servers import VENV_BIN, free_port

pytestmark = pytest.mark.server


@contextmanager
def dask_cluster(workdir: Path, n_workers: int = 2) -> Iterator[str]:
    """``dask scheduler`` and ``n_workers`` ``dask worker`` processes; yields the address."""
    distributed = pytest.importorskip("distributed")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    commands = [
        ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        *[
            ["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]
            + ["--local-directory", str(workdir / f"worker{i}")]
            for i in range(n_workers)
        ],
    ]
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for i, args in enumerate(commands):
            log = (workdir / f"dask-{i}.log").open("wb")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [str(VENV_BIN / "dask"), *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    env=env,
                )
            )
            if i == 0:
                time.sleep(1.0)  # let the scheduler bind before workers dial it
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(n_workers, timeout=90)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def topics_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOPICS_PROGRESS": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [str(VENV_BIN / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_archive_and_sweep_on_dask_cli_processes(tmp_path: Path) -> None:
    from topics.config import validate_config
    from topics.run.archive import MANIFEST
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    bundle = run(validate_config(tiny_config(tmp_path)), NullTracker()).artifact_dir / "model"
    archive = tmp_path / "archive.jsonl"
    with archive.open("w", encoding="utf-8") as handle:
        for i in range(5_000):
            _, text, _ = TINY_ARTICLES[i % len(TINY_ARTICLES)]
            record = {"id": f"n{i}", "title": f"Dispatch {i % 37}", "text": f"{text} ({i})"}
            handle.write(json.dumps(record) + "\n")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    with dask_cluster(tmp_path) as address:
        tagged = topics_cli(
            "topics",
            "classify-archive",
            str(archive),
            "--output",
            str(tmp_path / "tagged"),
            "--model",
            str(bundle),
            "--dask",
            address,
            "--partition-mb",
            "0.06",
            cwd=tmp_path,
        )
        assert tagged.returncode == 0, tagged.stderr
        sweep = topics_cli(
            "topics",
            "sweep",
            str(REPO / "experiments" / "sweep-quickstart.yaml"),
            "--dask",
            address,
            "--set",
            f"output_dir={tmp_path / 'artifacts'}",
            "--set",
            f"tracking.uri={store}",
            "--json",
            cwd=tmp_path,
        )
        assert sweep.returncode == 0, sweep.stderr

    reference = topics_cli(
        "classify", "-f", str(archive), "--format", "jsonl", "--model", str(bundle), cwd=tmp_path
    )
    assert reference.returncode == 0, reference.stderr
    manifest = json.loads((tmp_path / "tagged" / MANIFEST).read_text())
    assert len(manifest["partitions"]) >= 4  # work really was split across the workers
    written = "".join((tmp_path / "tagged" / name).read_text() for name in manifest["partitions"])
    assert written == reference.stdout and written.count("\n") == 5_000

    result = json.loads(sweep.stdout.strip().splitlines()[-1])
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    parent = client.get_run(result["run_id"])
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result['run_id']}'"
    )
    assert len(children) == 8 and {c.info.status for c in children} == {"FINISHED"}
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["topics.best_child_run_id"] == result["best_run_id"]
    best = client.get_run(result["best_run_id"])
    assert parent.data.metrics["val_micro_f1"] == best.data.metrics["val_micro_f1"]
    assert best.data.metrics["val_micro_f1"] == max(
        c.data.metrics["val_micro_f1"] for c in children
    )
    workers = {c.data.params["sweep.worker"] for c in children}
    assert len(workers) == 2  # both worker processes trained trials
    assert {c.data.params["model.tfidf.C"] for c in children} == {"0.1", "0.3", "1.0", "3.0"}
