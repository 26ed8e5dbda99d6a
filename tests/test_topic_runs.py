"""The run side of the topic report: topic names as tags, topics over time."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RecordingTracker, tiny_config
from topics.config import validate_config
from topics.run.experiment import run


def test_a_run_tags_each_topic_with_its_name(tmp_path: Path) -> None:
    config = validate_config(tiny_config(tmp_path, model={"lda": {"topic_names": {0: "sport"}}}))
    tracker = RecordingTracker()
    run(config, tracker)
    names = {k: v for k, v in tracker.tags.items() if k.startswith("topics.topic.")}
    assert set(names) == {f"topics.topic.{k}.name" for k in range(3)}
    assert names["topics.topic.0.name"] == "sport"
    assert all(name for name in names.values())
