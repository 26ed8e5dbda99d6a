from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LABELS, tiny_config
from topics.config import validate_config
from topics.evaluate.metrics import slug
from topics.evaluate.report import write_report
from topics.evaluate.run_metrics import RunMetrics
from topics.run.build import describe_run
from topics.run.experiment import run
from topics.run.trackers import NullTracker


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(values)
        self.links += [values[k] for k in ("href", "src") if k in values and tag != "img"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("report")
    config = validate_config(tiny_config(tmp, description="three topics"))
    return config, run(config, NullTracker(), experiment_file="experiments/tiny.yaml")


def test_every_run_writes_a_self_contained_report(tiny_run: Any) -> None:
    config, result = tiny_run
    html = (result.artifact_dir / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    text = " ".join(page.text)

    # Plots are embedded PNGs, one per file in plots/, and nothing is fetched.
    plots = sorted(p.name for p in (result.artifact_dir / "plots").glob("*.png"))
    assert sorted(img["alt"] for img in page.images) == plots
    for img in page.images:
        head, data = img["src"].split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data).startswith(b"\x89PNG")
    assert page.links == []
    assert not re.search(r"(src|href)=\"(http|//)", html)

    # Headline metrics per model, per-label tables, topics and provenance.
    assert f"{result.metrics['tfidf_test_micro_f1']:.3f}" in text
    assert f"{result.metrics['lda_test_macro_f1']:.3f}" in text
    for label in LABELS:
        assert label in text
        assert f"{result.metrics[f'test_f1_{slug(label)}']:.3f}" in text
    assert text.count("topic") >= 3
    assert result.run_id in text
    assert "experiments/tiny.yaml" in text
    assert describe_run(config) in text


def test_description_says_what_the_run_tried(tmp_path: Path) -> None:
    config = validate_config(
        tiny_config(tmp_path, model={"lda": {"enabled": False}, "tfidf": {"C": 0.5}})
    )
    assert describe_run(config) == "tiny on tiny: tfidf linear_svc C=0.5 ngrams 1-1"
    described = validate_config(tiny_config(tmp_path, description="less\nregularised\n"))
    assert describe_run(described).startswith("less regularised (tiny on tiny: ")
    assert "\n" not in describe_run(described)


def test_report_without_plots_or_topics(tmp_path: Path) -> None:
    test = {"micro_f1": 0.5, "f1_human_rights": 0.25}
    metrics = RunMetrics({"tfidf": {"test": test}}, primary="tfidf")
    html = write_report(tmp_path, metrics, ["human rights"], "bare").read_text()
    assert "No plots." in html and "No model bundle." in html
    assert "0.250" in html and "<title>bare</title>" in html


def test_report_escapes_text(tmp_path: Path) -> None:
    html = write_report(tmp_path, RunMetrics(), ["<b>"], "a<script>", summary="x & y").read_text()
    assert "<script>" not in html and "&lt;b&gt;" in html and "x &amp; y" in html


def test_report_names_the_primary_model_and_keeps_label_names(tmp_path: Path) -> None:
    test = {"micro_f1": 0.5, "f1_human_rights": 0.25}
    metrics = RunMetrics({"tfidf": {"test": test}, "lda": {"test": test}}, primary="tfidf")
    html = write_report(tmp_path, metrics, ["human rights"], "named").read_text()
    assert "Primary model: <b>tfidf</b>" in html
    assert "<td>tfidf (primary)</td>" in html and "<td>lda</td>" in html
    assert "best" not in html
    assert "<td>human rights</td>" in html and "human_rights" not in html
