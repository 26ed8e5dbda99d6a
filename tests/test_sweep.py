"""Sweeps: trials from grid/random specs, nested runs logged by the driver, best chosen
on validation, the same metrics from joblib, serial and a 2-worker LocalCluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, RecordingTracker, tiny_config
from topics.cli.main import main
from topics.config import load_config, validate_config
from topics.errors import ConfigError
from topics.run.sweep import expand_trials, run_sweep, run_trial
from topics.run.trials import run_name


def sweep_config(tmp_path: Path, sweep: dict[str, Any], **sections: Any) -> Any:
    data = tiny_config(tmp_path, model={"lda": {"enabled": False}}, sweep=sweep, **sections)
    return validate_config(data)


def test_grid_is_the_product_in_declared_order(tmp_path: Path) -> None:
    grid = {"model.tfidf.C": [0.3, 3], "features.tfidf.ngram_range": [[1, 1], [1, 2]]}
    trials = expand_trials(sweep_config(tmp_path, {"grid": grid}))
    assert [t.overrides for t in trials] == [
        {"model.tfidf.C": 0.3, "features.tfidf.ngram_range": [1, 1]},
        {"model.tfidf.C": 0.3, "features.tfidf.ngram_range": [1, 2]},
        {"model.tfidf.C": 3, "features.tfidf.ngram_range": [1, 1]},
        {"model.tfidf.C": 3, "features.tfidf.ngram_range": [1, 2]},
    ]
    assert trials[3].config.model.tfidf.C == 3.0
    assert trials[3].config.features.tfidf.ngram_range == (1, 2)
    assert trials[3].config.sweep is None and [t.name for t in trials][0] == "trial-000"


def test_random_samples_are_seeded_and_in_range(tmp_path: Path) -> None:
    spec = {
        "random": {
            "model.tfidf.C": {"loguniform": [0.01, 100]},
            "model.lda.num_topics": {"randint": [2, 4]},
            "model.tfidf.classifier": {"choice": ["linear_svc", "logreg"]},
        },
        "trials": 30,
        "seed": 3,
        "grid": {"seed": [1, 2]},
    }
    first = [t.overrides for t in expand_trials(sweep_config(tmp_path, spec))]
    assert first == [t.overrides for t in expand_trials(sweep_config(tmp_path, spec))]
    assert len(first) == 60 and {o["seed"] for o in first} == {1, 2}
    assert all(0.01 <= o["model.tfidf.C"] <= 100 for o in first)
    assert {o["model.lda.num_topics"] for o in first} == {2, 3, 4}
    assert {o["model.tfidf.classifier"] for o in first} == {"linear_svc", "logreg"}
    other = [t.overrides for t in expand_trials(sweep_config(tmp_path, {**spec, "seed": 4}))]
    assert other != first


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"grid": {"model.tfidf.Cee": [1]}}, "model.tfidf.Cee: unknown key"),
        ({"grid": {"model.tfidf.C": [1, -1]}}, "sweep trial-001 (model.tfidf.C=-1): model.tfidf.C"),
    ],
    ids=["unknown-key", "bad-value"],
)
def test_bad_trial_configs_fail_before_any_work(
    tmp_path: Path, sweep: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand_trials(sweep_config(tmp_path, sweep))


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({}, "declare the values to try"),
        ({"random": {"seed": {"randint": [1, 5]}}}, "needs trials"),
        ({"random": {"seed": {"randint": [1, 5], "choice": [1]}}, "trials": 2}, "exactly one"),
        ({"grid": {"seed": [1]}, "validation_size": None}, "needs validation_size"),
        ({"grid": {"seed": [1]}, "metrik": "x"}, "sweep.metrik: unknown key"),
    ],
    ids=["empty", "random-without-trials", "two-distributions", "val-without-split", "typo"],
)
def test_sweep_section_is_validated(tmp_path: Path, sweep: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sweep_config(tmp_path, sweep)


def test_plain_runs_hash_as_before_sweeps_existed(tmp_path: Path) -> None:
    from topics.config import config_hash

    config = validate_config(tiny_config(tmp_path))
    moved = validate_config(tiny_config(tmp_path, dask={"address": "tcp://10.0.0.1:8786"}))
    assert config_hash(config) == config_hash(moved)
    assert "sweep" not in json.dumps(config.model_dump(mode="json")["tracking"])


def test_sweep_logs_one_child_per_trial_and_the_best_on_the_parent(tmp_path: Path) -> None:
    grid = {"model.tfidf.C": [0.01, 1.0], "features.tfidf.min_df": [1, 1000]}
    config = sweep_config(tmp_path, {"grid": grid, "n_jobs": 1})
    tracker = RecordingTracker()
    result = run_sweep(config, tracker)

    assert tracker.status == "FINISHED" and len(tracker.children) == 4
    # Each child is named after what its trial changed, as the runs list shows it.
    assert sorted(tracker.children) == [
        "tiny C=0.01 min_df=1",
        "tiny C=0.01 min_df=1000",
        "tiny C=1.0 min_df=1",
        "tiny C=1.0 min_df=1000",
    ]
    children = {child["params"]["sweep.trial"]: child for child in tracker.children.values()}
    # min_df=1000 leaves no terms: those trials fail alone, as FAILED children.
    failed = {name for name, child in children.items() if child["status"] == "FAILED"}
    assert failed == {"trial-001", "trial-003"}
    ok = children["trial-002"]
    assert ok["params"]["model.tfidf.C"] == 1.0 and ok["status"] == "FINISHED"
    assert {"val_micro_f1", "test_micro_f1", "tfidf_val_macro_f1", "trial_seconds"} <= set(
        ok["metrics"]
    )
    scores = {
        name: child["metrics"]["val_micro_f1"]
        for name, child in children.items()
        if name not in failed
    }
    best = max(sorted(scores), key=scores.__getitem__)
    assert result.best_trial == best
    assert tracker.tags["topics.best_child_run_id"] == children[best]["run_id"]
    assert tracker.metrics["val_micro_f1"] == scores[best]
    # The driver wrote each finished trial's files and a summary table.
    trial_dir = result.artifact_dir / "trials" / best
    assert (trial_dir / "model" / "manifest.json").is_file()
    assert (
        json.loads((trial_dir / "metrics.json").read_text())
        == result.trials[int(best[-3:])]["metrics"]
    )
    summary = json.loads((result.artifact_dir / "sweep.json").read_text())
    assert summary["best"]["trial"] == best and len(summary["trials"]) == 4


def test_validation_metrics_never_touch_the_test_split(tmp_path: Path) -> None:
    config = sweep_config(tmp_path, {"grid": {"model.tfidf.C": [1.0]}})
    with_val = run_trial(expand_trials(config)[0], 0.25)
    plain = run_trial(expand_trials(config)[0], None)
    assert with_val.error is None and plain.error is None
    assert not any(k.startswith("val_") for k in plain.metrics)
    # The test metrics come from the same fit on the whole training split either way.
    timeless = {k: v for k, v in plain.metrics.items() if not k.endswith("_seconds")}
    assert {k: v for k, v in with_val.metrics.items() if k in timeless} == timeless


def test_joblib_and_local_cluster_give_the_serial_metrics(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    config = sweep_config(tmp_path, {"grid": {"model.tfidf.C": [0.1, 1.0]}, "n_jobs": 1})

    def metrics_of(tracker: RecordingTracker) -> dict[str, dict[str, float]]:
        return {
            name: {k: v for k, v in child["metrics"].items() if not k.endswith("_seconds")}
            for name, child in tracker.children.items()
        }

    serial = RecordingTracker()
    run_sweep(config, serial)
    joblib = RecordingTracker()
    run_sweep(
        config.model_copy(update={"sweep": config.sweep.model_copy(update={"n_jobs": 2})}), joblib
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        on_dask = RecordingTracker()
        result = run_sweep(config, on_dask, address=cluster.scheduler_address)
    assert metrics_of(serial) == metrics_of(joblib) == metrics_of(on_dask)
    assert len(metrics_of(serial)) == 2 and "dask" in on_dask.tags["topics.sweep_executor"]
    assert result.best_run_id == on_dask.tags["topics.best_child_run_id"]


def test_quickstart_sweep_declares_eight_trials_chosen_on_validation() -> None:
    config = load_config(REPO / "experiments" / "sweep-quickstart.yaml")
    trials = expand_trials(config)
    assert len(trials) == 8 and config.sweep is not None
    assert config.sweep.metric.startswith("val_")
    assert {t.config.model.lda.enabled for t in trials} == {False}


def test_cli_sweep_json_and_missing_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    data = tiny_config(
        tmp_path, model={"lda": {"enabled": False}}, sweep={"grid": {"model.tfidf.C": [1.0]}}
    )
    experiment = tmp_path / "sweep.yaml"
    experiment.write_text(yaml.safe_dump(data))
    assert main(["sweep", str(experiment), "--no-track", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["best_trial"] == "trial-000" and result["metric"] == "val_micro_f1"
    assert main(["sweep", str(experiment), "--set", "sweep=null"]) == 2
    err = capsys.readouterr().err
    assert "no sweep: section" in err and err.count("\n") == 1


def test_sweep_on_dask_without_dask_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    import yaml

    data = tiny_config(tmp_path, sweep={"grid": {"model.tfidf.C": [1.0]}})
    experiment = tmp_path / "sweep.yaml"
    experiment.write_text(yaml.safe_dump(data))
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were missing
    assert main(["sweep", str(experiment), "--dask", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[dask]'" in err and err.count("\n") == 1


def test_an_unreachable_scheduler_is_one_clear_error() -> None:
    pytest.importorskip("distributed")
    from tests.servers import free_port
    from topics.run.dask import DaskError, connect

    with pytest.raises(DaskError, match="cannot reach the Dask scheduler"):
        connect(f"tcp://127.0.0.1:{free_port()}", timeout=1)


def test_the_sweep_parent_run_ends_failed_with_the_error_or_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from topics.run.trials import TrialFailed

    config = sweep_config(tmp_path, {"grid": {"features.tfidf.min_df": [1000]}, "n_jobs": 1})
    tracker = RecordingTracker()
    with pytest.raises(TrialFailed, match="every trial failed"):
        run_sweep(config, tracker)
    assert tracker.status == "FAILED"
    assert tracker.error is not None and tracker.error.startswith("TrialFailed: every trial")

    def interrupted(trial: Any, validation_size: float | None) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("topics.run.sweep.run_trial", interrupted)
    tracker = RecordingTracker()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, tracker)
    assert (tracker.status, tracker.error) == ("KILLED", "interrupted (Ctrl-C or SIGTERM)")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "quickstart"),
        ({"model.tfidf.C": 0.1}, "quickstart C=0.1"),
        ({"model.lda.engine": "gensim", "seed": 7}, "quickstart engine=gensim seed=7"),
        ({"features.tfidf.ngram_range": [1, 2]}, "quickstart ngram_range=[1,2]"),
        (
            {"model.tfidf.C": 1, "model.complement_nb.C": 2},
            "quickstart model.tfidf.C=1 model.complement_nb.C=2",
        ),
    ],
    ids=["no-overrides", "one", "string-and-int", "list", "same-last-part"],
)
def test_run_name_says_what_differs(overrides: dict[str, Any], expected: str) -> None:
    assert run_name("quickstart", overrides) == expected


def test_sweep_parent_and_children_log_their_dataset(tmp_path: Path) -> None:
    sweep = {"grid": {"model.tfidf.C": [0.1, 1.0]}, "n_jobs": 1, "validation_size": None}
    config = sweep_config(tmp_path, {**sweep, "metric": "test_micro_f1"})
    tracker = RecordingTracker()
    run_sweep(config, tracker, parent_name="C sweep")  # topics sweep --run-name "C sweep"
    assert tracker.run_name == "C sweep"
    assert sorted(tracker.children) == ["tiny C=0.1", "tiny C=1.0"]

    fingerprint = run_trial(expand_trials(config)[0], None).data_fingerprint
    expected = {
        "name": "tiny",
        "digest": fingerprint,
        "source": str(config.data.resolved_path()),
        "context": "corpus",
    }
    assert len(fingerprint) == 64
    assert tracker.dataset == expected  # the parent, as `topics run` logs it
    assert [child["dataset"] for child in tracker.children.values()] == [expected] * 2
    assert [name for name, _ in tracker.calls].count("log_dataset") == 3


def test_sweep_children_log_their_training_curves_as_steps(tmp_path: Path) -> None:
    """As `topics run` does: each trial's LDA passes are stepped metrics of its child."""
    sweep = {"grid": {"model.tfidf.C": [0.1, 1.0]}, "n_jobs": 1}
    sweep |= {"validation_size": None, "metric": "test_micro_f1"}
    config = validate_config(
        tiny_config(tmp_path, model={"lda": {"enabled": True, "engine": "gensim"}}, sweep=sweep)
    )
    tracker = RecordingTracker()
    run_sweep(config, tracker)
    for child in tracker.children.values():
        curve = [(step, m["lda_log_likelihood_per_word"]) for step, m in child["steps"]]
        assert [step for step, _ in curve] == list(range(1, config.model.lda.passes + 1))
        assert all(value < 0 for _, value in curve)
