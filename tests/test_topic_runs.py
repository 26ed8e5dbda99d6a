"""The run side of the topic report: topic names as tags, topics over time."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest

from tests.conftest import TINY_ARTICLES, RecordingTracker, tiny_config
from topics.config import validate_config
from topics.run.experiment import run


def test_a_run_tags_each_topic_with_its_name(tmp_path: Path) -> None:
    lda_only = {"tfidf": {"enabled": False}, "lda": {"topic_names": {0: "sport"}}}
    config = validate_config(tiny_config(tmp_path, model=lda_only))
    tracker = RecordingTracker()
    run(config, tracker)
    names = {k: v for k, v in tracker.tags.items() if k.startswith("topics.topic.")}
    assert set(names) == {f"topics.topic.{k}.name" for k in range(3)}
    assert names["topics.topic.0.name"] == "sport"
    assert all(name for name in names.values())


def dated_config(tmp_path: Path, dates: list[object]) -> dict:
    """The tiny corpus with ``dates[i % len(dates)]`` in each record's ``published``."""
    config = tiny_config(
        tmp_path, data={"date_field": "published"}, model={"tfidf": {"enabled": False}}
    )
    path = Path(config["data"]["path"])
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8") as handle:
        for i, record in enumerate(records):
            value = dates[i % len(dates)]
            if value is not None:
                record["published"] = value
            handle.write(json.dumps(record) + "\n")
    return config


def test_a_dated_run_writes_topic_and_label_prevalence_per_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dates = ["2001-03-04", 2002, "2003", "2003-11", None, "not a date"]
    config = validate_config(dated_config(tmp_path, dates))
    with caplog.at_level(logging.WARNING):
        result = run(config, RecordingTracker())
    plots = result.artifact_dir / "plots"
    with (plots / "topics_over_time.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["period"] for row in rows] == ["2001", "2002", "2003"]
    n_docs = len(TINY_ARTICLES) * 3
    assert sum(int(row["documents"]) for row in rows) == n_docs - n_docs // 3  # 2 of 6 undated
    for row in rows:  # each period's prevalence is a distribution over the topics
        shares = [float(v) for k, v in row.items() if k not in ("period", "documents")]
        assert len(shares) == 3 and sum(shares) == pytest.approx(1.0, abs=1e-5)
    with (plots / "labels_over_time.csv").open(encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    assert {row["source"] for row in labels} == {"true (train and test)", "predicted (test split)"}
    assert (plots / "topics_over_time.png").stat().st_size > 10_000
    assert (plots / "topics_rise_fall.csv").read_text(encoding="utf-8").startswith("direction,")
    assert "no usable date in data.date_field 'published'" in caplog.text
    assert caplog.text.count("no usable date") == 1
    report = (result.artifact_dir / "report.html").read_text(encoding="utf-8")
    assert "Topics over time" in report and "left out" in report
