"""The report's topic view for a K=50 model: page weight and load time from disk.

    .venv/bin/python benchmarks/topic_view.py --data-dir DATA [--iterations 100]  # or $TOPICS_DATA_DIR
        [--plotly-wheel plotly-*.whl] [--screenshot docs/topic-view.png]
        [--out benchmarks/results/topic_view.md]

Fits a K=50 LDA on the 20 Newsgroups training split with the shipped
``experiments/20newsgroups-lda.yaml`` settings except K and the Gibbs sweeps (300 ->
``--iterations``, to keep the fit short: the view's cost depends on K and the
vocabulary, not on how converged the topics are), then writes what a run writes
for its topic model (coherence table, topic plots, ``plots/lda_topic_view.json``)
and ``report.html`` from them. The classifier on topic features is not trained,
so its plots (four PNGs in a full run) are absent: the table says what the page
holds.

Then headless Chromium opens ``report.html`` from disk five times: "view ready" is
``performance.now()`` when the term list first holds terms (the script ran and
the map is drawn: the circles are inline SVG), "load" is the navigation's
``loadEventEnd``; medians are reported. With ``--plotly-wheel`` (a plotly wheel
from ``pip download plotly``; nothing is installed), the same page is measured
with the view swapped for plotly's inlined ``plotly.min.js`` drawing the same 50
circles: the alternative the issue names.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from topics.config import DATA_ROOT_ENV, load_config  # noqa: E402
from topics.evaluate.report import write_report  # noqa: E402
from topics.evaluate.run_metrics import RunMetrics  # noqa: E402
from topics.evaluate.topic_report import report_topics  # noqa: E402
from topics.evaluate.topic_view import SUFFIX, read_topic_view, render_topic_views  # noqa: E402
from topics.families.lda.family import make_lda  # noqa: E402
from topics.run.prepare import prepare  # noqa: E402

K = 50
LOADS = 5
EXPERIMENT = REPO / "experiments" / "20newsgroups-lda.yaml"
GOAL_SECONDS = 1.0
GOAL_BYTES = 5 * 1024 * 1024
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1100",
]
# Runs before the page's own scripts: records when the view (or plotly) has drawn.
READY_PROBE = """
window.__ready = null;
new MutationObserver(function (_, observer) {
  if (document.querySelector('.tv-terms li') ||
      document.querySelectorAll('.scatterlayer .point').length >= __K__) {
    window.__ready = performance.now(); observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
""".replace("__K__", str(K))


def fit_report(data_dir: Path, iterations: int, out: Path) -> tuple[Path, dict[str, Any]]:
    overrides = [
        f"data.root={data_dir}",
        f"model.lda.num_topics={K}",
        f"model.lda.iterations={iterations}",
        "tracking.enabled=false",
    ]
    config = load_config(EXPERIMENT, overrides)
    prepared = prepare(config)
    lda = make_lda(config.model.lda, config.features.tfidf.stop_words, config.seed)
    started = time.perf_counter()
    lda.fit(prepared.train.texts)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    metrics = report_topics(lda, prepared.train, prepared.test, out, seed=config.seed)
    view_seconds = time.perf_counter() - started
    report = write_report(out, RunMetrics(run=metrics), [], f"{config.name} K={K}")
    facts = {
        "docs": len(prepared.train),
        "vocabulary": len(lda.vocabulary_),
        "fit_seconds": fit_seconds,
        "report_topics_seconds": view_seconds,
    }
    return report, facts


def plotly_page(report: Path, wheel: Path, out: Path) -> Path:
    """``report`` with the view swapped for a plotly scatter of the same circles."""
    with zipfile.ZipFile(wheel) as archive:
        plotly_js = archive.read("plotly/package_data/plotly.min.js").decode("utf-8")
    view = read_topic_view(report.parent / "plots" / f"lda{SUFFIX}")
    topics = view["topics"]
    biggest = max(t["share"] for t in topics)
    trace = {
        "type": "scatter",
        "mode": "markers+text",
        "x": [t["x"] for t in topics],
        "y": [t["y"] for t in topics],
        "text": [str(k) for k in range(len(topics))],
        "hovertext": [t["name"] for t in topics],
        "marker": {"size": [12 + 88 * (t["share"] / biggest) ** 0.5 for t in topics]},
    }
    figure = (
        f"<script>{plotly_js}</script><div id='plotly-map' style='width:420px;height:420px'>"
        f"</div><script>Plotly.newPlot('plotly-map', [{json.dumps(trace)}], "
        "{margin: {l: 20, r: 20, t: 20, b: 20}});</script>"
    )
    page = report.read_text(encoding="utf-8").replace(render_topic_views([view]), figure)
    assert figure in page, "the view fragment was not found in the report"
    path = out / "report-plotly.html"
    path.write_text(page, encoding="utf-8")
    return path


def browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": READY_PROBE})
    return driver


def time_loads(driver: Any, page: Path) -> dict[str, float]:
    """Median ms over ``LOADS`` navigations: view ready and the load event."""
    ready, loaded = [], []
    for _ in range(LOADS):
        driver.get("about:blank")
        driver.get(page.as_uri())  # returns after the load event
        deadline = time.monotonic() + 30
        while driver.execute_script("return window.__ready") is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{page.name}: the map never drew")
            time.sleep(0.05)
        ready.append(float(driver.execute_script("return window.__ready")))
        timing = driver.execute_script(
            "var n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd;"
        )
        loaded.append(float(timing))
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    if severe:
        raise RuntimeError(f"{page.name}: console errors {severe}")
    return {"ready_ms": statistics.median(ready), "load_ms": statistics.median(loaded)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get(DATA_ROOT_ENV),
        help=f"the data root, holding 20newsgroups/ (default: ${DATA_ROOT_ENV})",
    )
    parser.add_argument("--iterations", type=int, default=100, help="Gibbs sweeps (shipped: 300)")
    parser.add_argument("--plotly-wheel", type=Path, help="a plotly wheel, to compare with")
    parser.add_argument("--screenshot", type=Path, help="save the K=50 view here (PNG)")
    parser.add_argument("--screenshot-topic", type=int, default=1, help="the topic it shows")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error(f"no data root: pass --data-dir DIR or set {DATA_ROOT_ENV}=DIR")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    commit = provenance.commit()
    with tempfile.TemporaryDirectory(prefix="topic-view-bench-") as tmp:
        work = Path(tmp)
        report, facts = fit_report(args.data_dir.resolve(), args.iterations, work / "run")
        view = read_topic_view(report.parent / "plots" / f"lda{SUFFIX}")
        fragment = len(render_topic_views([view]).encode("utf-8"))
        pool = [len(t["terms"]) for t in view["topics"]]
        pages = {"own SVG/JS view (shipped)": report}
        if args.plotly_wheel:
            pages["plotly.min.js inlined, same circles"] = plotly_page(
                report, args.plotly_wheel, work
            )
        driver = browser(work / "profile")
        try:
            timings = {name: time_loads(driver, page) for name, page in pages.items()}
            if args.screenshot:
                driver.get(report.as_uri())
                section = driver.find_element("css selector", ".topic-view")
                driver.execute_script("arguments[0].scrollIntoView()", section)
                from selenium.webdriver.support.select import Select

                choice = Select(driver.find_element("css selector", ".tv-select"))
                choice.select_by_value(str(args.screenshot_topic))
                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(args.screenshot))
        finally:
            driver.quit()
        sizes = {name: page.stat().st_size for name, page in pages.items()}
    lines = [
        f"# Topic view: K={K} LDA on 20 Newsgroups train, page weight and load time",
        "",
        f"- date: {started} (UTC), commit {commit}; 2 cores shared with other jobs",
        f"- model: `{EXPERIMENT.relative_to(REPO)}` settings, K={K}, {args.iterations} Gibbs "
        f"sweeps (shipped: 300; shorter to keep the fit short), {facts['docs']:,} docs, "
        f"{facts['vocabulary']:,} words; fit {facts['fit_seconds']:.0f} s, topic report "
        f"(coherence, plots, view data) {facts['report_topics_seconds']:.0f} s",
        f"- the view's fragment (SVG, data, CSS, JS): {fragment / 1024:.1f} KB; terms shipped "
        f"per topic (the exact relevance pool for top 30): median {statistics.median(pool):.0f}, "
        f"max {max(pool)}",
        f"- medians of {LOADS} loads from disk (file://) in headless Chromium",
        "",
        "| page | report.html | view ready (ms) | load event (ms) | goal: <= 1 s, <= 5 MB |",
        "|---|---|---|---|---|",
    ]
    for name in pages:
        ok = timings[name]["ready_ms"] <= GOAL_SECONDS * 1000 and sizes[name] <= GOAL_BYTES
        lines.append(
            f"| {name} | {sizes[name] / 1024 / 1024:.2f} MB | {timings[name]['ready_ms']:.0f} | "
            f"{timings[name]['load_ms']:.0f} | {'yes' if ok else 'no'} |"
        )
    lines += [
        "",
        "The report also holds the topic plots (PNG, base64); a full run adds the topic-feature "
        "classifier's plots and the model table.",
        "",
        f"Command: `.venv/bin/python benchmarks/topic_view.py --data-dir DATA --iterations "
        f"{args.iterations}{' --plotly-wheel plotly-*.whl' if args.plotly_wheel else ''}`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
