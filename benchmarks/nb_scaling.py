"""Naive Bayes feature scaling under the tfidf model, chosen on train only (issue 17).

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/nb_scaling.py \\
        reuters-modapte [--cs 0.1,0.3,1] [--alphas 1] [--joint C,...] [--set KEY=VALUE ...]
        [--out FILE]

NBSVM (Wang and Manning, 2012): for each label, every TF-IDF column is multiplied
by its log-count ratio ``r = log((p / |p|_1) / (q / |q|_1))``, where ``p`` and ``q``
count the label's positive and negative training documents that hold the term (plus
``alpha``), and the label's linear SVM is fit on the scaled columns. A term that
tells the label apart then costs less regularisation than one that does not. The
scaling folds into the weights (``w * r``), so the bundle scores it exactly as the
tfidf model: same speed, same size. Each row is the tfidf model with
``model.tfidf.nb_alpha`` (``topics.families.linear.NBScaled``), its calibration, cuts
and SCut.FBR as before; ``r`` is computed inside each cross-validation fold, from that
fold's training part only.

``--joint C,...`` (single-label data, 20 Newsgroups) adds rows where one
Crammer-Singer SVM learns every class at once, instead of one SVM per class against
the rest; it predicts the class of highest margin.

The choice is made on ``benchmarks/peers.py``'s slice of train (a random 20% held
out; nyt-cap: its last two training years): every row fit on the rest. The best row
there (the tfidf model included) and the tfidf model are then fit on the whole
training split and scored on test: the only rows that read the test split. Writes
``benchmarks/results/nb_scaling_<name>.md``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.svm import LinearSVC

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import EXPERIMENTS, validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families import FAMILIES  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.features import fit_transform_cached  # noqa: E402
from topics.run.build import fit_context  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--cs", type=floats, default=[0.1, 0.3, 1.0], help="the scaled SVM's C")
    parser.add_argument("--alphas", type=floats, default=[1.0], help="the counts' smoothing")
    parser.add_argument(
        "--joint",
        type=floats,
        default=[],
        help="single-label data: the C of a Crammer-Singer SVM over every class at once",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a config override"
    )
    parser.add_argument(
        "--test-only",
        action="store_true",
        help="skip the validation slice: score on test the tfidf model and the rows "
        "asked for, as chosen by an earlier run on the slice",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    commit = provenance.commit()
    config = load_config(
        REPO / EXPERIMENTS[args.experiment],
        [
            "tracking.enabled=false",
            "model.encoder.enabled=false",
            "model.ensemble.enabled=false",
            "model.static.enabled=false",
            "model.primary=null",
            *args.set,
        ],
    )
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    fit, val = validation_slice(config, train)
    labels = list(corpus.label_names)
    single = config.data.single_label
    variants: list[tuple[str, float, float] | None] = [None] + [
        (f"NB-scaled SVM, alpha {a:g}, C {c:g}", a, c) for a in args.alphas for c in args.cs
    ]
    if single:
        variants += [(f"Crammer-Singer SVM, C {c:g}", -1.0, c) for c in args.joint]
    if args.test_only:
        val_rows, chosen, test_variants = [], -1, variants
    else:
        val_rows = evaluate(config, labels, fit, val, variants)
        chosen = max(range(len(val_rows)), key=lambda i: val_rows[i][1][0])
        test_variants = [None] if chosen == 0 else [None, variants[chosen]]
    test_rows = evaluate(config, labels, train, test, test_variants)
    metric = "accuracy" if single else "micro-F1"
    lines = [
        f"# Naive Bayes feature scaling under the tfidf model: {args.experiment}",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/nb_scaling.py {args.experiment} "
        f"--cs {','.join(f'{c:g}' for c in args.cs)} "
        f"--alphas {','.join(f'{a:g}' for a in args.alphas)}"
        + (f" --joint {','.join(f'{c:g}' for c in args.joint)}" if args.joint else "")
        + "".join(f" --set {s}" for s in args.set)
        + (" --test-only" if args.test_only else "")
        + f"`, commit {commit}, {datetime.date.today()}, 2 cores.",
        "",
        f"Validation: {len(val)} of the {len(train)} training documents, every row fit on "
        f"the other {len(fit)}; the row with the best validation {metric} is chosen. "
        f"Test: {len(test)} documents, the tfidf model and the chosen row fit on the whole "
        "training split. fit s: the learner's fit and scoring (the TF-IDF features not "
        "counted).",
        "",
        f"| model | validation {metric} / macro-F1 | fit s | test {metric} / macro-F1 | fit s |",
        "|---|---|---:|---|---:|",
    ]
    tested = {row[0]: row for row in test_rows}
    for name, (t1, t2), tsecs in test_rows if args.test_only else []:
        lines.append(f"| {name} | | | {t1:.4f} / {t2:.4f} | {tsecs:.0f} |")
    for i, (name, (v1, v2), secs) in enumerate(val_rows):
        mark = " (chosen)" if i == chosen else ""
        test_cell, test_secs = "", ""
        if name in tested:
            _, (t1, t2), tsecs = tested[name]
            test_cell, test_secs = f"{t1:.4f} / {t2:.4f}", f"{tsecs:.0f}"
        lines.append(
            f"| {name}{mark} | {v1:.4f} / {v2:.4f} | {secs:.0f} | {test_cell} | {test_secs} |"
        )
    out = args.out or REPO / "benchmarks" / "results" / f"nb_scaling_{args.experiment}.md"
    provenance.write(out, "\n".join(lines) + "\n")
    return 0


def evaluate(
    config: Any,
    labels: list[str],
    train: Any,
    scored: Any,
    variants: list[tuple[str, float, float] | None],
) -> list[tuple[str, tuple[float, float], float]]:
    """Each variant (None: the tfidf model as configured; alpha < 0: a Crammer-Singer
    SVM) fit on ``train``'s TF-IDF columns and scored on ``scored``."""
    context = fit_context(config, labels)
    settings = config.model.tfidf
    pipeline = FAMILIES["tfidf"].pipeline(settings, context)
    data = TrainingData.from_corpus(train)
    features = fit_transform_cached(
        pipeline.named_steps["tfidf"], data.texts, context.cache, context.vectorizer
    )
    scored_features = pipeline.named_steps["tfidf"].transform(list(scored.texts))
    targets = data.targets(context.single_label, False)
    truth = scored.label_matrix()
    rows = []
    for variant in variants:
        learner = clone(pipeline.named_steps["classifier"])
        name = "tfidf model"
        if variant is not None and variant[1] < 0:  # one SVM over every class, not one per class
            name, _, C = variant
            learner = LinearSVC(C=C, multi_class="crammer_singer", random_state=config.seed)
        elif variant is not None:
            name, alpha, C = variant
            learner.set_params(C=C, nb_alpha=alpha)  # model.tfidf.nb_alpha
        start = time.perf_counter()
        predicted = learner.fit(features, targets).predict(scored_features)
        secs = time.perf_counter() - start
        rows.append((name, score(truth, predicted, context.single_label), secs))
        print(f"{name}: {rows[-1][1]} in {secs:.0f} s", file=sys.stderr, flush=True)
    return rows


def score(truth: np.ndarray, predicted: np.ndarray, single: bool) -> tuple[float, float]:
    if single:
        gold = truth.argmax(axis=1)
        return float(accuracy_score(gold, predicted)), float(
            f1_score(gold, predicted, average="macro")
        )
    return (
        float(f1_score(truth, predicted, average="micro", zero_division=0)),
        float(f1_score(truth, predicted, average="macro", zero_division=0)),
    )


if __name__ == "__main__":
    raise SystemExit(main())
