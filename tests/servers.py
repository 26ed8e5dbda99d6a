"""Real servers on loopback for the ``server`` and ``browser`` tests.

``mlflow_server`` starts ``mlflow server`` (the same light settings as
``make server``) and ``postgres_server`` a throwaway PostgreSQL cluster, each
on a free 127.0.0.1 port, and stops them when the ``with`` block ends.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


def require(what: str, found: bool, how: str) -> None:
    """Skip when a system tool is missing; under CI=true that is a failure."""
    if found:
        return
    message = f"{what} not installed ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI=true requires it: .ci/run installs it")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f}s:\n{log.read_text()[-3000:]}")


@contextmanager
def mlflow_server(backend_uri: str, workdir: Path) -> Iterator[str]:
    """``mlflow server`` on a free loopback port; yields its http URI."""
    port = free_port()
    artifacts = workdir / "server-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    log = workdir / f"mlflow-server-{port}.log"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                backend_uri,
                "--artifacts-destination",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for(uri + "/health", 120, proc, log)
        yield uri
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free loopback port; yields its ``postgresql://`` URI.

    As root (CI), PostgreSQL refuses to run, so the cluster belongs to the
    ``postgres`` user that Debian's package creates.
    """
    bindir = postgres_bin()
    assert bindir is not None
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="topics-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]

    def pg(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    pg(
        str(bindir / "initdb"),
        "-D",
        str(data / "db"),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
    )
    options = f"-p {port} -h 127.0.0.1 -k {data} -c fsync=off"
    pg(
        str(bindir / "pg_ctl"),
        "-D",
        str(data / "db"),
        "-o",
        options,
        "-w",
        "-l",
        str(data / "log"),
        "start",
    )
    try:
        pg(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mlflow")
        yield f"postgresql://postgres@127.0.0.1:{port}/mlflow"
    finally:
        pg(str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)
