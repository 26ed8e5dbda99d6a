"""One Platt sigmoid per label, or one shared by all, chosen on train only (issue 17).

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/calibration.py \\
        [20newsgroups] [--set KEY=VALUE ...] [--out FILE]

Without ``--set``, the model is 20 Newsgroups' fast candidate (``CANDIDATE``: NB
scaling at C 0.3, float16 weights, 3 folds; ``primary_speed_20newsgroups.md``).

The tfidf model (``model.tfidf``, as the experiment and ``--set`` say) fits one SVM
per label, scores the training documents out of fold, and turns each label's scores
into probabilities with its own sigmoid (``calibration: per_label``). Per-label
sigmoids can reorder the labels of a document: on single-label data the predicted
class is then not the one of largest margin. ``calibration: shared`` fits one
sigmoid on every label's out-of-fold scores together, and the labels rank as their
margins do. Both come from one fit (``MultiLabelLinear.calibrate``: the weights are
the same), scored on:

- ``benchmarks/peers.py``'s slice of train: fit on 80%, scored on the other 20%;
- the out-of-fold scores of that 80% (each document scored by models that did not
  see it), which the calibration itself is fit on.

Writes ``benchmarks/results/calibration_<name>.md``. The test split is not read.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

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
from topics.families.linear import CALIBRATIONS  # noqa: E402
from topics.run.build import fit_context  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402

CANDIDATE = [
    "model.tfidf.nb_alpha=1",
    "model.tfidf.C=0.3",
    "model.tfidf.coef_dtype=float16",
    "model.tfidf.cv_folds=3",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "experiment", nargs="?", default="20newsgroups", choices=sorted(EXPERIMENTS)
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a config override (repeatable); default: the settings in CANDIDATE",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.set = CANDIDATE if args.set is None else args.set
    commit = provenance.commit()
    overrides = [
        "tracking.enabled=false",
        "model.encoder.enabled=false",
        "model.ensemble.enabled=false",
        *args.set,
    ]
    config = load_config(REPO / EXPERIMENTS[args.experiment], overrides)
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, _ = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    fit, val = validation_slice(config, corpus.subset(train_idx))
    context = fit_context(config, list(corpus.label_names))
    pipeline = FAMILIES["tfidf"].pipeline(config.model.tfidf, context)
    data = TrainingData.from_corpus(fit)
    vectorizer = pipeline.named_steps["tfidf"]
    X = fit_transform_cached(vectorizer, data.texts, context.cache, context.vectorizer)
    V = vectorizer.transform(list(val.texts))
    targets = data.targets(context.single_label, False)
    Y = np.eye(len(context.labels))[targets] if targets.ndim == 1 else targets
    single = context.single_label
    learner = clone(pipeline.named_steps["classifier"]).set_params(calibration="per_label")
    start = time.perf_counter()
    learner.fit(X, targets)
    seconds = time.perf_counter() - start
    metric = "accuracy" if single else "micro-F1"
    rows = []
    for calibration in CALIBRATIONS:
        model = copy.deepcopy(learner).set_params(calibration=calibration).calibrate(Y)
        held_out = score(val.label_matrix(), model.predict(V), single)
        fold = score(Y, model.decide(model.oof_proba_), single)
        rows.append(
            f"| {calibration} | {held_out[0]:.4f} / {held_out[1]:.4f} | "
            f"{fold[0]:.4f} / {fold[1]:.4f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    lines = [
        f"# One sigmoid per label, or one shared: {args.experiment}",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/calibration.py {args.experiment}"
        + "".join(f" --set {s}" for s in args.set)
        + f"`, commit {commit}, {datetime.date.today()}, 2 cores.",
        "",
        f"One fit of the tfidf model ({seconds / 60:.1f} min) on {len(fit)} training "
        f"documents, scored on the other {len(val)} (`peers.py`'s slice of train) and out "
        "of fold on the documents it was fit on; the test split is not read.",
        "",
        f"| calibration | held-out {metric} / macro-F1 | out-of-fold {metric} / macro-F1 |",
        "|---|---|---|",
        *rows,
    ]
    out = args.out or REPO / "benchmarks" / "results" / f"calibration_{args.experiment}.md"
    provenance.write(out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
