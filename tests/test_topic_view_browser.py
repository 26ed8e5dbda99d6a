"""The report's topic view as a reader uses it: opened from disk in headless Chromium.

Reuses the Chromium set-up of :mod:`tests.test_browser`; the screenshot lands in
``tests/artifacts/topic-view.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import RecordingTracker, tiny_config
from tests.test_browser import browser, screenshot, wait_until  # noqa: F401 (fixture)
from topics.config import validate_config
from topics.evaluate.topic_view import (
    SUFFIX,
    read_topic_view,
    render_topic_views,
    topic_view_data,
)
from topics.run.experiment import run

pytestmark = pytest.mark.browser


def page_ranking(data: dict[str, Any], topic: int, lam: float) -> list[str]:
    """The terms the page should list for ``topic`` at ``lam``, from the shipped data."""
    shipped = data["topics"][topic]
    rows = [
        (lam * lp + (1 - lam) * (lp - data["log_term_share"][i]), data["terms"][i])
        for i, lp in zip(shipped["terms"], shipped["log_probs"], strict=True)
    ]
    rows.sort(key=lambda row: -row[0])  # stable, as the page's sort
    return [term for _, term in rows[: data["top_n"]]]


def shown_terms(driver: Any) -> list[str]:
    items = driver.find_elements("css selector", ".topic-view .tv-terms li")
    return [item.get_attribute("data-term") for item in items]


def severe_console_entries(driver: Any) -> list[Any]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_topic_view_draws_the_map_and_follows_clicks_and_the_slider(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.select import Select

    result = run(validate_config(tiny_config(tmp_path)), RecordingTracker())
    data = read_topic_view(result.artifact_dir / "plots" / f"lda{SUFFIX}")
    names = [topic["name"] for topic in data["topics"]]
    browser.get((result.artifact_dir / "report.html").as_uri())
    wait_until(browser, "the topic view's terms", lambda: bool(shown_terms(browser)), 30)

    # The map: one circle per topic; the first topic is shown at the default lambda.
    assert len(browser.find_elements("css selector", ".topic-view svg.tv-map circle")) == 3
    heading = browser.find_element("css selector", ".topic-view .tv-heading")
    assert heading.text == names[0] and shown_terms(browser) == page_ranking(data, 0, 0.6)

    # Clicking topic 2 shows its name, size, terms and documents.
    view = browser.find_element("css selector", ".topic-view")
    browser.execute_script("arguments[0].scrollIntoView()", view)
    browser.find_element("css selector", '.tv-topic[data-topic="2"]').click()
    assert heading.text == names[2]
    assert shown_terms(browser) == page_ranking(data, 2, 0.6) != page_ranking(data, 0, 0.6)
    size = browser.find_element("css selector", ".topic-view .tv-size").text
    assert size == f"{data['topics'][2]['share'] * 100:.1f}% of the corpus"
    documents = browser.find_elements("css selector", ".topic-view .tv-docs li")
    assert len(documents) == 3
    assert documents[0].text.startswith(data["topics"][2]["documents"][0]["text"][:40])
    selected = browser.find_elements("css selector", ".tv-topic.tv-selected")
    assert [g.get_attribute("data-topic") for g in selected] == ["2"]

    # Moving the slider to lambda = 0 (pure lift) reorders topic 2's terms.
    before = shown_terms(browser)
    browser.find_element("css selector", ".topic-view .tv-lambda-input").send_keys(Keys.HOME)
    assert browser.find_element("css selector", ".tv-lambda-value").text == "0.00"
    assert shown_terms(browser) == page_ranking(data, 2, 0.0) != before

    # The keyboard reaches a topic too: focus topic 1, press Enter ...
    browser.find_element("css selector", '.tv-topic[data-topic="1"]').send_keys(Keys.ENTER)
    assert heading.text == names[1]
    # ... and so does the topic list, for a circle drawn under smaller ones.
    Select(browser.find_element("css selector", ".tv-select")).select_by_value("0")
    assert heading.text == names[0] and shown_terms(browser) == page_ranking(data, 0, 0.0)

    assert severe_console_entries(browser) == []
    assert screenshot(browser, "topic-view").stat().st_size > 10_000


def test_hostile_document_text_stays_text_in_the_browser(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    hostile = '</script><script>document.title="pwned"</script><img src=x onerror=alert(1)>'
    rng = np.random.default_rng(0)
    data = topic_view_data(
        rng.dirichlet(np.ones(40), size=2),
        [f"term{i}" for i in range(40)],
        np.ones(40),
        [1, 1],
        names=[hostile, "plain"],
        documents=[[(hostile, 0.9)], [("plain", 0.8)]],
    )
    page = tmp_path / "view.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>safe</title></head><body>"
        + render_topic_views([data])
        + "</body></html>",
        encoding="utf-8",
    )
    browser.get(page.as_uri())
    wait_until(browser, "the topic view's terms", lambda: bool(shown_terms(browser)), 30)
    assert browser.title == "safe"
    assert browser.find_elements("css selector", "img") == []
    assert browser.find_element("css selector", ".tv-heading").text == hostile
    assert browser.find_element("css selector", ".tv-docs li").text.startswith(hostile)
    assert severe_console_entries(browser) == []
