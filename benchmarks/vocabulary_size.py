"""How much of its vocabulary the tfidf model can drop, and how coarsely it can keep
its weights, chosen on train only (issue 17).

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/vocabulary_size.py \\
        [20newsgroups] [--keep all,min_df:5,min_df:10,chi2:160000,ratio:160000] [--C 0.3] [--nb-alpha 1]
        [--precisions float64,float16] [--set KEY=VALUE ...]

20 Newsgroups' tfidf model holds 623k word and character n-grams: its weights alone
are 100 MB, against issue 17's 40 MB bundle and 150 MB of memory. Each row keeps
part of the TF-IDF columns of ``benchmarks/peers.py``'s slice of train (fit on the
rest, scored on the held-out 20%), re-normalises each row and fits the experiment's
learner (with ``--nb-alpha``: NB-scaled, ``model.tfidf.nb_alpha``) at ``--C``:

- ``all``: the experiment's vocabulary;
- ``min_df:K``: terms in at least K fit documents. Dropping columns and
  re-normalising is exactly what the vectorizer gives with that ``min_df``: a term's
  idf depends on its own document frequency only;
- ``chi2:K``: the K terms of highest chi-squared score against the classes;
- ``ratio:K``: the K terms of largest Naive Bayes log-count ratio for some class.

Each fitted learner is scored with its weights kept at each of ``--precisions``
(``model.tfidf.coef_dtype``: rounded once fit, calibration and thresholds as fit),
one fit per row of ``--keep``.

Writes ``benchmarks/results/vocabulary_size_<name>.md``. The test split is not read.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_selection import chi2
from sklearn.preprocessing import normalize

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from nb_scaling import score  # noqa: E402
from peers import EXPERIMENTS, validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families import FAMILIES  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.features import fit_transform_cached  # noqa: E402
from topics.families.linear import COEF_DTYPES  # noqa: E402
from topics.run.build import fit_context  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


def kept_columns(spec: str, X: sparse.csc_matrix, Y: np.ndarray) -> np.ndarray:
    """The sorted column indices ``spec`` keeps; ``Y`` is one-hot (documents x classes)."""
    kind, _, value = spec.partition(":")
    if kind == "all":
        return np.arange(X.shape[1])
    if kind == "min_df":
        return np.flatnonzero(np.diff(X.indptr) >= int(value))
    if kind == "chi2":
        stat = np.nan_to_num(chi2(X, Y.argmax(1))[0])
    elif kind == "ratio":
        present = (X > 0).astype(np.float64)
        pos = np.asarray(present.T @ Y) + 1.0
        neg = np.asarray(present.sum(0)).ravel()[:, None] - pos + 2.0
        stat = np.abs(np.log((pos / pos.sum(0)) / (neg / neg.sum(0)))).max(1)
    else:
        raise SystemExit(f"unknown --keep {spec!r}: all, min_df:K, chi2:K or ratio:K")
    return np.sort(np.argsort(-stat, kind="stable")[: int(value)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "experiment", nargs="?", default="20newsgroups", choices=sorted(EXPERIMENTS)
    )
    parser.add_argument("--keep", default="all,min_df:5,min_df:10,chi2:160000,ratio:160000")
    parser.add_argument("--C", type=float, default=0.3)
    parser.add_argument("--nb-alpha", type=float, default=1.0)
    parser.add_argument("--precisions", default="float64", help="weight dtypes, comma-separated")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a config override"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    precisions = args.precisions.split(",")
    if not set(precisions) <= set(COEF_DTYPES):
        parser.error(f"--precisions: each one of {', '.join(COEF_DTYPES)}")
    commit = provenance.commit()
    config = load_config(
        REPO / EXPERIMENTS[args.experiment],
        [
            "tracking.enabled=false",
            "model.encoder.enabled=false",
            "model.ensemble.enabled=false",
            *args.set,
        ],
    )
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, _ = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    fit, val = validation_slice(config, corpus.subset(train_idx))
    context = fit_context(config, list(corpus.label_names))
    pipeline = FAMILIES["tfidf"].pipeline(config.model.tfidf, context)
    data = TrainingData.from_corpus(fit)
    vectorizer = pipeline.named_steps["tfidf"]
    X = fit_transform_cached(vectorizer, data.texts, context.cache, context.vectorizer).tocsc()
    V = vectorizer.transform(list(val.texts)).tocsc()
    targets = data.targets(context.single_label, False)
    Y = np.eye(len(context.labels))[targets] if targets.ndim == 1 else targets
    truth = val.label_matrix()
    metric = "accuracy" if context.single_label else "micro-F1"
    rows = []
    for spec in args.keep.split(","):
        keep = kept_columns(spec, X, Y)
        learner = clone(pipeline.named_steps["classifier"]).set_params(
            C=args.C, nb_alpha=args.nb_alpha
        )
        start = time.perf_counter()
        learner.fit(normalize(X[:, keep].tocsr()), targets)
        seconds = time.perf_counter() - start
        scored = normalize(V[:, keep].tocsr())
        fitted = learner.coef_
        for precision in precisions:
            learner.coef_ = fitted.astype(precision)  # what coef_dtype keeps once fit
            first, macro = score(truth, learner.predict(scored), context.single_label)
            weights_mb = learner.coef_.nbytes / 1e6
            rows.append(
                f"| {spec} | {len(keep):,} | {precision} | {weights_mb:.1f} | "
                f"{first:.4f} / {macro:.4f} | {seconds:.0f} |"
            )
            print(rows[-1], file=sys.stderr, flush=True)
    lines = [
        f"# How much vocabulary the tfidf model can drop: {args.experiment}",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/vocabulary_size.py {args.experiment} "
        f"--keep {args.keep} --C {args.C:g} --nb-alpha {args.nb_alpha:g} "
        f"--precisions {args.precisions}"
        + "".join(f" --set {s}" for s in args.set)
        + f"`, commit {commit}, "
        f"{datetime.date.today()}, 2 cores.",
        "",
        f"Fit on {len(fit)} training documents, scored on the other {len(val)} (`peers.py`'s "
        "slice of train); the test split is not read. Weights MB: the learner's weights at "
        "that precision, the largest part of the bundle (the vocabulary and idf come on "
        "top). fit s: the learner's fit (once per kept vocabulary).",
        "",
        f"| kept | terms | weights | weights MB | validation {metric} / macro-F1 | fit s |",
        "|---|---:|---|---:|---|---:|",
        *rows,
    ]
    out = args.out or REPO / "benchmarks" / "results" / f"vocabulary_size_{args.experiment}.md"
    provenance.write(out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
