"""Topics over time: topic and label prevalence per period, and what rose or fell.

Documents carry a date in one record field (``data.date_field``): an ISO date
(``2004-05-17``, with or without a time), a year-month (``2004-05``) or a year
(``2004``, as text or a number). Each is put in a period (``year``, ``quarter`` or
``month``); documents without a usable date are counted and left out.

- **Topic prevalence** of a period is the mean of its documents' topic proportions
  (theta), so each period's row sums to 1.
- **Label prevalence** of a period is the share of its documents that carry each
  label (true labels, or a model's predictions: the ``source`` column says which).
- **What rose, what fell** compares the last third of the periods (at least the
  last one) with the earlier ones: the 3 topics whose prevalence rose most and the
  3 that fell most, in percentage points.

Totals are sums, so partitions of an archive add up (:meth:`PeriodTotals.merge`)
before the shares are taken. Files written by :func:`write_over_time`:
``topics_over_time.csv``, ``labels_over_time.csv``, ``topics_rise_fall.csv``,
``topics_over_time.png`` and ``over_time.json`` (what the report reads).

>>> periods = [period_of(v, "year") for v in ("2004-05-17", 2005, "n/a")]
>>> periods
['2004', '2005', None]
>>> totals = PeriodTotals.accumulate(periods, np.array([[0.2, 0.8], [1.0, 0.0], [0.5, 0.5]]))
>>> totals.shares().tolist(), totals.missing
([[0.2, 0.8], [1.0, 0.0]], 1)
"""

from __future__ import annotations

import csv
import datetime
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PERIODS = ("year", "quarter", "month")
TOPICS_CSV = "topics_over_time.csv"
LABELS_CSV = "labels_over_time.csv"
RISE_FALL_CSV = "topics_rise_fall.csv"
PLOT = "topics_over_time.png"
SUMMARY = "over_time.json"
TOP_MOVERS = 3
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ].*)?$")


def period_of(value: Any, period: str = "year") -> str | None:
    """The period (``"2004"``, ``"2004-Q2"``, ``"2004-05"``) of a date value, or None
    when it is missing or not a year, a year-month or an ISO date (a year alone has
    no quarter or month)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if not (math.isfinite(value) and float(value).is_integer() and 1000 <= value <= 9999):
            return None
        year, month = int(value), None
    else:
        match = _DATE.match(str(value).strip())
        if not match:
            return None
        year = int(match.group(1))
        month = int(match.group(2)) if match.group(2) else None
        day = int(match.group(3)) if match.group(3) else None
        try:
            datetime.date(year, month or 1, day or 1)
        except ValueError:  # month 13, February 30
            return None
    if period == "year":
        return f"{year:04d}"
    if month is None:
        return None
    if period == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}-{month:02d}"


@dataclass
class PeriodTotals:
    """Per period: how many documents, the sum of their topic proportions and how
    many carry each label; plus how many documents had no usable date."""

    documents: dict[str, int] = field(default_factory=dict)
    topics: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    missing: int = 0

    @classmethod
    def accumulate(
        cls,
        periods: Sequence[str | None],
        theta: np.ndarray | None = None,
        y: np.ndarray | None = None,
    ) -> PeriodTotals:
        """Totals of documents whose period is ``periods[i]`` (None: no usable date),
        with topic proportions ``theta`` ``(n, K)`` and/or 0/1 labels ``y`` ``(n, L)``."""
        totals = cls(missing=sum(p is None for p in periods))
        index: dict[str, list[int]] = {}
        for i, p in enumerate(periods):
            if p is not None:
                index.setdefault(p, []).append(i)
        for p in sorted(index):
            rows = np.asarray(index[p])
            totals.documents[p] = len(rows)
            if theta is not None:
                totals.topics[p] = np.asarray(theta, dtype=np.float64)[rows].sum(axis=0)
            if y is not None:
                totals.labels[p] = np.asarray(y, dtype=np.int64)[rows].sum(axis=0)
        return totals

    def merge(self, other: PeriodTotals) -> PeriodTotals:
        """The totals of both sets of documents."""
        merged = PeriodTotals(dict(self.documents), dict(self.topics), dict(self.labels))
        merged.missing = self.missing + other.missing
        for p, n in other.documents.items():
            merged.documents[p] = merged.documents.get(p, 0) + n
        for mine, theirs in ((merged.topics, other.topics), (merged.labels, other.labels)):
            for p, values in theirs.items():
                mine[p] = mine[p] + values if p in mine else np.array(values)
        return merged

    @property
    def periods(self) -> list[str]:
        return sorted(self.documents)

    def shares(self) -> np.ndarray:
        """Topic prevalence ``(periods, K)``: mean topic proportions per period."""
        return np.vstack([self.topics[p] / self.documents[p] for p in self.periods])

    def label_shares(self) -> np.ndarray:
        """``(periods, L)``: the share of each period's documents carrying each label."""
        return np.vstack([self.labels[p] / self.documents[p] for p in self.periods])

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "topics": {p: v.tolist() for p, v in self.topics.items()},
            "labels": {p: v.tolist() for p, v in self.labels.items()},
            "missing": self.missing,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PeriodTotals:
        return cls(
            documents={str(p): int(n) for p, n in data["documents"].items()},
            topics={str(p): np.asarray(v, dtype=np.float64) for p, v in data["topics"].items()},
            labels={str(p): np.asarray(v, dtype=np.int64) for p, v in data["labels"].items()},
            missing=int(data["missing"]),
        )


@dataclass(frozen=True)
class Mover:
    """A topic whose prevalence moved between the earlier and the recent periods."""

    direction: str  # "rose" or "fell"
    topic: int
    name: str
    earlier: float
    recent: float

    @property
    def change_points(self) -> float:
        return 100.0 * (self.recent - self.earlier)


def split_recent(periods: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(earlier, recent)``: the last third of ``periods`` (at least the last) and the rest."""
    cut = len(periods) - max(1, len(periods) // 3)
    return list(periods[:cut]), list(periods[cut:])


def rise_and_fall(
    totals: PeriodTotals, topic_names: Sequence[str], top: int = TOP_MOVERS
) -> list[Mover]:
    """The ``top`` topics that rose most and the ``top`` that fell most, from the
    earlier periods to the last third of them (at least the last one); empty with
    fewer than two periods. Prevalences are document-weighted over each span."""
    periods = totals.periods
    if len(periods) < 2:
        return []
    earlier, recent = split_recent(periods)

    def prevalence(span: list[str]) -> np.ndarray:
        summed = np.sum([totals.topics[p] for p in span], axis=0)
        return np.asarray(summed / sum(totals.documents[p] for p in span))

    before, after = prevalence(earlier), prevalence(recent)
    change = after - before
    order = np.argsort(-change, kind="stable")
    movers = [
        Mover("rose", int(k), topic_names[k], float(before[k]), float(after[k]))
        for k in order[:top]
        if change[k] > 0
    ]
    movers += [
        Mover("fell", int(k), topic_names[k], float(before[k]), float(after[k]))
        for k in order[::-1][:top]
        if change[k] < 0
    ]
    return movers


def write_over_time(
    folder: Path,
    topics: PeriodTotals | None,
    topic_names: Sequence[str],
    labels: Mapping[str, PeriodTotals],
    label_names: Sequence[str],
    *,
    date_field: str,
    period: str,
) -> list[Path]:
    """Write the over-time files into ``folder``; returns their paths.

    Parameters
    ----------
    topics
        Totals with topic proportions (None: no topic model, no topic files).
    labels
        Totals with labels by source, e.g. ``{"true": ..., "predicted (test split)": ...}``.
    date_field, period
        Where the dates came from and the period, recorded in ``over_time.json``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    summary: dict[str, Any] = {"date_field": date_field, "period": period}
    if topics is not None and topics.documents:
        written.append(_write_topics_csv(folder / TOPICS_CSV, topics, topic_names))
        movers = rise_and_fall(topics, topic_names)
        written.append(_write_movers(folder / RISE_FALL_CSV, movers))
        from topics.evaluate.plots import plot_topics_over_time

        written.append(
            plot_topics_over_time(
                topics.periods, topics.shares(), topic_names, folder / PLOT, period=period
            )
        )
        summary["topics"] = {
            "documents": sum(topics.documents.values()),
            "missing": topics.missing,
            "periods": topics.periods,
        }
        earlier, recent = split_recent(topics.periods)
        summary["compared"] = [_span(earlier), _span(recent)]
        summary["rise_fall"] = [
            {
                "direction": m.direction,
                "topic": m.topic,
                "name": m.name,
                "change_points": m.change_points,
            }
            for m in movers
        ]
    if any(t.documents for t in labels.values()):
        written.append(_write_labels_csv(folder / LABELS_CSV, labels, label_names))
        summary["labels"] = {
            source: {"documents": sum(t.documents.values()), "missing": t.missing}
            for source, t in labels.items()
        }
    path = folder / SUMMARY
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return [*written, path]


def _span(periods: Sequence[str]) -> str:
    if not periods:
        return ""
    return periods[0] if len(periods) == 1 else f"{periods[0]}-{periods[-1]}"


def _write_topics_csv(path: Path, totals: PeriodTotals, names: Sequence[str]) -> Path:
    """``period,documents,<topic name>...``: each row sums to 1."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["period", "documents", *names])
        for p, row in zip(totals.periods, totals.shares(), strict=True):
            writer.writerow([p, totals.documents[p], *(f"{v:.6f}" for v in row)])
    return path


def _write_labels_csv(path: Path, labels: Mapping[str, PeriodTotals], names: Sequence[str]) -> Path:
    """``period,source,documents,<label>...``: the share of documents with each label."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["period", "source", "documents", *names])
        for source, totals in labels.items():
            if not totals.documents:
                continue
            for p, row in zip(totals.periods, totals.label_shares(), strict=True):
                writer.writerow([p, source, totals.documents[p], *(f"{v:.6f}" for v in row)])
    return path


def _write_movers(path: Path, movers: Sequence[Mover]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["direction", "topic", "name", "earlier", "recent", "change_points"])
        for m in movers:
            writer.writerow(
                [
                    m.direction,
                    m.topic,
                    m.name,
                    f"{m.earlier:.6f}",
                    f"{m.recent:.6f}",
                    f"{m.change_points:+.2f}",
                ]
            )
    return path


def over_time_html(folder: Path) -> str:
    """The report's "Topics over time" section from the files in ``folder``, or ""
    when the run wrote none (the plot itself is among the report's plots)."""
    path = folder / SUMMARY
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    e = html.escape
    parts = ["<h2>Topics over time</h2>"]
    topics = summary.get("topics")
    if topics:
        parts.append(
            f"<p>Dates from <code>{e(str(summary.get('date_field')))}</code>, by "
            f"{e(str(summary.get('period')))}: {topics['documents']} documents in "
            f"{len(topics['periods'])} periods ({e(topics['periods'][0])} to "
            f"{e(topics['periods'][-1])}); {topics['missing']} without a usable date "
            f"left out. Prevalence per period: <code>{TOPICS_CSV}</code>, "
            f"<code>{PLOT}</code>.</p>"
        )
        rows = "".join(
            f"<tr><td>{e(m['direction'])}</td><td>{m['topic']}</td><td>{e(m['name'])}</td>"
            f"<td>{m['change_points']:+.1f}</td></tr>"
            for m in summary.get("rise_fall", [])
        )
        if rows:
            earlier, recent = summary.get("compared") or ["the earlier periods", "the last third"]
            parts.append(
                f"<p>What rose, what fell: {e(recent)} against {e(earlier)}, topic "
                "prevalence in percentage points.</p><table class='rise-fall'><tr><th>moved</th>"
                f"<th>topic</th><th>name</th><th>change</th></tr>{rows}</table>"
            )
    labels = summary.get("labels")
    if labels:
        sources = "; ".join(
            f"{e(source)}: {n['documents']} documents" for source, n in labels.items()
        )
        parts.append(f"<p>Label prevalence per period (<code>{LABELS_CSV}</code>): {sources}.</p>")
    return "\n".join(parts)
