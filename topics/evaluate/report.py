"""A run's ``report.html``: one self-contained page that opens from disk.

Everything a reader needs to judge a run without MLflow: the one-line summary,
headline metrics per model, per-label precision/recall/F1 tables, every plot
(embedded as base64, so the page has no external references), the interactive topic
view of each topic model (:mod:`topics.evaluate.topic_view`, from
``plots/*_topic_view.json``) and the LDA topics as a table (read from the bundle's
``model.json``; what a reader without JavaScript sees).
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from topics.evaluate.metrics import slug
from topics.evaluate.over_time import over_time_html
from topics.evaluate.run_metrics import RunMetrics
from topics.evaluate.topic_view import SUFFIX, read_topic_view, render_topic_views

REPORT = "report.html"
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}
HEADLINE = ("micro_f1", "macro_f1", "micro_precision", "micro_recall", "subset_accuracy")
PER_LABEL = ("precision", "recall", "f1")
TOPIC_TABLE = "lda_topics.csv"  # per-topic coherence, written by topics.evaluate.topic_report
SET_DOCUMENTS = "_documents.csv"  # a data.extra_test set's documents, written by the run

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; }
.summary { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 520px; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 1px 4px; }
"""


def write_report(
    run_dir: Path,
    metrics: RunMetrics,
    labels: Sequence[str],
    title: str,
    summary: str = "",
    facts: dict[str, str] | None = None,
) -> Path:
    """Write ``run_dir/report.html`` from ``metrics``, ``run_dir/plots`` and ``run_dir/model``.

    ``facts`` are shown as a key/value table (run id, config hash, ...).
    Returns the report's path.
    """
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary">{_e(summary)}</p>' if summary else "",
        _facts_table(facts or {}),
        "<h2>Metrics (held-out test split)</h2>",
        _primary_note(metrics),
        _headline_table(metrics),
        "<h2>Per label</h2>",
        _per_label_tables(metrics, labels),
        _set_documents(run_dir / "plots"),
        "<h2>Plots</h2>",
        _plots(run_dir / "plots"),
        "<h2>Topics</h2>",
        _topic_views(run_dir / "plots"),
        _topics(run_dir / "model" / "model.json", run_dir / "plots" / TOPIC_TABLE),
        over_time_html(run_dir / "plots"),
    ]
    return _write_page(run_dir / REPORT, title, sections)


def write_evaluation_page(
    directory: Path,
    metrics: RunMetrics,
    labels: Sequence[str],
    title: str,
    summary: str = "",
    facts: dict[str, str] | None = None,
) -> Path:
    """Write ``directory/report.html`` for a trained model scored on other data
    (``topics evaluate``): the run report's facts, metrics, per-label tables and
    ``directory/plots``, without what only training has (topics, topic views)."""
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary">{_e(summary)}</p>' if summary else "",
        _facts_table(facts or {}),
        "<h2>Metrics (the evaluated data)</h2>",
        _primary_note(metrics),
        _headline_table(metrics),
        "<h2>Per label</h2>",
        _per_label_tables(metrics, labels),
        "<h2>Plots</h2>",
        _plots(directory / "plots"),
    ]
    return _write_page(directory / REPORT, title, sections)


def _write_page(path: Path, title: str, sections: list[str]) -> Path:
    """One HTML page of the non-empty ``sections``, with the report's style."""
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(section for section in sections if section)
        + "\n</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path


def _models(metrics: RunMetrics) -> list[str]:
    """The models with test metrics, the primary one (``classify``'s) marked."""
    return sorted(name for name in metrics.models if metrics.split(name, "test"))


def _shown(metrics: RunMetrics, model: str) -> str:
    return f"{model} (primary)" if model == metrics.primary else model


def _value(metrics: RunMetrics, model: str, key: str) -> float | None:
    return metrics.split(model, "test").get(key)


def _primary_note(metrics: RunMetrics) -> str:
    if metrics.primary is None:
        return ""
    return (
        f'<p class="primary">Primary model: <b>{_e(metrics.primary)}</b>, the one '
        "<code>classify</code> uses (chosen on the training split; its scores are the "
        "plain <code>test_*</code> metrics).</p>"
    )


def _facts_table(facts: dict[str, str]) -> str:
    if not facts:
        return ""
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td><code>{_e(v)}</code></td></tr>" for k, v in facts.items()
    )
    return f'<table class="facts">{rows}</table>'


def _headline_table(metrics: RunMetrics) -> str:
    models = _models(metrics)
    head = "<tr><th>model</th>" + "".join(f"<th>{_e(k)}</th>" for k in HEADLINE) + "</tr>"
    rows = [
        f"<tr><td>{_e(_shown(metrics, model))}</td>"
        + "".join(f"<td>{_fmt(_value(metrics, model, k))}</td>" for k in HEADLINE)
        + "</tr>"
        for model in models
    ]
    others = {k: v for k, v in sorted(metrics.flat().items()) if "test_" not in k}
    extra = "".join(f"<tr><td>{_e(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in others.items())
    other_table = f'<table class="other-metrics">{extra}</table>' if extra else ""
    return f'<table class="metrics">{head}{"".join(rows)}</table>{other_table}'


def _per_label_tables(metrics: RunMetrics, labels: Sequence[str]) -> str:

    models = _models(metrics)
    head = (
        "<tr><th>label</th>"
        + "".join(f"<th>{_e(_shown(metrics, m))} {_e(k)}</th>" for m in models for k in PER_LABEL)
        + "</tr>"
    )
    rows = [
        f"<tr><td>{_e(label)}</td>"
        + "".join(
            f"<td>{_fmt(_value(metrics, m, f'{k}_{slug(label)}'))}</td>"
            for m in models
            for k in PER_LABEL
        )
        + "</tr>"
        for label in labels
    ]
    return f'<table class="per-label">{head}{"".join(rows)}</table>'


def _set_documents(folder: Path) -> str:
    """Each ``data.extra_test`` set's documents (``<set>_documents.csv``): the primary
    model's labels against the gold ones, and the passage behind each false label."""
    sections = []
    for path in sorted(folder.glob(f"*{SET_DOCUMENTS}")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        body = []
        for row in rows:
            false = [name for name in row["false"].split("|") if name]
            why = "; ".join(
                f'{name}: "{row.get("passage_" + slug(name)) or "(whole text)"}"' for name in false
            )
            cells = [row["id"], row["gold"], row["predicted"], row["false"], row["missed"], why]
            body.append("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "</tr>")
        name = path.name.removesuffix(SET_DOCUMENTS)
        head = "".join(
            f"<th>{column}</th>"
            for column in ("document", "gold", "predicted", "false", "missed", "false label from")
        )
        sections.append(
            f"<h2>{_e(name)}: each document (primary model)</h2>"
            f'<table class="set-documents"><tr>{head}</tr>{"".join(body)}</table>'
        )
    return "".join(sections)


def _plots(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_TYPES)
    if not files:
        return "<p>No plots.</p>"
    figures = []
    for path in files:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        name = path.relative_to(folder).as_posix()
        figures.append(
            f'<figure><img alt="{_e(name)}" src="data:{IMAGE_TYPES[path.suffix.lower()]};'
            f'base64,{data}"><figcaption>{_e(name)}</figcaption></figure>'
        )
    return "".join(figures)


def _topic_views(folder: Path) -> str:
    """The interactive view of every topic model that saved one; a file that cannot be
    read is named, not fatal: the rest of the report still matters."""
    views, problems = [], []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            views.append(read_topic_view(path))
        except (OSError, ValueError) as exc:
            problems.append(f"<p>Topic view not shown: {_e(exc)}</p>")
    return "".join(problems) + render_topic_views(views)


def _topics(spec_path: Path, table_path: Path) -> str:
    """Each topic's top words (from the bundle) and, when the run wrote its per-topic
    table, its name and coherence."""
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return "<p>No model bundle.</p>"
    # format 2 keeps the topic model under the feature blocks; format 1 at the top
    lda = (spec.get("features") or {}).get("lda") or spec.get("lda") or {}
    top_words = lda.get("top_words") or []
    if not top_words:
        return "<p>This run trained no topic model.</p>"
    per_topic: dict[str, dict[str, str]] = {}
    if table_path.is_file():
        with table_path.open(newline="", encoding="utf-8") as handle:
            per_topic = {row["topic"]: row for row in csv.DictReader(handle)}
    columns = ["name", "c_v", "c_npmi", "u_mass"] if per_topic else []
    head = "".join(f"<th>{_e(c)}</th>" for c in ["topic", *columns, "top words"])
    rows = "".join(
        f"<tr><td>{i}</td>"
        + "".join(f"<td>{_e(per_topic.get(str(i), {}).get(c, ''))}</td>" for c in columns)
        + f"<td>{_e(', '.join(words))}</td></tr>"
        for i, words in enumerate(top_words)
    )
    return f'<table class="topics"><tr>{head}</tr>{rows}</table>'


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


__all__ = ["REPORT", "write_evaluation_page", "write_report"]
