"""Character n-grams in the bundle: counted by word vs by n-gram string.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/char_ngrams.py

Fits the tfidf model of ``experiments/20newsgroups.yaml`` (analyzer word+char_wb:
word 1-2-grams and character 2-5-grams, min_df 3, C 2; the encoder and the
ensemble off) on a seeded draw of ``--train`` posts of the bydate train folder
(2,000 by default, to keep the machine free; the full model has 11,314), exports
its bundle, and times on the 7,532 test posts, in one process, on the same texts:

- ``TfidfBlock.transform``: the features of the bundle's TF-IDF block;
- ``Predictor.predict_proba``: the tfidf model's probabilities, chunks of 1024;

before (each text's n-gram strings looked up one by one,
``SparseRows.count([analyzer(text) ...])``, and ``SparseRows.dot`` gathering every
entry's weight row at once: the code this replaced) and after (``TermCounter``:
vocabulary ids cached per word, counted with numpy; ``dot`` by blocks of
documents); ``predict_proba`` also with the new counting and the old ``dot``. Best
of ``--repeats``; the max absolute difference to the before output is printed too.

Writes the table to benchmarks/results/char_ngrams.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.kernels.sparse import SparseRows  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.cache import load_corpus_from_config, split_kwargs  # noqa: E402
from topics.run.export import export_bundle  # noqa: E402
from topics.serve.blocks import TfidfBlock  # noqa: E402
from topics.serve.predictor import Predictor  # noqa: E402

EXPERIMENT = REPO / "experiments" / "20newsgroups.yaml"
OVERRIDES = [
    "tracking.enabled=false",
    "cache_dir=null",
    "model.encoder.enabled=false",
    "model.ensemble.enabled=false",
    "model.tfidf.n_jobs=1",
]
CHUNK = 1024


class OneGatherRows(SparseRows):
    """Rows whose ``dot`` gathers every entry's weight row at once (before blocks)."""

    def dot(self, weights_t: np.ndarray) -> np.ndarray:
        out = np.zeros((self.n_docs, weights_t.shape[1]))
        if len(self.ids):
            starts = np.flatnonzero(np.r_[True, self.docs[1:] != self.docs[:-1]])
            contributions = weights_t[self.ids] * self.values[:, None]
            out[self.docs[starts]] = np.add.reduceat(contributions, starts, axis=0)
        return out


class StringCounter:
    """The counting this benchmark compares against: every feature string of every
    text looked up in the vocabulary (what ``TfidfBlock.transform`` did before)."""

    def __init__(self, block: TfidfBlock) -> None:
        self.analyzer = block.analyzer
        self.index = {term: i for i, term in enumerate(block.vocabulary)}

    def count(self, texts: Sequence[str]) -> SparseRows:
        rows = SparseRows.count([self.analyzer(text) for text in texts], self.index)
        return OneGatherRows(rows.docs, rows.ids, rows.values, rows.n_docs)


class OneGatherCounter:
    """The new counting, rows with the old ``dot``."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    def count(self, texts: Sequence[str]) -> SparseRows:
        rows = self.counter.count(texts)
        return OneGatherRows(rows.docs, rows.ids, rows.values, rows.n_docs)


def train(n_train: int, workdir: Path) -> tuple[Predictor, list[str], dict[str, Any]]:
    """The exported tfidf model's predictor, the test texts, and what describes the fit."""
    config = load_config(EXPERIMENT, OVERRIDES)
    corpus = load_corpus_from_config(config.data)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    drawn = np.sort(np.random.default_rng(0).choice(train_idx, size=n_train, replace=False))
    train_part, test_part = corpus.subset(drawn), corpus.subset(test_idx)
    labels = list(corpus.label_names)
    started = time.perf_counter()
    model = fit_family(config, "tfidf", TrainingData.from_corpus(train_part), labels)
    fit_seconds = time.perf_counter() - started
    bundle = export_bundle(
        workdir / "model", labels, "tfidf", {"tfidf": model}, provenance={}, single_label=True
    )
    predictor = Predictor.load(bundle)
    facts = {
        "n_train": len(train_part),
        "n_train_all": len(train_idx),
        "vocabulary": predictor.tfidf.width if predictor.tfidf else 0,
        "fit_seconds": fit_seconds,
        "analyzer": repr(predictor.tfidf.analyzer) if predictor.tfidf else "",
    }
    return predictor, list(test_part.texts), facts


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeats`` timed runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(predictor: Predictor, texts: list[str], repeats: int) -> list[dict[str, Any]]:
    block = predictor.tfidf
    assert block is not None
    by_word = block.counter
    by_string = StringCounter(block)

    def features() -> np.ndarray:
        parts = [block.transform(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return np.concatenate([entries(rows) for rows in parts])

    def proba() -> np.ndarray:
        parts = [predictor.predict_proba(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return np.concatenate(parts)

    cases = (
        ("TfidfBlock.transform", features, by_word),
        ("Predictor.predict_proba", proba, by_word),
        ("Predictor.predict_proba, counting only (old dot)", proba, OneGatherCounter(by_word)),
    )
    rows = []
    befores: dict[Callable[[], Any], tuple[float, Any]] = {}
    for name, run, counter in cases:
        if run not in befores:
            block.counter = by_string
            befores[run] = best_of(repeats, run)
        before, expected = befores[run]
        block.counter = counter
        after, found = best_of(repeats, run)
        block.counter = by_word
        rows.append(
            {
                "what": name,
                "before": len(texts) / before,
                "after": len(texts) / after,
                "max_diff": float(np.abs(found - expected).max())
                if found.shape == expected.shape
                else float("inf"),
            }
        )
    return rows


def entries(rows: SparseRows) -> np.ndarray:
    """The rows' entries as ``(doc, id, value)`` columns (documents numbered within
    their chunk): two runs compared without a dense matrix of every feature."""
    return np.column_stack([rows.docs, rows.ids, rows.values])


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def table(
    rows: list[dict[str, Any]],
    facts: dict[str, Any],
    n_test: int,
    load: str,
    repeats: int,
    measured: str,
) -> str:
    lines = [
        "# Character n-grams in the bundle: counted by word vs by n-gram string",
        "",
        f"`python benchmarks/char_ngrams.py`, commit {measured}, "
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, run with `nice -n 10` "
        f"while the machine was busy (load average before / during: {load}).",
        "",
        f"Model: `experiments/20newsgroups.yaml`'s tfidf model ({facts['analyzer']}, min_df 3, "
        f"C 2), fitted on a seeded draw of {facts['n_train']:,} of the {facts['n_train_all']:,} "
        f"training posts to keep the machine free ({facts['fit_seconds']:.0f} s), "
        f"{facts['vocabulary']:,} TF-IDF features. Texts: the {n_test:,} test posts, "
        f"chunks of {CHUNK}, best of {repeats}, one process.",
        "",
        "| what | docs/s before | docs/s after | speed-up | max abs difference |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['what']} | {row['before']:,.0f} | {row['after']:,.0f} | "
            f"{row['after'] / row['before']:.1f}× | {row['max_diff']:.1e} |"
        )
    lines += [
        "",
        "- before: each text's n-gram strings looked up one by one in the vocabulary "
        "(`SparseRows.count` over the analyzer's output), and `SparseRows.dot` gathering "
        "the weight row of every entry of a chunk at once",
        "- after: `TermCounter`, the vocabulary ids of each distinct word's n-grams cached, "
        "a document's ids counted with numpy; `SparseRows.dot` a block of whole documents "
        "(~32k entries) at a time",
        "- counting only: `TermCounter` with the old `dot`",
        "- max abs difference: between the (document, feature, value) entries of the "
        "TF-IDF rows, and between the probabilities",
        "- the transform row also stacks each chunk's entries for that comparison, which "
        "is why it can read slower than predict_proba",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=2000, help="training posts drawn (seed 0)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/char_ngrams.md")
    args = parser.parse_args()
    load_before = load_average()
    measured = provenance.commit()  # the code imported above
    with tempfile.TemporaryDirectory() as workdir:
        predictor, texts, facts = train(args.train, Path(workdir))
        rows = measure(predictor, texts, args.repeats)
    text = table(
        rows, facts, len(texts), f"{load_before}; {load_average()}", args.repeats, measured
    )
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
