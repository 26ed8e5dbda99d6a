"""Drift of a batch of documents against the data a model was trained on.

Four standard measures, each compared with a threshold:

- **label mix**: the share of documents per predicted label (and with none), as a
  distribution over labels; population stability index (PSI).
- **topic mix**: the mean topic proportions of the documents; Jensen-Shannon
  distance (base 2, in [0, 1]).
- **out-of-vocabulary rate**: the share of word tokens (stop words left out) that
  the model's vocabulary does not hold; absolute change.
- **confidence**: the histogram of each document's top label score in 10 fixed
  bins over [0, 1]; PSI.

Both sides are :class:`~topics.evaluate.drift_counts.DriftCounts`, additive counts
of the same predictions, so a batch can be counted chunk by chunk and partitions of
an archive merged. The
training side is counted at export on the held-out test split (the model's own
training texts would give an out-of-vocabulary rate of ~0 by construction and
over-confident scores) and travels in the bundle's ``model.json`` under
``training_summary``.

>>> from topics.serve.predictor import Predictor                      # doctest: +SKIP
>>> predictor = Predictor.load("artifacts/latest")                    # doctest: +SKIP
>>> batch = count_texts(predictor, ["Rail freight via Aktau grew"])   # doctest: +SKIP
>>> report = compare(training_summary(predictor), batch)              # doctest: +SKIP
>>> [m.name for m in report.measures if m.flagged]                    # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from topics.errors import ConfigError
from topics.evaluate.drift_counts import (
    CONFIDENCE_BINS,
    SUMMARY_KEY,
    DriftCounts,
    count_texts,
    topic_names,
    training_summary,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "SUMMARY_KEY",
    "DriftCounts",
    "DriftReport",
    "Measure",
    "compare",
    "count_texts",
    "js_distance",
    "psi",
    "psi_noise",
    "topic_names",
    "training_summary",
]

PSEUDO_COUNT = 0.5  # per bin, both sides: an empty bin of a small batch is not infinite PSI
SMALL_BATCH = 100  # below this many documents the page says the measures are noisy
NO_LABEL = "(no label)"

# Defaults: PSI 0.2 is the usual "significant shift" rule of thumb. The others were
# set on the sample corpus: two random halves of its held-out split (31 documents
# each) differ by a JS distance of 0.06-0.13 and an OOV change below 0.02; a batch
# of one label's held-out documents is at 0.37-0.45 (README, "Drift of a new batch").
DEFAULT_THRESHOLDS: dict[str, float] = {
    "label_mix": 0.2,
    "topic_mix": 0.2,
    "oov_rate": 0.1,
    "confidence": 0.2,
}
MEASURE_TITLES = {
    "label_mix": "Label mix",
    "topic_mix": "Topic mix",
    "oov_rate": "Out-of-vocabulary rate",
    "confidence": "Confidence histogram",
}
STATISTICS = {
    "label_mix": "PSI",
    "topic_mix": "Jensen-Shannon distance",
    "oov_rate": "absolute change",
    "confidence": "PSI",
}


# ---------------------------------------------------------------------------
# Comparing two sets of counts


@dataclass(frozen=True)
class Measure:
    """One measure: its value against its threshold, and the two distributions behind it."""

    name: str
    statistic: str
    value: float | None  # None: the model has nothing to measure it with
    threshold: float
    categories: list[str]
    training: list[float]
    batch: list[float]
    note: str = ""
    noise: float | None = None  # the value sampling alone gives, on average (PSI only)

    @property
    def flagged(self) -> bool:
        return self.value is not None and self.value > self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": MEASURE_TITLES[self.name],
            "statistic": self.statistic,
            "value": None if self.value is None else round(self.value, 6),
            "threshold": self.threshold,
            "flagged": self.flagged,
            "categories": self.categories,
            "training": [round(v, 6) for v in self.training],
            "batch": [round(v, 6) for v in self.batch],
            "note": self.note,
            "noise": None if self.noise is None else round(self.noise, 6),
        }


@dataclass(frozen=True)
class DriftReport:
    training: DriftCounts
    batch: DriftCounts
    measures: list[Measure]

    @property
    def flagged(self) -> list[str]:
        return [m.name for m in self.measures if m.flagged]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.training.model,
            "training": {"source": self.training.source, "documents": self.training.n_documents},
            "batch": {"source": self.batch.source, "documents": self.batch.n_documents},
            "flagged": self.flagged,
            "measures": [m.to_json() for m in self.measures],
        }


def check_thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """The defaults, overridden by ``thresholds``; unknown names and negatives are errors."""
    chosen = dict(DEFAULT_THRESHOLDS)
    for name, value in (thresholds or {}).items():
        if name not in DEFAULT_THRESHOLDS:
            raise ConfigError(
                f"threshold {name!r}: no such measure; expected one of {sorted(DEFAULT_THRESHOLDS)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ConfigError(f"threshold {name}: expected a number >= 0, found {value!r}")
        chosen[name] = float(value)
    return chosen


def compare(
    training: DriftCounts,
    batch: DriftCounts,
    thresholds: Mapping[str, float] | None = None,
    topic_names: Sequence[str] | None = None,
) -> DriftReport:
    """Every measure of ``batch`` against ``training``, flagged beyond its threshold;
    ``topic_names`` label the topics on the page (default ``topic 0``, ...)."""
    if batch.n_documents < 1:
        raise ConfigError("the batch has no documents to compare; pass files with documents")
    limits = check_thresholds(thresholds)
    measures = [
        _label_mix(training, batch, limits["label_mix"]),
        _topic_mix(training, batch, limits["topic_mix"], topic_names),
        _oov_rate(training, batch, limits["oov_rate"]),
        _confidence(training, batch, limits["confidence"]),
    ]
    return DriftReport(training, batch, measures)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors, each smoothed by
    :data:`PSEUDO_COUNT` per bin: ``sum((a - e) * ln(a / e))`` over the shares."""
    e = (expected + PSEUDO_COUNT) / (expected.sum() + PSEUDO_COUNT * len(expected))
    a = (actual + PSEUDO_COUNT) / (actual.sum() + PSEUDO_COUNT * len(actual))
    return float(np.sum((a - e) * np.log(a / e)))


def psi_noise(expected: np.ndarray, actual: np.ndarray) -> float:
    """The PSI two samples of one distribution show on average, from their sizes alone:
    ``(bins - 1) * (1/n_expected + 1/n_actual)`` over the bins either side fills (PSI
    is then about a chi-square statistic divided by the sizes). Said on the page, so a
    small batch's value is read against it."""
    bins = int(np.count_nonzero((expected + actual) > 0))
    sizes = [float(expected.sum()), float(actual.sum())]
    if bins < 2 or min(sizes) <= 0:
        return 0.0
    return (bins - 1) * (1 / sizes[0] + 1 / sizes[1])


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two distributions."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def _shares(counts: np.ndarray, total: int) -> list[float]:
    return [float(c) / total if total else 0.0 for c in counts]


def _label_mix(training: DriftCounts, batch: DriftCounts, threshold: float) -> Measure:
    train = np.append(training.label_counts, training.no_label)
    new = np.append(batch.label_counts, batch.no_label)
    return Measure(
        "label_mix",
        STATISTICS["label_mix"],
        psi(train, new),
        threshold,
        [*training.labels, NO_LABEL],
        _shares(train, training.n_documents),
        _shares(new, batch.n_documents),
        "share of documents per predicted label (a document may have several); "
        "PSI over the labels' share of all assignments",
        psi_noise(train, new),
    )


def _topic_mix(
    training: DriftCounts, batch: DriftCounts, threshold: float, names: Sequence[str] | None
) -> Measure:
    if not len(training.topic_sums) or len(training.topic_sums) != len(batch.topic_sums):
        return Measure(
            "topic_mix",
            STATISTICS["topic_mix"],
            None,
            threshold,
            [],
            [],
            [],
            "the model has no topic model",
        )
    train = training.topic_sums / training.n_documents
    new = batch.topic_sums / batch.n_documents
    value = js_distance(train, new) if train.sum() > 0 and new.sum() > 0 else 0.0
    return Measure(
        "topic_mix",
        STATISTICS["topic_mix"],
        value,
        threshold,
        list(names)
        if names and len(names) == len(train)
        else [f"topic {k}" for k in range(len(train))],
        train.tolist(),
        new.tolist(),
        "mean topic proportions of the documents",
    )


def _oov_rate(training: DriftCounts, batch: DriftCounts, threshold: float) -> Measure:
    if not training.tokens:
        return Measure(
            "oov_rate",
            STATISTICS["oov_rate"],
            None,
            threshold,
            [],
            [],
            [],
            "the model has no word vocabulary",
        )
    train = training.oov_tokens / training.tokens
    new = batch.oov_tokens / batch.tokens if batch.tokens else 0.0
    return Measure(
        "oov_rate",
        STATISTICS["oov_rate"],
        abs(new - train),
        threshold,
        ["out-of-vocabulary tokens"],
        [train],
        [new],
        "share of word tokens (stop words left out) not in the model's vocabulary; "
        "the training side is the held-out split, unseen by the vocabulary",
    )


def _confidence(training: DriftCounts, batch: DriftCounts, threshold: float) -> Measure:
    edges = np.linspace(0, 1, CONFIDENCE_BINS + 1)
    return Measure(
        "confidence",
        STATISTICS["confidence"],
        psi(training.confidence_counts, batch.confidence_counts),
        threshold,
        [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)],
        _shares(training.confidence_counts, training.n_documents),
        _shares(batch.confidence_counts, batch.n_documents),
        "histogram of each document's top label score",
        psi_noise(training.confidence_counts, batch.confidence_counts),
    )
