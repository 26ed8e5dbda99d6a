"""The MLflow UI as a person uses it: two runs compared in headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
screenshots land in ``tests/artifacts/`` and their paths are printed.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, tiny_config
from tests.servers import mlflow_server, require
from topics.config import validate_config
from topics.run.experiment import run
from topics.run.trials import run_name
from topics.tracking import MlflowTracker

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = REPO / "tests" / "artifacts"
# Headless, as root, and quiet on a closed network (see the machine notes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1100",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    require("Chromium", Path(CHROMIUM).exists(), "apt-get install -y chromium")
    require("ChromeDriver", Path(CHROMEDRIVER).exists(), "apt-get install -y chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(driver: Any, what: str, check: Callable[[], bool], seconds: float = 90) -> None:
    """Poll until ``check()`` holds: the UI is a React app that renders after load.

    On a timeout the page is saved as a screenshot and its text is shown.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    shot = screenshot(driver, "timeout-" + what.replace(" ", "-"))
    text = driver.find_element("tag name", "body").text[:1500]
    raise AssertionError(
        f"timed out after {seconds:.0f}s waiting for {what} at {driver.current_url}; "
        f"screenshot {shot}; page text:\n{text}"
    )


def screenshot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def _close_assistant(driver: Any) -> None:
    """Fold MLflow's assistant side panel away, if this version shows one."""
    for button in driver.find_elements("css selector", "button"):
        label = " ".join(
            str(button.get_attribute(a) or "") for a in ("aria-label", "data-component-id")
        ).lower()
        if "assistant" in label and "close" in label and button.is_displayed():
            button.click()
            return


def test_compare_two_runs_in_the_mlflow_ui(browser: Any, tmp_path: Path, capsys: Any) -> None:
    with mlflow_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path) as uri:
        runs = {}
        # One experiment, two values of C: the run names (as `topics run --set` gives
        # them) must tell the runs apart in the runs list and the compare view.
        for c_value in (0.05, 1.0):
            config = validate_config(
                tiny_config(
                    tmp_path,
                    model={"tfidf": {"C": c_value}},
                    tracking={"enabled": True, "uri": uri, "experiment_name": "ui-compare"},
                )
            )
            name = run_name(config.name, {"model.tfidf.C": c_value})
            runs[name] = run(config, MlflowTracker(uri, log_model=False), run_name=name)
        assert list(runs) == ["tiny C=0.05", "tiny C=1.0"]
        from mlflow.tracking import MlflowClient

        experiment_id = MlflowClient(uri).get_experiment_by_name("ui-compare").experiment_id

        # The experiment page lists both runs.
        # MLflow 3 opens on its GenAI view; "Model training" (workflowType) shows runs.
        browser.get(f"{uri}/#/experiments/{experiment_id}/runs?workflowType=machine_learning")
        body = lambda: browser.find_element("tag name", "body").text  # noqa: E731
        wait_until(
            browser, "both runs on the experiment page", lambda: all(n in body() for n in runs)
        )
        screenshot(browser, "experiment-page")

        # The compare view shows both runs, a metric and the param that differs.
        ids = json.dumps([r.run_id for r in runs.values()])
        query = urllib.parse.urlencode({"runs": ids, "experiments": json.dumps([experiment_id])})
        browser.get(f"{uri}/#/compare-runs?{query}")
        wait_until(
            browser,
            "the compare view",
            lambda: (
                all(r.run_id in body() for r in runs.values())
                and "lda_coherence_c_v" in body()  # a metric (the table is virtualised)
                and "model.tfidf.C" in body()
            ),
        )
        text = body()
        assert all(name in text for name in runs)  # the column heads: distinct run names
        assert "0.05" in text and "1.0" in text
        _close_assistant(browser)
        # Parameters: "Show diff only", as a person comparing runs would; C stays.
        browser.find_elements("css selector", "[role=switch]")[0].click()
        wait_until(
            browser,
            "the diff-only params",
            lambda: "data.encoding" not in body() and "model.tfidf.C" in body(),
            30,
        )
        browser.set_window_size(1600, 1700)  # the whole comparison in one picture
        title = browser.find_element("xpath", "//*[starts-with(normalize-space(), 'Comparing')]")
        browser.execute_script("arguments[0].scrollIntoView()", title)
        shot = screenshot(browser, "compare-runs")
        assert shot.stat().st_size > 10_000

    # The run report opens from disk with every plot loaded.
    report = runs["tiny C=1.0"].artifact_dir / "report.html"
    browser.get(report.as_uri())
    images = "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
    wait_until(browser, "the report's plots", lambda: bool(browser.execute_script(images)), 30)
    loaded = browser.execute_script(images)
    assert len(loaded) == len(list((report.parent / "plots").glob("*.png"))) >= 2
    assert all(loaded)
    screenshot(browser, "report")
    with capsys.disabled():  # the screenshot paths belong in the test log, pass or fail
        print(f"\n[browser] screenshots in {SCREENSHOTS}: experiment-page, compare-runs, report")
    shutil.copy(report, SCREENSHOTS / "report.html")
