"""Drift counts: what the model predicted for a set of documents, in additive counts.

Both sides of a drift report (:mod:`topics.evaluate.drift`) are :class:`DriftCounts`:
the share of documents per predicted label and with none, the histogram of the top
label score, the sum of topic proportions, and word tokens with how many the
vocabulary lacks. Counts add up, so a batch is counted chunk by chunk and the
partitions of an archive merge. The training side is counted at export on the
held-out split and stored in the bundle's ``model.json`` under ``training_summary``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from topics.errors import BundleError
from topics.text import Analyzer

SUMMARY_KEY = "training_summary"  # where the training side lives in model.json
SUMMARY_VERSION = 1
CONFIDENCE_BINS = 10
MAX_SUMMARY_DOCS = 1000  # held-out texts counted at export: shares to +-3 points, PSI noise ~0.005
CHUNK = 1024


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
            self.vocabulary = tfidf.counter.single_words()  # type: ignore[union-attr]
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


def n_topics(predictor: Any, topic_model: str | None = None) -> int:
    """Every topic the bundle's predictions list (0 without a topic model): the full topic
    mix of ``topic_model`` (default: the predictor's, the one drift counts)."""
    if topic_model:
        block = predictor.topic_block(topic_model)
    else:
        block = getattr(predictor, "topics_block", None)
    return int(block.width) if block is not None else 0


def topic_names(predictor: Any) -> list[str]:
    """``3: rail · cargo · port`` for each topic of the bundle: its number and name."""
    block = getattr(predictor, "topics_block", None)
    return [f"{k}: {name}" for k, name in enumerate(getattr(block, "topic_names", []))]


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
