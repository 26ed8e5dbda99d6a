from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RecordingTracker, tiny_config
from topics.config import config_hash, validate_config
from topics.errors import DataError
from topics.predict import Predictor
from topics.run.experiment import run
from topics.run.trackers import NullTracker
from topics.serve.bundle import load_bundle


def test_end_to_end_with_in_memory_tracker(tmp_path: Path) -> None:
    config = validate_config(tiny_config(tmp_path))
    tracker = RecordingTracker()
    result = run(config, tracker)

    assert [name for name, _ in tracker.calls if name != "log_metrics"] == [
        "start_run",
        "log_dataset",
        "log_params",
        "log_tags",  # each topic's name
        "log_artifacts",
        "log_model",
        "end_run",
    ]
    assert tracker.status == "FINISHED"
    assert tracker.params["model.lda.num_topics"] == 3
    stepped = {key for _, logged in tracker.steps for key in logged}
    assert stepped == {"lda_log_likelihood_per_word"}  # the training curve, logged first
    assert tracker.calls[3:5] == [("log_metrics", 1)] * 2  # 100 Gibbs sweeps, every 50
    assert tracker.tags["topics.config_hash"] == config_hash(config)
    assert dict(tracker.calls)["log_artifacts"] == [
        "config.yaml",
        "metrics.json",
        "model",
        "plots",
        "report.html",
    ]
    assert tracker.dataset["digest"] == tracker.tags["topics.data_fingerprint"]

    run_dir = result.artifact_dir
    assert run_dir == tmp_path / "artifacts" / "tiny" / "recorded0run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert tracker.calls[-4] == ("log_metrics", len(metrics))  # every metric, unstepped
    assert (
        metrics == result.metrics == {k: v for k, v in tracker.metrics.items() if k not in stepped}
    )
    for key in (
        "test_micro_f1",
        "test_macro_f1",
        "test_subset_accuracy",
        "test_f1_human_rights",
        "tfidf_test_micro_f1",
        "lda_test_micro_f1",
        "lda_coherence_c_v",
        "lda_coherence_u_mass",
    ):
        assert key in metrics
    # The primary model is chosen on out-of-fold training scores, not on test.
    best = max(("tfidf", "lda"), key=lambda m: metrics[f"{m}_train_cv_score"])
    assert metrics["test_micro_f1"] == metrics[f"{best}_test_micro_f1"]
    assert 0.0 <= metrics["tfidf_train_cv_score"] <= 1.0
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["name"] == "tiny"
    report = [
        f"{model}_{part}"
        for model in ("lda", "tfidf")
        for part in (
            "confident_errors.csv",
            "label_confusion.png",
            "per_label.csv",
            "pr_curves.png",
            "threshold_f1.png",
        )
    ]
    assert sorted(p.name for p in (run_dir / "plots").iterdir()) == sorted(
        [
            *report,
            "lda_top_words.png",
            "lda_doc_topics.png",
            "lda_topic_prevalence.png",
            "lda_topic_view.json",
            "lda_topics.csv",
        ]
    )
    errors = (run_dir / "plots" / "tfidf_confident_errors.csv").read_text().splitlines()
    assert errors[0] == "id,confidence,true,predicted,text" and 1 <= len(errors) <= 21
    table = (run_dir / "plots" / "tfidf_per_label.csv").read_text().splitlines()
    assert table[0] == "label,precision,recall,f1,support"
    assert [row.split(",")[0] for row in table[-2:]] == ["(micro)", "(macro)"]
    bundle = load_bundle(run_dir / "model")
    assert bundle.manifest["primary"] == best
    latest = tmp_path / "artifacts" / "latest"
    assert latest.is_symlink() and latest.resolve() == (run_dir / "model").resolve()


def test_single_model_run(tmp_path: Path) -> None:
    config = validate_config(tiny_config(tmp_path, model={"lda": {"enabled": False}}))
    result = run(config, RecordingTracker())
    assert "lda_test_micro_f1" not in result.metrics
    assert result.metrics["test_micro_f1"] == result.metrics["tfidf_test_micro_f1"]


def test_each_model_scores_the_test_texts_once(tmp_path: Path, monkeypatch: Any) -> None:
    """Labels follow from the test probabilities: a slow model (the encoder) is not
    run over the test split a second time for them."""
    from topics.families.linear import MultiLabelLinear

    scored: list[int] = []
    predict_proba = MultiLabelLinear.predict_proba

    def counting(self: MultiLabelLinear, X: Any) -> Any:
        scored.append(X.shape[0])
        return predict_proba(self, X)

    def no_predict(self: MultiLabelLinear, X: Any) -> Any:
        raise AssertionError("labels must come from predict_proba")

    monkeypatch.setattr(MultiLabelLinear, "predict_proba", counting)
    monkeypatch.setattr(MultiLabelLinear, "predict", no_predict)
    config = validate_config(tiny_config(tmp_path, model={"lda": {"enabled": False}}))
    run(config, RecordingTracker())
    assert len(scored) == 1  # the one tfidf model, on the test split, once


def test_primary_named_in_the_config_gets_the_plain_keys(tmp_path: Path) -> None:
    config = validate_config(tiny_config(tmp_path, model={"primary": "lda"}))
    result = run(config, RecordingTracker())
    assert result.metrics["test_micro_f1"] == result.metrics["lda_test_micro_f1"]
    assert load_bundle(result.artifact_dir / "model").manifest["primary"] == "lda"
    with pytest.raises(ValueError, match=r"model.primary: hybrid is not enabled"):
        validate_config(tiny_config(tmp_path, model={"primary": "hybrid"}))


def test_bad_data_fails_before_a_run_starts(tmp_path: Path) -> None:
    data = tiny_config(tmp_path)
    data["data"]["labels"] = ["economy", "weather"]
    tracker = RecordingTracker()
    with pytest.raises(DataError, match="weather"):
        run(validate_config(data), tracker)
    assert tracker.calls == []


def test_failure_mid_run_ends_the_run_failed(tmp_path: Path, monkeypatch: Any) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("topics.run.experiment.train_and_evaluate", explode)
    tracker = RecordingTracker()
    with pytest.raises(RuntimeError):
        run(validate_config(tiny_config(tmp_path)), tracker)
    assert tracker.status == "FAILED"
    assert tracker.error == "RuntimeError: disk full"
    assert not (tmp_path / "artifacts" / "latest").exists()


def test_quickstart_on_the_sample_corpus_learns(quickstart_run: Any) -> None:
    _, result = quickstart_run
    assert result.metrics["tfidf_test_micro_f1"] > 0.85
    assert result.metrics["lda_test_micro_f1"] > 0.5
    assert 0.0 < result.metrics["lda_coherence_c_v"] < 1.0


def test_same_config_and_seed_reproduce_metrics_and_bundle_bytes(tmp_path: Path) -> None:
    config = validate_config(tiny_config(tmp_path))
    first, second = run(config, RecordingTracker()), run(config, NullTracker())
    assert first.run_id != second.run_id

    def quality(metrics: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in metrics.items() if not k.endswith("_seconds")}

    assert quality(first.metrics) == quality(second.metrics)
    manifests = [load_bundle(r.artifact_dir / "model").manifest for r in (first, second)]
    assert manifests[0]["files"] == manifests[1]["files"]  # sha256 of model.json and arrays.npz
    assert manifests[0]["data_fingerprint"] == manifests[1]["data_fingerprint"]
    assert manifests[0]["versions"]["scikit-learn"] == manifests[1]["versions"]["scikit-learn"]


def _cli_run(tmp_path: Path, monkeypatch: Any, *args: str) -> str:
    """The run name ``topics run`` gives :func:`run` for ``args`` (nothing is trained)."""
    from topics.cli.main import main
    from topics.evaluate.run_metrics import RunMetrics
    from topics.run.experiment import RunResult

    experiment = tmp_path / "tiny.yaml"
    experiment.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    names: list[str] = []

    def recording_run(config: Any, tracker: Any, **kwargs: Any) -> RunResult:
        names.append(kwargs["run_name"])
        return RunResult("r", config.name, tmp_path, RunMetrics())

    monkeypatch.setattr("topics.run.experiment.run", recording_run)
    assert main(["run", str(experiment), "--no-track", *args]) == 0
    return names[0]


def test_runs_differing_in_a_set_override_get_distinct_names(
    tmp_path: Path, monkeypatch: Any
) -> None:
    names = [_cli_run(tmp_path, monkeypatch, "--set", f"model.tfidf.C={c}") for c in ("0.1", "1.0")]
    assert names == ["tiny C=0.1", "tiny C=1.0"]
    assert _cli_run(tmp_path, monkeypatch) == "tiny"
    assert _cli_run(tmp_path, monkeypatch, "--set", f"output_dir={tmp_path / 'out'}") == "tiny"
    named = _cli_run(tmp_path, monkeypatch, "--set", "seed=3", "--run-name", "my baseline")
    assert named == "my baseline"
    # run() names the tracked run so
    tracker = RecordingTracker()
    config = validate_config(tiny_config(tmp_path, model={"lda": {"enabled": False}}))
    run(config, tracker, run_name="tiny C=0.1")
    assert tracker.run_name == "tiny C=0.1"


@pytest.mark.parametrize(
    ("engine", "steps"), [("tomotopy", [50, 100]), ("gensim", [1, 2])], ids=["gibbs", "vb"]
)
def test_lda_passes_and_the_k_sweep_are_logged_as_steps(
    tmp_path: Path, engine: str, steps: list[int]
) -> None:
    lda = {"engine": engine, "iterations": 100, "sweep": {"num_topics": [2, 3]}}
    config = validate_config(tiny_config(tmp_path, model={"lda": lda, "tfidf": {"enabled": False}}))
    tracker = RecordingTracker()
    run(config, tracker)

    def curve(key: str) -> list[tuple[int, float]]:
        return [(step, logged[key]) for step, logged in tracker.steps if key in logged]

    likelihood = curve("lda_log_likelihood_per_word")
    assert [step for step, _ in likelihood] == steps
    assert all(value < 0 for _, value in likelihood)
    # one point per K on the run, K the step; the flat per-K keys stay as they were
    perplexity = curve("lda_sweep_heldout_perplexity")
    assert [step for step, _ in perplexity] == [2, 3]
    assert [value for _, value in perplexity] == [
        tracker.metrics[f"lda_sweep_k{k}_heldout_perplexity"] for k in (2, 3)
    ]
    assert [step for step, _ in curve("lda_sweep_coherence_c_npmi")] == [2, 3]


def test_per_topic_coherence_is_a_table_artifact_not_metrics(tmp_path: Path) -> None:
    import csv

    config = validate_config(tiny_config(tmp_path, model={"tfidf": {"enabled": False}}))
    tracker = RecordingTracker()
    result = run(config, tracker)

    assert not [
        key for key in tracker.metrics if key.startswith("lda_topic_") and key[10].isdigit()
    ]
    assert {"lda_coherence_c_v", "lda_coherence_c_npmi", "lda_topic_diversity"} <= set(
        tracker.metrics
    )
    table = result.artifact_dir / "plots" / "lda_topics.csv"
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["topic"] for row in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["topic", "name", "c_v", "c_npmi", "u_mass", "top_words"]
    mean_c_v = sum(float(row["c_v"]) for row in rows) / len(rows)
    assert mean_c_v == pytest.approx(tracker.metrics["lda_coherence_c_v"], abs=1e-5)
    assert ("log_artifacts", sorted(p.name for p in result.artifact_dir.iterdir())) in tracker.calls
    report = (result.artifact_dir / "report.html").read_text()
    assert "<th>c_npmi</th>" in report and rows[0]["c_v"] in report


def test_run_summary_names_the_primary_model_and_keeps_label_names(tmp_path: Path) -> None:
    from topics.cli.main import format_summary

    config = validate_config(tiny_config(tmp_path, model={"lda": {"enabled": False}}))
    result = run(config, NullTracker())
    assert result.labels == ("economy", "defense", "human rights", "transport")
    summary = format_summary(result, None)
    line = next(line for line in summary.splitlines() if "F1 per label" in line)
    f1 = result.metrics["test_f1_human_rights"]
    assert line.startswith("primary model tfidf (the one classify uses), F1 per label: economy ")
    assert f"human rights {f1:.3f}" in line and "human_rights" not in summary
    assert "best" not in summary


@pytest.mark.parametrize("passages", [0, 3])
def test_extra_test_sets_score_the_primary_model(tmp_path: Path, passages: int) -> None:
    """data.extra_test: the primary model labels another gold set after training;
    the run reports its F1, the gold labels found and the false labels, scoring
    texts by passage as model.passages says, as the bundle does."""
    gold = {
        "Cargo trains and a new railway line. The port opened.": ["transport"],
        "Troops and army units in drills. Near the bank, prices rose.": ["defense", "economy"],
        "A journalist was detained. Rights groups said so.": ["human rights"],
    }
    extra = tmp_path / "regional.jsonl"
    extra.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "title": "", "text": text, "labels": labels}) + "\n"
            for i, (text, labels) in enumerate(gold.items())
        ),
        encoding="utf-8",
    )
    sections = {
        "data": {"extra_test": {"regional": str(extra)}},
        "model": {"lda": {"enabled": False}, "passages": passages},
    }
    config = validate_config(tiny_config(tmp_path, **sections))
    result = run(config, RecordingTracker())
    predictor = Predictor.load(result.artifact_dir / "model")
    assert predictor.passages == passages
    guessed = predictor.predict(list(gold))
    found = sum(len(set(g) & set(r["labels"])) for g, r in zip(gold.values(), guessed, strict=True))
    false = sum(len(set(r["labels"]) - set(g)) for g, r in zip(gold.values(), guessed, strict=True))
    assert result.metrics["regional_gold_labels"] == 4
    assert result.metrics["regional_labels_found"] == found > 0
    assert result.metrics["regional_false_labels"] == false
    assert 0 < result.metrics["regional_micro_f1"] <= 1
    # each document's labels, as the bundle gives them, and the passage behind each
    with (result.artifact_dir / "plots" / "regional_documents.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    behind = predictor.best_passages(list(gold))
    for row, labels, guess, best in zip(rows, gold.values(), guessed, behind, strict=True):
        assert sorted(row["gold"].split("|")) == sorted(labels)
        assert [name for name in row["predicted"].split("|") if name] == guess["labels"]
        for label in predictor.labels:
            expected = best.get(label, "") if label in guess["labels"] else ""
            assert row[f"passage_{label.replace(' ', '_')}"] == expected
    assert any(row["passage_transport"] for row in rows) == (passages > 0)
    report = (result.artifact_dir / "report.html").read_text()
    assert "regional: each document" in report and ">r2<" in report
