from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_config
from topics.cli import main


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
