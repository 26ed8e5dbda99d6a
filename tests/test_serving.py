"""The MLflow pyfunc wrapper, served by MLflow's own scoring server, answers
exactly what ``classify`` answers for the same bundle."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import tiny_config
from topics.config import validate_config
from topics.run.experiment import run
from topics.serve.predictor import Predictor

ARTICLES = [
    "Kazakhstan and Korea will invest in a bus and truck assembly plant",
    "Border guards and army units held joint military exercises",
    "",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = (
                process.stderr.read().decode(errors="replace")[-4000:] if process.stderr else ""
            )
            raise AssertionError(f"mlflow models serve exited with {process.returncode}: {stderr}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.server
def test_mlflow_models_serve_matches_classify(tmp_path: Path) -> None:
    import mlflow

    from topics.tracking import MlflowTracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = validate_config(tiny_config(tmp_path, tracking={"enabled": True, "uri": uri}))
    result = run(config, MlflowTracker(uri))
    model_uri = f"models:/{mlflow.last_logged_model().model_id}"

    port = free_port()
    # The scoring server runs `uvicorn` from PATH: put this environment's bin first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path}
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps({"inputs": ARTICLES}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            served = json.loads(response.read())["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=30)

    expected = Predictor.load(result.artifact_dir / "model").predict(ARTICLES)
    assert served == expected
