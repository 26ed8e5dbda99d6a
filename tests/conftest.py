"""Shared fixtures: tiny inline corpora, a recording tracker, the shared data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TOPICS_DATA_DIR", REPO.parent / "shared" / "data"))
LABELS = ["economy", "defense", "human rights", "transport"]
# Never imported on the predict path (topics.serve.predictor, classify)
HEAVY = ("mlflow", "gensim", "sklearn", "pandas", "matplotlib", "joblib", "scipy", "torch")


def modules_loaded_by_predict(bundle: Path, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` a fresh process has imported after classify's imports and
    one prediction with ``bundle``."""
    code = (
        "import sys, topics.predict, topics.cli.classify\n"
        f"topics.predict.Predictor.load({str(bundle)!r}).predict(['rail cargo'])\n"
        f"print(','.join(m for m in {names!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [name for name in out.stdout.strip().split(",") if name]


def shared_data(relative: str = "") -> Path:
    """A path in ../shared/data; skips when absent, fails under CI=true."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"shared data not found at {path} (set TOPICS_DATA_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI=true requires it")
        pytest.skip(message)
    return path


def needs_encoder_extra() -> None:
    """Skips without torch and transformers (the encoder extra); fails under CI=true."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true requires torch and transformers (the encoder extra)")
        pytest.skip("torch/transformers not installed: pip install 'topics[encoder]'")


@pytest.fixture(autouse=True)
def _model_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bundles fetched from MLflow are cached per test, never in the user's cache."""
    monkeypatch.setenv("TOPICS_CACHE_DIR", str(tmp_path_factory.mktemp("model-cache")))


class RecordingTracker:
    """Records every call in memory, in order.

    Inside ``child_run`` params and metrics go to ``children[name]`` instead of
    the parent; ``steps`` keeps every ``(step, metrics)`` logged with a step.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.params: dict[str, Any] = {}
        self.metrics: dict[str, float] = {}
        self.steps: list[tuple[int, dict[str, float]]] = []
        self.tags: dict[str, str] = {}
        self.run_name = ""
        self.status: str | None = None
        self.error: str | None = None
        self.dataset: dict[str, str] = {}
        self.children: dict[str, dict[str, Any]] = {}
        self._child: dict[str, Any] | None = None

    def log_dataset(self, name: str, digest: str, source: str, context: str = "corpus") -> None:
        self.calls.append(("log_dataset", name))
        dataset = {"name": name, "digest": digest, "source": source, "context": context}
        if self._child is not None:
            self._child["dataset"] = dataset
        else:
            self.dataset = dataset

    @contextmanager
    def child_run(self, name: str, params: dict[str, Any]) -> Iterator[str]:
        run_id = f"child{len(self.children)}"
        self.calls.append(("child_run", name))
        self._child = self.children[name] = {
            "run_id": run_id,
            "params": dict(params),
            "metrics": {},
            "steps": [],
            "dataset": {},
            "status": "FAILED",
        }
        try:
            yield run_id
            self._child["status"] = "FINISHED"
        finally:
            self._child = None

    def log_best_child(self, run_id: str, metrics: dict[str, float]) -> None:
        self.calls.append(("log_best_child", run_id))
        self.metrics.update(metrics)
        self.tags["topics.best_child_run_id"] = run_id

    def start_run(
        self, experiment: str, run_name: str, tags: dict[str, str], description: str
    ) -> str:
        self.calls.append(("start_run", experiment))
        self.run_name = run_name
        self.tags = dict(tags)
        return "recorded0run"

    def log_params(self, params: dict[str, Any]) -> None:
        self.calls.append(("log_params", len(params)))
        (self._child["params"] if self._child else self.params).update(params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.calls.append(("log_metrics", len(metrics)))
        target = self._child if self._child else None
        (target["metrics"] if target else self.metrics).update(metrics)
        if step is not None:
            (target["steps"] if target else self.steps).append((step, dict(metrics)))

    def log_artifacts(self, directory: Path) -> None:
        self.calls.append(("log_artifacts", sorted(p.name for p in directory.iterdir())))

    def log_tags(self, tags: dict[str, str]) -> None:
        self.calls.append(("log_tags", len(tags)))
        self.tags.update(tags)

    def log_model(self, bundle_dir: Path) -> None:
        self.calls.append(("log_model", bundle_dir.name))

    def end_run(self, status: str, error: str | None = None) -> None:
        self.calls.append(("end_run", status))
        self.status = status
        self.error = error


TINY_ARTICLES = [
    ("e1", "Tenge inflation and the national bank budget", ["economy"]),
    ("e2", "Investment in a copper plant and export revenue grew", ["economy"]),
    ("e3", "The central bank raised its base rate as prices and inflation rose", ["economy"]),
    ("e4", "Foreign investment and trade turnover with China reached a record", ["economy"]),
    ("d1", "Army units held military exercises near the border with troops", ["defense"]),
    ("d2", "The defense ministry bought drones and armored vehicles for the army", ["defense"]),
    ("d3", "Troops and border guards trained in joint military drills", ["defense"]),
    ("d4", "Military officers and army conscripts joined the defense exercise", ["defense"]),
    ("h1", "A court jailed a journalist; rights groups condemned the detention", ["human rights"]),
    ("h2", "Police detained protesters and rights activists at a peaceful rally", ["human rights"]),
    ("h3", "The ombudsman reported torture allegations in prison and detention", ["human rights"]),
    ("h4", "Journalists and activists said press freedom and rights were curbed", ["human rights"]),
    ("t1", "A new railway line and cargo trains link the port to the highway", ["transport"]),
    ("t2", "Airport passenger flights and rail freight grew on the corridor", ["transport"]),
    ("t3", "Trucks queued at the border crossing as cargo transit rose by rail", ["transport"]),
    ("t4", "The metro, buses and railway stations were upgraded for passengers", ["transport"]),
    (
        "x1",
        "Investment in a railway cargo terminal will raise export trade",
        ["economy", "transport"],
    ),
    ("x2", "Football fans celebrated the national team victory", []),
]


def write_tiny_jsonl(path: Path, copies: int = 2) -> Path:
    """The tiny articles, each ``copies`` times (ids ``e1-0``, ``e1-1``, ...)."""
    with path.open("w", encoding="utf-8") as handle:
        for copy in range(copies):
            for doc_id, text, labels in TINY_ARTICLES:
                record = {"id": f"{doc_id}-{copy}", "title": "News", "text": text, "labels": labels}
                handle.write(json.dumps(record) + "\n")
    return path


def tiny_config(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    """A complete config dict for the tiny corpus, writing under ``tmp_path``."""
    from topics.config import deep_merge

    data_file = write_tiny_jsonl(tmp_path / "tiny.jsonl", copies=3)
    base = {
        "name": "tiny",
        "seed": 1,
        "data": {"name": "tiny", "path": str(data_file), "labels": LABELS},
        "features": {"tfidf": {"ngram_range": [1, 1]}},
        "model": {
            "tfidf": {"cv_folds": 2},
            "lda": {"num_topics": 3, "passes": 2, "no_below": 1, "cv_folds": 2},
        },
        "tracking": {"enabled": False},
        "output_dir": str(tmp_path / "artifacts"),
    }
    return deep_merge(base, sections)


@pytest.fixture
def tiny_corpus_file(tmp_path: Path) -> Path:
    return write_tiny_jsonl(tmp_path / "tiny.jsonl")


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The quickstart experiment trained once per session (no tracking)."""
    from topics.config import load_config
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    out = tmp_path_factory.mktemp("quickstart")
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [f"output_dir={out}", "tracking.enabled=false"],
    )
    return config, run(config, NullTracker())


@pytest.fixture(scope="session")
def mlflow_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated SQLite MLflow store, made once per session: a
    migration costs seconds, a copy milliseconds."""
    from topics.tracking import open_store

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    open_store(f"sqlite:///{path}")
    return path


@pytest.fixture
def mlflow_store(tmp_path: Path, mlflow_store_template: Path) -> str:
    """The URI of a fresh copy of the migrated store, in ``tmp_path``."""
    import shutil

    path = tmp_path / "mlflow.db"
    shutil.copyfile(mlflow_store_template, path)
    return f"sqlite:///{path}"
