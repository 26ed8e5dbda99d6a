"""``topics evaluate``: a bundle scored on labelled data, as a run scores its test split.

The quickstart model (trained once per session, untracked) is the model; the tiny
corpus trained with tracking is the model whose MLflow run an evaluation links to.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import (
    LABELS,
    REPO,
    TINY_ARTICLES,
    shared_data,
    tiny_config,
    write_tiny_jsonl,
)
from topics.cli.main import main

QUICKSTART = REPO / "experiments" / "quickstart.yaml"


def evaluate(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["evaluate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_test_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The test-split metrics of a run: ``test_*`` and ``<model>_test_*``."""
    return {key: value for key, value in metrics.items() if "test_" in key}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def quickstart(quickstart_run: Any) -> dict[str, Any]:
    config, result = quickstart_run
    return {"config": config, "result": result, "bundle": str(result.artifact_dir / "model")}


def test_the_runs_own_test_split_gives_back_the_runs_test_metrics_exactly(
    quickstart: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = quickstart["result"]
    output = tmp_path / "out"
    code, out, err = evaluate(
        ["--model", quickstart["bundle"], str(QUICKSTART), "--output", str(output), "--no-track"],
        capsys,
    )
    assert code == 0, err
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics == run_test_metrics(result.metrics)  # same names, same values
    primary = result.scores.primary
    run_table = read_csv(result.artifact_dir / "plots" / f"{primary}_per_label.csv")
    assert read_csv(output / "per_label.csv") == run_table
    for model in result.scores.models:
        assert read_csv(output / "plots" / f"{model}_per_label.csv") == read_csv(
            result.artifact_dir / "plots" / f"{model}_per_label.csv"
        )
    page = (output / "report.html").read_text()
    assert f"{metrics['test_micro_f1']:.3f}" in page and "human rights" in page
    assert 'class="per-label"' in page and "data:image/png;base64," in page
    assert out.count("\n") == 1 and f"micro-F1 {metrics['test_micro_f1']:.3f}" in out


def test_a_model_scoring_by_passage_gives_back_its_runs_test_metrics_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """model.passages, model.passage_support and model.relative_cut: the run and
    ``topics evaluate`` score long texts by passage and decide alike; ``--passages 0``
    scores them whole and ``--relative-cut 0`` decides without the cut, and the figures
    differ."""
    from topics.config import load_config
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    config = load_config(
        QUICKSTART,
        [
            f"output_dir={tmp_path / 'runs'}",
            "tracking.enabled=false",
            "model.lda.enabled=false",
            "model.passages=25",  # sample articles run to 100-200 words
            "model.passage_support=3",  # 4-8 passages: the 2nd or 3rd best
            "model.relative_cut=0.7",
        ],
    )
    result = run(config, NullTracker())
    bundle = str(result.artifact_dir / "model")
    spec = json.loads((Path(bundle) / "model.json").read_text())
    assert spec["relative_cut"] == 0.7 and spec["passage_support"] == 3
    metrics = {}
    for flags in ([], ["--passages", "0"], ["--relative-cut", "0"], ["--passage-support", "0"]):
        output = tmp_path / "_".join(["out", *flags])
        code, _, err = evaluate(
            ["--model", bundle, str(QUICKSTART), "--output", str(output), "--no-track", *flags],
            capsys,
        )
        assert code == 0, err
        metrics[" ".join(flags)] = json.loads((output / "metrics.json").read_text())
    assert metrics[""] == run_test_metrics(result.metrics)
    assert metrics["--passages 0"] != metrics[""]
    assert metrics["--passage-support 0"] != metrics[""]  # each label at its best passage
    # without the cut, articles keep the side labels their passages give them
    no_cut, cut = metrics["--relative-cut 0"], metrics[""]
    assert no_cut["test_micro_precision"] < cut["test_micro_precision"]


def test_a_config_part_picks_train_test_or_all_of_its_split(
    quickstart: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = quickstart["result"]
    sizes = {}
    for part in ("train", "all"):
        args = ["--model", quickstart["bundle"], str(QUICKSTART), "--part", part, "--json"]
        code, out, err = evaluate([*args, "--output", str(tmp_path / part), "--no-track"], capsys)
        assert code == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["part"] == part
        sizes[part] = summary["n_documents"]
        assert summary["metrics"]["test_micro_f1"] != result.metrics["test_micro_f1"]
    n_test = round(sizes["all"] * quickstart["config"].data.split.test_size)
    assert sizes["train"] == sizes["all"] - n_test


def test_a_data_group_file_is_read_as_its_data_section(
    quickstart: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_config = REPO / "configs" / "data" / "sample.yaml"
    runs = {}
    for name, data in (("group", data_config), ("experiment", QUICKSTART)):
        output = tmp_path / name
        args = ["--model", quickstart["bundle"], str(data), "--part", "all", "--no-track"]
        code, _, err = evaluate([*args, "--output", str(output)], capsys)
        assert code == 0, err
        runs[name] = json.loads((output / "metrics.json").read_text())
    assert runs["group"] == runs["experiment"]  # the same corpus: the whole sample


def test_single_label_data_gets_the_runs_test_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from topics.config import load_config
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    data = tmp_path / "single.jsonl"
    with data.open("w", encoding="utf-8") as handle:
        for copy in range(3):
            for doc_id, text, labels in TINY_ARTICLES:
                if len(labels) == 1:
                    record = {"id": f"{doc_id}-{copy}", "text": text, "labels": labels}
                    handle.write(json.dumps(record) + "\n")
    config = tiny_config(
        tmp_path, data={"path": str(data), "single_label": True}, model={"lda": {"enabled": False}}
    )
    experiment = tmp_path / "single.yaml"
    experiment.write_text(yaml.safe_dump(config))
    result = run(load_config(experiment), NullTracker())
    output = tmp_path / "out"
    bundle = str(result.artifact_dir / "model")
    code, out, err = evaluate(
        ["--model", bundle, str(experiment), "--output", str(output), "--no-track"], capsys
    )
    assert code == 0, err
    metrics = json.loads((output / "metrics.json").read_text())
    assert "test_accuracy" in metrics
    assert metrics == run_test_metrics(result.metrics)
    assert f"accuracy {metrics['test_accuracy']:.3f}" in out


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["economy", "defense", "human rights", "sport"], "'sport': 2"),
        (["economy", "defense", "human rights", "economy"], "carries {'defense': 2"),
    ],
    ids=["a-label-the-model-does-not-know", "a-model-label-no-document-carries"],
)
def test_a_data_file_whose_labels_differ_is_one_line_exit_2_and_writes_nothing(
    quickstart: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    labels: list[str],
    expected: str,
) -> None:
    data = tmp_path / "other.jsonl"
    with data.open("w", encoding="utf-8") as handle:
        for i, label in enumerate(labels * 2):
            handle.write(json.dumps({"id": str(i), "text": "Rail cargo grew", "labels": [label]}))
            handle.write("\n")
    output = tmp_path / "out"
    code, out, err = evaluate(
        ["--model", quickstart["bundle"], str(data), "--output", str(output), "--no-track"], capsys
    )
    assert code == 2 and out == ""
    line = err.strip().splitlines()[-1]
    assert line.startswith("topics: error: labels differ: the model's are ") and expected in line
    assert str(LABELS) in line
    assert not output.exists()


def test_a_config_with_other_labels_is_one_line_exit_2_and_writes_nothing(
    quickstart: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "two-labels.yaml"
    tiny = write_tiny_jsonl(tmp_path / "tiny.jsonl")
    data.write_text(f"name: two\npath: {tiny}\nlabels: [economy, defense]\n")
    output = tmp_path / "out"
    code, _, err = evaluate(
        ["--model", quickstart["bundle"], str(data), "--output", str(output), "--no-track"], capsys
    )
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"topics: error: labels differ: the model's are {LABELS}, {data} has data.labels "
        "['economy', 'defense']; evaluate on data labelled with the model's labels "
        "(data.label_map maps other label values to them)"
    )
    assert not output.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["DATA.jsonl", "--part", "test"], "--part picks a part of a config's split"),
        (["DATA.yaml", "--label-field", "topic"], "--label-field reads a data file"),
        (["notes.txt"], "TMP/notes.txt: cannot tell the format from '.txt'"),
        (["missing.jsonl"], "data not found: TMP/missing.jsonl"),
        (["DATA.jsonl", "--passages", "-1"], "--passages must be >= 0 words, got -1"),
        (["DATA.jsonl", "--relative-cut", "1.5"], "--relative-cut must be in [0, 1], got 1.5"),
        (["DATA.jsonl", "--passage-support", "-2"], "--passage-support must be >= 0, got -2"),
    ],
    ids=[
        "part-with-a-data-file",
        "file-option-with-a-config",
        "unknown-suffix",
        "missing",
        "negative-passages",
        "relative-cut-above-1",
        "negative-passage-support",
    ],
)
def test_options_or_data_that_do_not_fit_are_one_line(
    quickstart: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: str,
) -> None:
    (tmp_path / "notes.txt").write_text("Rail cargo grew")
    data = args[0].replace("DATA.jsonl", str(write_tiny_jsonl(tmp_path / "tiny.jsonl")))
    data = data.replace("DATA.yaml", str(QUICKSTART))
    data = data if "DATA" in args[0] else str(tmp_path / data)
    code, _, err = evaluate(["--model", quickstart["bundle"], data, *args[1:]], capsys)
    assert code == 2
    expected = expected.replace("TMP", str(tmp_path))
    assert err.strip().startswith(f"topics: error: {expected}") and err.count("\n") == 1


@pytest.fixture
def tracked_tiny(tmp_path: Path, mlflow_store: str) -> dict[str, Any]:
    """The tiny corpus trained with tracking in a fresh store (no pyfunc model, no LDA)."""
    from topics.config import validate_config
    from topics.run.experiment import run
    from topics.tracking import MlflowTracker

    tracking = {"enabled": True, "uri": mlflow_store, "log_model": False}
    model = {"lda": {"enabled": False}}  # the TF-IDF model alone: seconds less to train
    config = validate_config(tiny_config(tmp_path, tracking=tracking, model=model))
    result = run(config, MlflowTracker(mlflow_store, log_model=False))
    return {"uri": mlflow_store, "result": result, "data": config.data.path}


def test_an_evaluation_is_an_mlflow_run_linked_to_the_models_run_not_its_child(
    tracked_tiny: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    uri, result = tracked_tiny["uri"], tracked_tiny["result"]
    model = f"runs:/{result.run_id}/model"
    output = tmp_path / "evaluation"
    code, out, err = evaluate(
        ["--model", model, tracked_tiny["data"], "--tracking-uri", uri, "--output", str(output)],
        capsys,
    )
    assert code == 0, err
    client = MlflowClient(uri)
    model_run = client.get_run(result.run_id)
    evaluations = client.search_runs(
        [model_run.info.experiment_id], f"tags.`topics.evaluated_run_id` = '{result.run_id}'"
    )
    assert len(evaluations) == 1
    evaluation = evaluations[0]
    assert evaluation.info.run_id != result.run_id and evaluation.info.status == "FINISHED"
    tags = evaluation.data.tags
    assert tags["topics.evaluated_model"] == model
    assert tags["topics.evaluation_data"] == tracked_tiny["data"]
    assert "mlflow.parentRunId" not in tags
    (dataset,) = evaluation.inputs.dataset_inputs
    assert dataset.dataset.name == "tiny" and dataset.tags[0].value == "evaluation"
    metrics = json.loads((output / "metrics.json").read_text())
    assert evaluation.data.metrics == pytest.approx(metrics)
    artifacts = {item.path for item in client.list_artifacts(evaluation.info.run_id)}
    assert {"metrics.json", "per_label.csv", "report.html", "plots"} <= artifacts
    assert f"logged as run {evaluation.info.run_id} in experiment tiny" in out


def test_a_model_whose_run_is_not_in_the_store_is_logged_under_evaluations(
    quickstart: dict[str, Any],
    tmp_path: Path,
    mlflow_store: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlflow.tracking import MlflowClient

    data = write_tiny_jsonl(tmp_path / "tiny.jsonl")
    args = ["--model", quickstart["bundle"], str(data), "--tracking-uri", mlflow_store]
    code, _, err = evaluate([*args, "--output", str(tmp_path / "out")], capsys)
    assert code == 0, err
    run_id = quickstart["result"].run_id
    assert f"the model's run {run_id} is not in {mlflow_store}" in err
    client = MlflowClient(mlflow_store)
    experiment = client.get_experiment_by_name("evaluations")
    assert experiment is not None
    (evaluation,) = client.search_runs([experiment.experiment_id])
    assert evaluation.data.tags["topics.evaluated_run_id"] == run_id


def test_the_sample_model_on_nyt_cap_through_its_data_config(
    quickstart: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOPICS_DATA_DIR", str(shared_data("nyt-cap").parent))
    data_config = REPO / "configs" / "data" / "nyt-cap.yaml"
    output = tmp_path / "out"
    code, out, err = evaluate(
        ["--model", quickstart["bundle"], str(data_config), "--output", str(output), "--no-track"],
        capsys,
    )
    assert code == 0, err
    assert "documents carry labels data.label_map maps to none of the model's" in err
    metrics = json.loads((output / "metrics.json").read_text())
    # another paper's front pages, another decade: far below the sample's own test split,
    # far above chance (the four labels cover about a third of the test years' pages)
    assert 0.15 < metrics["test_micro_f1"] < quickstart["result"].metrics["test_micro_f1"]
    assert "nyt-cap (test, " in out
