"""The topic side of a run: seeded topics, labeller, hybrid, stability and the K sweep."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RecordingTracker, tiny_config
from topics.config import validate_config
from topics.errors import ConfigError
from topics.run.experiment import run
from topics.serve.bundle import load_bundle

SEEDS = {
    "economy": ["investment", "inflation", "bank", "trade", "export"],
    "defense": ["army", "military", "troops", "defense"],
    "human rights": ["rights", "journalist", "detained", "activists"],
    "transport": ["railway", "cargo", "rail", "passenger"],
}


def seeded_config(tmp_path: Path) -> dict[str, Any]:
    return tiny_config(
        tmp_path,
        model={
            "lda": {
                "num_topics": 5,
                "iterations": 100,
                "seeds": SEEDS,
                "seed_strength": 2.0,
                "stability_runs": 2,
                "labeller": {"enabled": True, "threshold": 0.3},
                "sweep": {"num_topics": [4, 6]},
            },
            "hybrid": {"enabled": True, "lda_weight": 0.5},
        },
    )


def test_seeded_run_reports_topics_labeller_hybrid_stability_and_sweep(tmp_path: Path) -> None:
    config = validate_config(seeded_config(tmp_path))
    tracker = RecordingTracker()
    result = run(config, tracker)
    metrics = result.metrics

    for key in (
        "lda_coherence_c_v",
        "lda_coherence_c_npmi",
        "lda_coherence_u_mass",
        "lda_topic_diversity",
        "lda_seed_recall",
        "lda_seed_recall_human_rights",
        "lda_labeller_micro_f1",
        "lda_labeller_tuned_micro_f1",
        "lda_stability",
        "hybrid_test_micro_f1",
        "tfidf_test_micro_f1",
        "lda_test_micro_f1",
    ):
        assert key in metrics and math.isfinite(metrics[key]), key
    assert 0.0 <= metrics["lda_stability"] <= 1.0
    assert metrics["lda_seed_recall"] > 0.5  # the seeds surface in their own topics

    # The sweep: one nested run per K, each with its own metrics; the best K marked.
    assert ("child_run", "tiny-k6") in tracker.calls and ("child_run", "tiny-k4") in tracker.calls
    assert set(tracker.children) == {"tiny-k6", "tiny-k4"}
    for child in tracker.children.values():
        assert child["metrics"]["lda_heldout_perplexity"] > 1.0
        assert "lda_coherence_c_v" in child["metrics"]
        assert child["status"] == "FINISHED"
        # each K logs the training split it was fitted on as its dataset input
        assert child["dataset"]["name"] == tracker.dataset["name"] == config.data.name
    digests = {child["dataset"]["digest"] for child in tracker.children.values()}
    assert len(digests) == 1 and len(digests.pop()) == 64  # the split's sha256, not the corpus's
    assert tracker.children["tiny-k4"]["dataset"]["digest"] != tracker.dataset["digest"]
    assert metrics["lda_sweep_best_k"] in (4.0, 6.0)
    assert "lda_heldout_perplexity" not in tracker.metrics  # stayed in the children

    plots = {p.name for p in (result.artifact_dir / "plots").iterdir()}
    assert {
        "lda_top_words.png",
        "lda_doc_topics.png",
        "lda_topic_prevalence.png",
        "lda_k_sweep.png",
        "hybrid_label_confusion.png",
    } <= plots
    bundle = load_bundle(result.artifact_dir / "model")
    assert bundle.spec["models"]["hybrid"]["features"] == ["tfidf", "lda"]
    assert json.loads((result.artifact_dir / "metrics.json").read_text()) == metrics


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"lda": {"num_topics": 3}}}, "raise num_topics to at least 4"),
        (
            {"model": {"lda": {"seeds": {"sport": ["goal"]}, "sweep": {"num_topics": []}}}},
            "not in data.labels",
        ),
        ({"model": {"tfidf": {"enabled": False}}}, "needs both model.tfidf and model.lda"),
        ({"model": {"lda": {"stability_runs": 1}}}, "at least 2"),
        ({"model": {"lda": {"sweep": {"num_topics": [1, 5]}}}}, "every K must be >= 2"),
        ({"model": {"lda": {"sweep": {"num_topics": [3, 5]}}}}, "no room for the 4 seeded"),
        ({"model": {"lda": {"engine": "tomotopy", "alpha": "auto"}}}, "takes a number"),
    ],
    ids=[
        "too-few-topics",
        "seed-not-a-label",
        "hybrid-needs-both",
        "one-run",
        "bad-k",
        "k-below-seeds",
        "alpha",
    ],
)
def test_invalid_topic_settings_are_rejected(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    from topics.config import deep_merge

    with pytest.raises(ConfigError, match=message):
        validate_config(deep_merge(seeded_config(tmp_path), change))


def k_sweep_config(tmp_path: Path) -> Any:
    return validate_config(
        tiny_config(
            tmp_path,
            model={"tfidf": {"enabled": False}, "lda": {"sweep": {"num_topics": [2, 3]}}},
        )
    )


def test_the_k_sweep_is_a_preset_run_by_the_sweep_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from topics.run import topic_runs, trials

    executed: list[list[tuple[str, dict[str, Any], int]]] = []
    execute = trials.execute

    def recording(trials: Any, work: Any, n_jobs: int, address: str | None) -> Any:
        executed.append([(t.name, t.overrides, t.config.model.lda.num_topics) for t in trials])
        yield from execute(trials, work, n_jobs, address)

    monkeypatch.setattr(topic_runs, "execute", recording)
    tracker = RecordingTracker()
    metrics = run(k_sweep_config(tmp_path), tracker).metrics

    assert executed == [
        [
            ("tiny-k2", {"model.lda.num_topics": 2}, 2),
            ("tiny-k3", {"model.lda.num_topics": 3}, 3),
        ]
    ]
    assert {name: child["params"] for name, child in tracker.children.items()} == {
        "tiny-k2": {"model.lda.num_topics": 2},
        "tiny-k3": {"model.lda.num_topics": 3},
    }
    for k in (2, 3):
        child = tracker.children[f"tiny-k{k}"]["metrics"]
        assert metrics[f"lda_sweep_k{k}_heldout_perplexity"] == child["lda_heldout_perplexity"]
    assert metrics["lda_sweep_best_k"] in (2.0, 3.0)


def test_a_failing_k_fails_its_child_and_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from topics.run import topic_runs
    from topics.run.trials import TrialFailed

    score_k = topic_runs.score_k

    def failing_at_three(lda: Any, *args: Any) -> Any:
        if lda.num_topics == 3:
            raise ValueError("no held-out words")
        return score_k(lda, *args)

    monkeypatch.setattr(topic_runs, "score_k", failing_at_three)
    tracker = RecordingTracker()
    with pytest.raises(TrialFailed, match="K sweep tiny-k3: ValueError: no held-out words"):
        run(k_sweep_config(tmp_path), tracker)
    statuses = {name: child["status"] for name, child in tracker.children.items()}
    assert statuses == {"tiny-k2": "FINISHED", "tiny-k3": "FAILED"}
    assert tracker.status == "FAILED"


def test_topic_report_evaluates_without_config_or_tracker() -> None:
    """Evaluation takes plain arguments: no config, no tracker, no data loading."""
    import ast
    import inspect

    from topics.evaluate import k_sweep, topic_report

    for module in (topic_report, k_sweep):
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(ast.parse(inspect.getsource(module)))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {"topics.config", "topics.tracking", "mlflow"} & imported, module.__name__
        assert not any(name and name.startswith("topics.run") for name in imported)


def test_the_labeller_scores_its_extra_corpus_loaded_on_the_run_side(tmp_path: Path) -> None:
    from topics.config import deep_merge

    data = seeded_config(tmp_path)
    extra = {"labeller": {"eval_path": data["data"]["path"]}, "stability_runs": 0}
    data = deep_merge(data, {"model": {"lda": {**extra, "sweep": {"num_topics": []}}}})
    metrics = run(validate_config(data), RecordingTracker()).metrics
    assert 0.0 <= metrics["lda_labeller_extra_micro_f1"] <= 1.0
    assert "lda_labeller_tuned_extra_micro_f1" in metrics
