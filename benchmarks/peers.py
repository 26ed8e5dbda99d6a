"""Our shipped experiments against the standard peers, on the same splits.

For each dataset (nyt-cap, Reuters-21578 ModApte, 20 Newsgroups bydate) it

- runs our experiment file end to end (``topics.run.experiment.run``, no tracking)
  and times prediction through the bundle with the numpy-only ``Predictor``, in
  chunks of 1,024 texts as ``classify -f`` scores a file;
- fits the peers: TF-IDF 1-2 grams + LogisticRegression / LinearSVC (class
  weights balanced), plus SGD and ComplementNB on single-label data, and
  fastText supervised when it is installed (``pip install fasttext-wheel``).
  Each peer's C (fastText: epochs) is chosen on a held-out 20% slice of train
  (nyt-cap: the last two training years), then refit on all of train;
- prints one table: quality on test, training time, predict docs/s.

    TOPICS_DATA_DIR=../shared/data python benchmarks/peers.py [nyt-cap ...]
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from topics.config import load_config  # noqa: E402
from topics.data.corpus import Corpus  # noqa: E402
from topics.run.experiment import run  # noqa: E402
from topics.run.trackers import NullTracker  # noqa: E402
from topics.serve.predictor import Predictor  # noqa: E402

EXPERIMENTS = {
    "nyt-cap": "experiments/nyt-cap.yaml",
    "reuters-modapte": "experiments/reuters-modapte.yaml",
    "20newsgroups": "experiments/20newsgroups.yaml",
}


def load_split(experiment: str) -> tuple[Any, Corpus, Corpus]:
    from topics.data.splits import split_indices
    from topics.run.cache import load_corpus_cached, split_kwargs

    config = load_config(REPO / experiment, ["tracking.enabled=false"])
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train, test = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    return config, corpus.subset(train), corpus.subset(test)


def validation_slice(config: Any, train: Corpus) -> tuple[Corpus, Corpus]:
    """Tuning data taken from train only."""
    if config.data.split.kind == "temporal":
        years = np.array([int(y) for y in train.meta[config.data.split.field or "year"]])
        cut = years.max() - 1
        return train.subset(np.flatnonzero(years < cut)), train.subset(np.flatnonzero(years >= cut))
    order = np.random.default_rng(0).permutation(len(train))
    k = int(0.8 * len(train))
    return train.subset(np.sort(order[:k])), train.subset(np.sort(order[k:]))


def score(y_true: np.ndarray, y_pred: np.ndarray, single: bool) -> dict[str, float]:
    if single:
        return {
            "accuracy": accuracy_score(y_true, y_pred),
            "macro_f1": f1_score(y_true, y_pred, average="macro"),
        }
    return {
        "micro_f1": f1_score(y_true, y_pred, average="micro", zero_division=0),
        "macro_f1": f1_score(y_true, y_pred, average="macro", zero_division=0),
    }


def targets(corpus: Corpus, single: bool) -> np.ndarray:
    matrix = corpus.label_matrix()
    return matrix.argmax(axis=1) if single else matrix


def sklearn_peers(single: bool) -> dict[str, tuple[Callable[[float], Any], list[float]]]:
    def tfidf() -> TfidfVectorizer:
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)

    def wrap(estimator: Any) -> Any:
        return estimator if single else OneVsRestClassifier(estimator)

    peers: dict[str, tuple[Callable[[float], Any], list[float]]] = {
        "tfidf+logreg(balanced)": (
            lambda c: make_pipeline(
                tfidf(),
                wrap(LogisticRegression(C=c, class_weight="balanced", max_iter=2000)),
            ),
            [1.0, 10.0, 30.0],
        ),
        "tfidf+linearsvc(balanced)": (
            lambda c: make_pipeline(tfidf(), wrap(LinearSVC(C=c, class_weight="balanced"))),
            [0.3, 1.0],
        ),
    }
    if single:
        peers["tfidf+sgd"] = (
            lambda a: make_pipeline(tfidf(), SGDClassifier(alpha=a, random_state=0)),
            [1e-5, 1e-4],
        )
        peers["tfidf+complementnb"] = (
            lambda a: make_pipeline(tfidf(), ComplementNB(alpha=a)),
            [0.1, 0.3],
        )
    return peers


def fit_peer(
    build: Callable[[float], Any], grid: list[float], data: dict[str, Any], single: bool
) -> dict[str, Any]:
    key = "accuracy" if single else "micro_f1"
    fit_part, held_out = data["tune"]
    best = max(
        grid,
        key=lambda value: score(
            targets(held_out, single),
            build(value).fit(fit_part.texts, targets(fit_part, single)).predict(held_out.texts),
            single,
        )[key],
    )
    start = time.perf_counter()
    model = build(best).fit(data["train"].texts, targets(data["train"], single))
    fit_seconds = time.perf_counter() - start
    predicted, docs_per_s = timed(lambda: model.predict(data["test"].texts), len(data["test"]))
    quality = score(targets(data["test"], single), predicted, single)
    return {**quality, "fit_s": fit_seconds, "docs_per_s": docs_per_s, "chosen": best}


def fasttext_peer(data: dict[str, Any], single: bool) -> dict[str, Any] | None:
    try:
        import fasttext
    except ImportError:
        return None
    labels = data["train"].label_names
    loss = "softmax" if single else "ova"

    def tokens(text: str) -> str:  # fastText's usual preprocessing: lowercase, punctuation apart
        return " ".join(re.findall(r"\w+|[^\w\s]", text.lower()))

    def train(corpus: Corpus, epoch: int, lr: float) -> Any:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            for text, doc_labels in zip(corpus.texts, corpus.labels, strict=True):
                tags = " ".join(f"__label__{labels.index(lab)}" for lab in doc_labels)
                handle.write(f"{tags or '__label__none'} {tokens(text)}\n")
        try:  # many threads: fastText 0.9.3 leaves its input matrix partly uninitialised otherwise
            return fasttext.train_supervised(
                handle.name, epoch=epoch, lr=lr, wordNgrams=2, loss=loss, thread=8,
                verbose=0, seed=0,
            )  # fmt: skip
        finally:
            os.unlink(handle.name)

    def probabilities(model: Any, corpus: Corpus) -> np.ndarray:
        out = np.zeros((len(corpus), len(labels)))
        for i, text in enumerate(corpus.texts):
            # model.predict breaks under numpy 2; the C++ binding's predict does not.
            for prob, tag in model.f.predict(tokens(text) + "\n", -1, 0.0, "strict"):
                if tag != "__label__none":
                    out[i, int(tag.removeprefix("__label__"))] = prob
        return out

    def decide(proba: np.ndarray, threshold: float) -> np.ndarray:
        return proba.argmax(axis=1) if single else (proba >= threshold).astype(int)

    key = "accuracy" if single else "micro_f1"
    fit_part, held_out = data["tune"]
    truth = targets(held_out, single)
    candidates = []  # (held-out score, epochs, lr, threshold)
    for epoch in (10, 25, 50):
        for lr in (0.1, 0.5, 1.0):
            proba = probabilities(train(fit_part, epoch, lr), held_out)
            for threshold in (0.5,) if single else (0.2, 0.3, 0.4, 0.5):
                quality = score(truth, decide(proba, threshold), single)[key]
                candidates.append((quality, epoch, lr, threshold))
    _, epoch, lr, threshold = max(candidates)
    start = time.perf_counter()
    model = train(data["train"], epoch, lr)
    fit_seconds = time.perf_counter() - start
    proba, docs_per_s = timed(lambda: probabilities(model, data["test"]), len(data["test"]))
    predicted = decide(proba, threshold)
    quality = score(targets(data["test"], single), predicted, single)
    chosen = f"{epoch} epochs, lr {lr}" + ("" if single else f", cut {threshold}")
    return {**quality, "fit_s": fit_seconds, "docs_per_s": docs_per_s, "chosen": chosen}


def timed(predict: Callable[[], Any], n_docs: int, repeat: int = 3) -> tuple[Any, float]:
    """``predict()``'s result and its throughput, docs/s, best of ``repeat`` calls (the
    first call pays for cold caches)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = predict()
        best = min(best, time.perf_counter() - start)
    return result, n_docs / best


CHUNK = 1024  # ours scores a file as `classify -f` reads it, 1,024 texts at a time


def ours(experiment: str, data: dict[str, Any], single: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        config = load_config(REPO / experiment, ["tracking.enabled=false", f"output_dir={out}"])
        start = time.perf_counter()
        result = run(config, NullTracker(), experiment_file=experiment)
        fit_seconds = time.perf_counter() - start  # load + train + evaluate + export
        predictor = Predictor.load(result.artifact_dir / "model")
        texts = list(data["test"].texts)
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        _, docs_per_s = timed(lambda: [predictor.predict(chunk) for chunk in chunks], len(texts))
    m = result.metrics
    quality = (
        {"accuracy": m["test_accuracy"], "macro_f1": m["test_macro_f1"]}
        if single
        else {"micro_f1": m["test_micro_f1"], "macro_f1": m["test_macro_f1"]}
    )
    return {**quality, "fit_s": fit_seconds, "docs_per_s": docs_per_s, "chosen": experiment}


def benchmark(name: str) -> list[dict[str, Any]]:
    experiment = EXPERIMENTS[name]
    config, train, test = load_split(experiment)
    single = config.data.single_label
    data = {"train": train, "test": test, "tune": validation_slice(config, train)}
    rows = [{"dataset": name, "model": "topics (ours)", **ours(experiment, data, single)}]
    _progress(rows[-1])
    for peer, (build, grid) in sklearn_peers(single).items():
        rows.append({"dataset": name, "model": peer, **fit_peer(build, grid, data, single)})
        _progress(rows[-1])
    fast = fasttext_peer(data, single)
    if fast is not None:
        rows.append({"dataset": name, "model": "fastText", **fast})
        _progress(rows[-1])
    return rows


def _progress(row: dict[str, Any]) -> None:
    """Each finished row on stderr at once, so a long run shows partial results."""
    print(table([row]).splitlines()[-1], file=sys.stderr, flush=True)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | model | micro-F1 / accuracy | macro-F1 | train s | predict docs/s | chosen |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        first = r.get("accuracy", r.get("micro_f1"))
        kind = "acc" if "accuracy" in r else "micro"
        lines.append(
            f"| {r['dataset']} | {r['model']} | {first:.3f} ({kind}) | {r['macro_f1']:.3f} "
            f"| {r['fit_s']:.1f} | {r['docs_per_s']:.0f} | {r['chosen']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(EXPERIMENTS)
    os.chdir(REPO)
    rows = [row for name in names for row in benchmark(name)]
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
