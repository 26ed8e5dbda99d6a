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

Both sides are :class:`DriftCounts`, additive counts of the same predictions, so a
batch can be counted chunk by chunk and partitions of an archive merged. The
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from topics.errors import BundleError, ConfigError
from topics.text import Analyzer

SUMMARY_KEY = "training_summary"  # where the training side lives in model.json
SUMMARY_VERSION = 1
CONFIDENCE_BINS = 10
MAX_SUMMARY_DOCS = 2000  # held-out texts counted at export: enough for shares to +-1 point
PSEUDO_COUNT = 0.5  # per bin, both sides: an empty bin of a small batch is not infinite PSI
SMALL_BATCH = 100  # below this many documents the page says the measures are noisy
CHUNK = 1024
NO_LABEL = "(no label)"

# Defaults: PSI 0.2 is the usual "significant shift" rule of thumb; the others were
# set on the sample corpus so that a held-out batch of 60 documents stays below them
# and a one-label batch or text in another language goes above (README, "Drift").
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


@dataclass
class DriftCounts:
    """Additive counts of one set of documents, as the model scored them."""

    labels: list[str]
    model: str
    n_documents: int = 0
    label_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    no_label: int = 0
    confidence_counts: np.ndarray = field(
        default_factory=lambda: np.zeros(CONFIDENCE_BINS, dtype=np.int64)
    )
    topic_sums: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tokens: int = 0
    oov_tokens: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        if not len(self.label_counts):
            self.label_counts = np.zeros(len(self.labels), dtype=np.int64)

    def add(self, results: Sequence[Mapping[str, Any]], oov: tuple[int, int] = (0, 0)) -> None:
        """Count ``results`` of :meth:`Predictor.predict` (with every topic, ``top_k`` = K)
        and ``oov`` = (word tokens, of which out of the vocabulary) of their texts."""
        index = {label: j for j, label in enumerate(self.labels)}
        for result in results:
            chosen = result["labels"]
            for label in chosen:
                self.label_counts[index[label]] += 1
            self.no_label += not chosen
            top = max(result["scores"].values(), default=0.0)
            self.confidence_counts[confidence_bin(top)] += 1
            if result["topics"]:
                if not len(self.topic_sums):
                    self.topic_sums = np.zeros(len(result["topics"]))
                for topic in result["topics"]:
                    self.topic_sums[topic["topic"]] += topic["weight"]
        self.n_documents += len(results)
        self.tokens += oov[0]
        self.oov_tokens += oov[1]

    def merge(self, other: DriftCounts) -> DriftCounts:
        """The counts of both sets of documents (partitions of one archive)."""
        merged = DriftCounts(self.labels, self.model, source=self.source or other.source)
        merged.n_documents = self.n_documents + other.n_documents
        merged.label_counts = self.label_counts + other.label_counts
        merged.no_label = self.no_label + other.no_label
        merged.confidence_counts = self.confidence_counts + other.confidence_counts
        sums = [s for s in (self.topic_sums, other.topic_sums) if len(s)]
        merged.topic_sums = np.sum(sums, axis=0) if sums else np.zeros(0)
        merged.tokens = self.tokens + other.tokens
        merged.oov_tokens = self.oov_tokens + other.oov_tokens
        return merged

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SUMMARY_VERSION,
            "source": self.source,
            "model": self.model,
            "labels": list(self.labels),
            "n_documents": self.n_documents,
            "label_counts": [int(n) for n in self.label_counts],
            "no_label": self.no_label,
            "confidence_bins": CONFIDENCE_BINS,
            "confidence_counts": [int(n) for n in self.confidence_counts],
            "topic_sums": [round(float(s), 6) for s in self.topic_sums],
            "tokens": self.tokens,
            "oov_tokens": self.oov_tokens,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> DriftCounts:
        """Counts ``to_json`` wrote; every field is checked (a bundle is untrusted data)."""
        try:
            return _counts_from_json(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise BundleError(
                f"{where}: {SUMMARY_KEY} is invalid ({exc}); copy the bundle again or retrain"
            ) from exc


def _counts_from_json(data: Any) -> DriftCounts:
    if not isinstance(data, dict) or data.get("version") != SUMMARY_VERSION:
        raise ValueError(f"expected an object of version {SUMMARY_VERSION}")
    labels = data["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError("labels: expected a list of strings")
    counts = DriftCounts(labels, str(data["model"]), source=str(data.get("source", "")))
    counts.n_documents = _count(data["n_documents"])
    counts.label_counts = _counts(data["label_counts"], len(labels), "label_counts")
    counts.no_label = _count(data["no_label"])
    if data["confidence_bins"] != CONFIDENCE_BINS:
        raise ValueError(f"confidence_bins: expected {CONFIDENCE_BINS}")
    counts.confidence_counts = _counts(data["confidence_counts"], CONFIDENCE_BINS, "confidence")
    sums = data["topic_sums"]
    if not isinstance(sums, list) or not all(
        type(s) in (int, float) and math.isfinite(s) and s >= 0 for s in sums
    ):
        raise ValueError("topic_sums: expected non-negative numbers")
    counts.topic_sums = np.asarray(sums, dtype=np.float64)
    counts.tokens, counts.oov_tokens = _count(data["tokens"]), _count(data["oov_tokens"])
    if counts.oov_tokens > counts.tokens:
        raise ValueError("expected oov_tokens <= tokens")
    return counts


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a count >= 0, found {value!r}")
    return value


def _counts(value: Any, length: int, name: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"{name}: expected {length} counts")
    return np.asarray([_count(v) for v in value], dtype=np.int64)


def confidence_bin(score: float) -> int:
    """The bin of a top label score: ``[0, 0.1)``, ..., ``[0.9, 1.0]``."""
    return min(max(int(score * CONFIDENCE_BINS), 0), CONFIDENCE_BINS - 1)


class OovCounter:
    """Word tokens of texts, and how many the model's vocabulary lacks.

    The TF-IDF block's words (its analyzer without n-grams, so stop words are not
    counted), else the LDA block's tokenizer and vocabulary; None without either.
    """

    def __init__(self, predictor: Any) -> None:
        self.tokenize: Any = None
        self.vocabulary: Mapping[str, int] = {}
        tfidf, lda = getattr(predictor, "tfidf", None), getattr(predictor, "lda", None)
        words = getattr(tfidf, "analyzer", None)
        words = getattr(words, "word", words)  # a word+character analyzer: its word part
        if isinstance(words, Analyzer) and words.ngram_range[0] == 1:
            self.tokenize = Analyzer((1, 1), words.stop_words, words.lowercase, words.token_pattern)
            self.vocabulary = tfidf.index  # type: ignore[union-attr]
        elif lda is not None:
            self.tokenize, self.vocabulary = lda.tokenizer, lda.index

    def __call__(self, texts: Iterable[str]) -> tuple[int, int]:
        if self.tokenize is None:
            return 0, 0
        tokens = oov = 0
        for text in texts:
            words = self.tokenize(text)
            tokens += len(words)
            oov += sum(word not in self.vocabulary for word in words)
        return tokens, oov


def count_texts(predictor: Any, texts: Iterable[str], source: str = "") -> DriftCounts:
    """The drift counts of ``texts`` scored by ``predictor``'s primary model, in chunks."""
    counts = DriftCounts(list(predictor.labels), predictor.primary, source=source)
    counter = OovCounter(predictor)
    iterator = iter(texts)
    while chunk := list(islice(iterator, CHUNK)):
        results = predictor.predict(chunk, top_k=n_topics(predictor))
        counts.add(results, counter(chunk))
    return counts


def n_topics(predictor: Any) -> int:
    """Every topic of the bundle's LDA block (0 without one): the full topic mix."""
    lda = getattr(predictor, "lda", None)
    return int(lda.width) if lda is not None else 0


def topic_names(predictor: Any, n_words: int = 3) -> list[str]:
    """``topic 3: bank, rate, inflation`` for each topic of the bundle (its top words)."""
    lda = getattr(predictor, "lda", None)
    words = getattr(lda, "top_words", [])
    return [f"topic {k}: " + ", ".join(top[:n_words]) for k, top in enumerate(words)]


def training_summary(predictor: Any) -> DriftCounts:
    """The training side carried by the bundle; a one-line error for a bundle without it."""
    spec = predictor.bundle.spec
    if SUMMARY_KEY not in spec:
        raise BundleError(
            f"{predictor.bundle.path}: this model has no training summary (bundles written "
            "before drift reports carry none); retrain it with 'topics run EXPERIMENT' to get one"
        )
    summary = DriftCounts.from_json(spec[SUMMARY_KEY], str(predictor.bundle.path / "model.json"))
    if summary.n_documents < 1:
        raise BundleError(f"{predictor.bundle.path}: {SUMMARY_KEY} counts no document; retrain")
    if summary.labels != list(predictor.labels) or summary.model != predictor.primary:
        raise BundleError(
            f"{predictor.bundle.path}: {SUMMARY_KEY} describes model {summary.model!r} with "
            f"labels {summary.labels}, not this bundle's; retrain the model"
        )
    return summary


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
    )
