"""Topics over time: periods from dates, prevalence per period, what rose and fell."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from topics.evaluate.over_time import (
    PeriodTotals,
    over_time_html,
    period_of,
    rise_and_fall,
    write_over_time,
)


@pytest.mark.parametrize(
    ("value", "period", "expected"),
    [
        (2004, "year", "2004"),
        ("2004", "year", "2004"),
        (2004.0, "year", "2004"),
        ("2004-05-17", "year", "2004"),
        ("2004-05-17T08:30:00Z", "month", "2004-05"),
        ("2004-05", "quarter", "2004-Q2"),
        ("2004-12-31 23:59", "quarter", "2004-Q4"),
        ("2004", "month", None),  # a year has no month
        ("2004-13", "year", None),
        ("2004-02-30", "year", None),
        ("May 2004", "year", None),
        ("", "year", None),
        (None, "year", None),
        (True, "year", None),
        (float("nan"), "year", None),
        (12, "year", None),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_period_of_reads_years_year_months_and_iso_dates(
    value: object, period: str, expected: str | None
) -> None:
    assert period_of(value, period) == expected


def test_topic_prevalence_per_period_sums_to_one() -> None:
    rng = np.random.default_rng(0)
    theta = rng.dirichlet(np.full(6, 0.3), size=500)
    periods = [str(1996 + i % 11) if i % 17 else None for i in range(500)]
    totals = PeriodTotals.accumulate(periods, theta)
    shares = totals.shares()
    assert shares.shape == (11, 6)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-12)
    first = [i for i, p in enumerate(periods) if p == "1996"]
    np.testing.assert_allclose(shares[0], theta[first].mean(axis=0))
    assert totals.missing == sum(p is None for p in periods)


def test_partition_totals_merge_to_the_totals_of_the_whole() -> None:
    rng = np.random.default_rng(1)
    theta = rng.dirichlet(np.ones(4), size=90)
    y = rng.integers(0, 2, size=(90, 3))
    periods = [["2001", "2002", None][i % 3] for i in range(90)]
    whole = PeriodTotals.accumulate(periods, theta, y)
    parts = [
        PeriodTotals.accumulate(periods[a:b], theta[a:b], y[a:b]) for a, b in ((0, 40), (40, 90))
    ]
    merged = PeriodTotals.from_json(parts[0].to_json()).merge(
        PeriodTotals.from_json(parts[1].to_json())
    )
    np.testing.assert_allclose(merged.shares(), whole.shares())
    np.testing.assert_array_equal(merged.label_shares(), whole.label_shares())
    assert merged.missing == whole.missing == 30


def test_rise_and_fall_compares_the_last_third_with_the_earlier_periods() -> None:
    # topic 0 grows, topic 2 shrinks, over 6 years; the last two are "recent"
    rows = [[0.1, 0.5, 0.4], [0.1, 0.5, 0.4], [0.1, 0.5, 0.4], [0.1, 0.5, 0.4],
            [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]  # fmt: skip
    periods = [str(2000 + i) for i in range(6)]
    totals = PeriodTotals.accumulate(periods, np.array(rows))
    movers = rise_and_fall(totals, ["gas", "rail", "army"])
    assert [(m.direction, m.name, round(m.change_points, 6)) for m in movers] == [
        ("rose", "gas", 40.0),
        ("fell", "army", -40.0),
    ]
    assert rise_and_fall(PeriodTotals.accumulate(["2000"], np.array([rows[0]])), ["a"] * 3) == []


def test_over_time_files_and_report_section(tmp_path: Path) -> None:
    theta = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    totals = PeriodTotals.accumulate(["2001", "2001", "2002", None], theta, y)
    written = write_over_time(
        tmp_path, totals, ["oil · gas", "rail"], {"predicted": totals}, ["economy", "transport"],
        date_field="published", period="year",
    )  # fmt: skip
    assert {p.name for p in written} == {
        "topics_over_time.csv", "labels_over_time.csv", "topics_rise_fall.csv",
        "topics_over_time.png", "over_time.json",
    }  # fmt: skip
    with (tmp_path / "topics_over_time.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["period", "documents", "oil · gas", "rail"]
    assert rows[1] == ["2001", "2", "0.450000", "0.550000"]
    with (tmp_path / "labels_over_time.csv").open(encoding="utf-8") as handle:
        labels = list(csv.reader(handle))
    assert labels[1] == ["2001", "predicted", "2", "0.500000", "0.500000"]
    section = over_time_html(tmp_path)
    assert "1 without a usable date" in section and "oil · gas" in section
    assert "2002 against 2001" in section
    assert over_time_html(tmp_path / "elsewhere") == ""
