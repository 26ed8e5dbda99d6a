"""The drift report as files: ``drift.json`` and ``drift.html``, one self-contained
page (inline SVG bars, no script, no external reference) that opens from disk.

Every text on the page (labels, file names) is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from topics.evaluate.drift import MEASURE_TITLES, SMALL_BATCH, DriftReport, Measure

JSON_FILE = "drift.json"
HTML_FILE = "drift.html"
BAR_WIDTH = 320  # px for a share of 1.0
ROW_HEIGHT = 18
MAX_LABEL_CHARS = 40  # longer category names are cut, whole in their tooltip

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 900px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } .summary { color: #555; margin-top: 0; }
section { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 1em; margin: 1em 0; }
section.flagged { border: 2px solid #c0392b; background: #fdf2f0; }
.status { font-weight: bold; } .flagged .status { color: #c0392b; } .ok .status { color: #27794a; }
.note { color: #555; font-size: 0.9em; } .warn { color: #9a6700; }
.key span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: left; }
"""
TRAINING_COLOUR = "#8da0cb"
BATCH_COLOUR = "#fc8d62"


def write_drift_report(report: DriftReport, directory: str | Path) -> tuple[Path, Path]:
    """Write ``drift.json`` and ``drift.html`` into ``directory`` (made if missing),
    each atomically; returns their paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    json_path = _write(folder / JSON_FILE, json.dumps(report.to_json(), indent=2) + "\n")
    html_path = _write(folder / HTML_FILE, drift_html(report))
    return json_path, html_path


def _write(path: Path, text: str) -> Path:
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)
    return path


def drift_html(report: DriftReport) -> str:
    """The page: a summary line, then one section per measure, flagged ones highlighted."""
    esc = html.escape
    flagged = report.flagged
    verdict = (
        f"{len(flagged)} of {len(report.measures)} measures moved beyond their threshold: "
        + ", ".join(MEASURE_TITLES[name] for name in flagged)
        if flagged
        else "nothing moved beyond its threshold"
    )
    training, batch = report.training, report.batch
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Drift report: {esc(batch.source or 'batch')}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Drift report</h1>",
        f"<p class='summary'>{esc(verdict)}.</p>",
        "<table>",
        f"<tr><th>model</th><td>{esc(training.model)}</td></tr>",
        f"<tr><th>training side</th><td>{training.n_documents} documents "
        f"({esc(training.source)})</td></tr>",
        f"<tr><th>batch</th><td>{batch.n_documents} documents ({esc(batch.source)})</td></tr>",
        "</table>",
    ]
    if batch.n_documents < SMALL_BATCH:
        parts.append(
            f"<p class='warn'>A batch of fewer than {SMALL_BATCH} documents: the measures "
            "are noisy, read them with care.</p>"
        )
    parts.append(
        f"<p class='key'><span style='background:{TRAINING_COLOUR}'></span>training"
        f"<span style='background:{BATCH_COLOUR}'></span>batch</p>"
    )
    parts += [_section(measure) for measure in report.measures]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _section(measure: Measure) -> str:
    esc = html.escape
    title = esc(MEASURE_TITLES[measure.name])
    if measure.value is None:
        return (
            f"<section id='{measure.name}' class='na'><h2>{title}</h2>"
            f"<p class='status'>not measured: {esc(measure.note)}</p></section>"
        )
    state = "flagged" if measure.flagged else "ok"
    status = "moved beyond the threshold" if measure.flagged else "within the threshold"
    return (
        f"<section id='{measure.name}' class='{state}'><h2>{title}</h2>"
        f"<p><span class='status'>{status}</span>: {esc(measure.statistic)} "
        f"{measure.value:.3f} (threshold {measure.threshold:g}{_noise(measure)})</p>"
        f"<p class='note'>{esc(measure.note)}</p>"
        f"{_bars(measure)}</section>"
    )


def _noise(measure: Measure) -> str:
    if measure.noise is None:
        return ""
    return f"; sampling alone gives about {measure.noise:.3f} at these sizes"


def _bars(measure: Measure) -> str:
    """Training and batch side by side, one pair of bars per category, as inline SVG."""
    longest = max((len(c) for c in measure.categories), default=0)
    label_width = min(MAX_LABEL_CHARS, max(longest, 8)) * 7 + 12  # ~7 px a character
    top = max([*measure.training, *measure.batch, 1e-12])
    scale = BAR_WIDTH / top
    height = ROW_HEIGHT * 2 * len(measure.categories) + 6
    width = label_width + BAR_WIDTH + 70
    rows = []
    for i, category in enumerate(measure.categories):
        y = i * ROW_HEIGHT * 2 + 3
        shown = (
            category if len(category) <= MAX_LABEL_CHARS else category[: MAX_LABEL_CHARS - 1] + "…"
        )
        rows.append(
            f"<text x='{label_width - 6}' y='{y + ROW_HEIGHT - 4}' text-anchor='end' "
            f"font-size='12'><title>{html.escape(category)}</title>{html.escape(shown)}</text>"
        )
        for j, (value, colour) in enumerate(
            ((measure.training[i], TRAINING_COLOUR), (measure.batch[i], BATCH_COLOUR))
        ):
            bar_y = y + j * (ROW_HEIGHT - 2)
            length = max(value * scale, 0.0)
            rows.append(
                f"<rect x='{label_width}' y='{bar_y}' width='{length:.1f}' "
                f"height='{ROW_HEIGHT - 4}' fill='{colour}'><title>{value:.1%}</title></rect>"
                f"<text x='{label_width + length + 4:.1f}' y='{bar_y + ROW_HEIGHT - 6}' "
                f"font-size='11'>{value:.1%}</text>"
            )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{html.escape(MEASURE_TITLES[measure.name])}'>"
        + "".join(rows)
        + "</svg>"
    )
