"""Label stacking over the tfidf model, chosen on train only (issue 17, Reuters).

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/label_stacking.py \\
        [reuters-modapte] [--cs 0.1,1] [--min-positives 10] [--cuts 0.3,0.45]
        [--at-least-one] [--out FILE]

Reuters' categories come in families (grain with wheat and corn; money-fx with dlr
and interest; crude with nat-gas), so one category's score says something about
another's. A second stage learns that: for each category with at least
``--min-positives`` training documents, a logistic regression (inverse
regularisation ``C``) over the logits of every category's calibrated probability
from the tfidf model; the others keep the tfidf model's decision. Its training
inputs are the tfidf model's out-of-fold probabilities (each document scored by a
model that did not see it); its cut per category is fit on its own 5-fold
out-of-fold probabilities, with the tfidf model's SCut.FBR rule
(``model.tfidf.threshold_min_f1``). At predict time it costs one (categories x
categories) product more than the tfidf model.

Two simpler rules over the same probabilities ride along. ``--cuts T,...``: every
category cut at ``T`` (micro-F1 is best served by one cut near half the F1 reached,
where SCut.FBR fits each category's own cut for its own F1), and each category at
the larger of its own cut and ``T``. ``--at-least-one``: a document left with no
category gets its most probable one (every ModApte training document has one).

The choice is made on ``benchmarks/peers.py``'s slice of train (a random 20% held
out): the tfidf model and each ``C`` fit on the other 80%. The variant with the best
micro-F1 there (the tfidf model alone included) is then fit on the whole training
split and scored on test: the only row that reads the test split. Writes
``benchmarks/results/label_stacking_<name>.md``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import EXPERIMENTS, validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.calibration import f1_at, fit_threshold  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


def logits(proba: np.ndarray) -> np.ndarray:
    clipped = np.clip(proba, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


class Stacker:
    """The second stage over the tfidf model's probabilities (see the module docstring)."""

    def __init__(self, C: float, min_positives: int, min_f1: float, seed: int = 0) -> None:
        self.C, self.min_positives, self.min_f1, self.seed = C, min_positives, min_f1, seed

    def fit(self, oof: np.ndarray, y: np.ndarray, first_cuts: np.ndarray) -> Stacker:
        z = logits(oof)
        self.mean_, self.scale_ = z.mean(axis=0), z.std(axis=0) + 1e-9
        z = (z - self.mean_) / self.scale_
        self.first_cuts_ = first_cuts
        self.models_: dict[int, tuple[LogisticRegression, float]] = {}
        for j in range(y.shape[1]):
            positives = int(y[:, j].sum())
            if positives < self.min_positives:
                continue
            model = LogisticRegression(C=self.C, max_iter=2000)
            folds = StratifiedKFold(
                n_splits=min(5, positives), shuffle=True, random_state=self.seed
            )
            second = cross_val_predict(model, z, y[:, j], cv=folds, method="predict_proba")[:, 1]
            cut = fit_threshold(second, y[:, j])
            if f1_at(second, y[:, j], cut) < self.min_f1:
                cut = 0.5
            self.models_[j] = (model.fit(z, y[:, j]), cut)
        return self

    def predict(self, proba: np.ndarray) -> np.ndarray:
        decided = (proba >= self.first_cuts_).astype(int)
        z = (logits(proba) - self.mean_) / self.scale_
        for j, (model, cut) in self.models_.items():
            decided[:, j] = model.predict_proba(z)[:, 1] >= cut
        return decided


def scores(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    return (
        float(f1_score(y, predicted, average="micro", zero_division=0)),
        float(f1_score(y, predicted, average="macro", zero_division=0)),
    )


def evaluate(
    config, data: TrainingData, labels: list[str], texts: list[str], y: np.ndarray, args
) -> list[tuple[str, tuple[float, float], float]]:
    """The tfidf model and each stacker fit on ``data``, scored on ``texts``."""
    start = time.perf_counter()
    tfidf = fit_family(config, "tfidf", data, labels)
    first = tfidf.classifier
    proba = tfidf.predict_proba(texts)
    decided = first.decide(proba).astype(int)
    rows = [("tfidf model", scores(y, decided), time.perf_counter() - start)]
    cuts = np.asarray(first.thresholds_, dtype=float)
    for t in args.cuts:
        rows.append((f"every cut at {t:g}", scores(y, (proba >= t).astype(int)), 0.0))
        rows.append(
            (f"cuts at least {t:g}", scores(y, (proba >= np.maximum(cuts, t)).astype(int)), 0.0)
        )
    if args.at_least_one:
        empty = np.flatnonzero(decided.sum(axis=1) == 0)
        filled = decided.copy()
        filled[empty, proba[empty].argmax(axis=1)] = 1
        rows.append((f"at least one category ({len(empty)} filled)", scores(y, filled), 0.0))
    for C in args.cs:
        start = time.perf_counter()
        stacker = Stacker(C, args.min_positives, config.model.tfidf.threshold_min_f1)
        stacker.fit(first.oof_proba_, np.asarray(data.y), first.thresholds_)
        rows.append(
            (f"stacked, C {C:g}", scores(y, stacker.predict(proba)), time.perf_counter() - start)
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "experiment", nargs="?", default="reuters-modapte", choices=["reuters-modapte"]
    )
    parser.add_argument("--cs", default="0.1,1", help="the stackers' C, comma-separated")
    parser.add_argument("--min-positives", type=int, default=10)
    parser.add_argument("--cuts", default="", help="cuts T for the two cut rules, comma-separated")
    parser.add_argument("--at-least-one", action="store_true", help="add the at-least-one rule")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.cs = [float(c) for c in args.cs.split(",") if c]
    args.cuts = [float(c) for c in args.cuts.split(",") if c]
    commit = provenance.commit()
    config = load_config(
        REPO / EXPERIMENTS[args.experiment],
        [
            "tracking.enabled=false",
            "model.encoder.enabled=false",
            "model.ensemble.enabled=false",
            "model.primary=null",
        ],
    )
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    fit, val = validation_slice(config, train)
    labels = list(corpus.label_names)
    val_rows = evaluate(
        config, TrainingData.from_corpus(fit), labels, list(val.texts), val.label_matrix(), args
    )
    chosen = max(range(len(val_rows)), key=lambda i: val_rows[i][1][0])
    test_rows = evaluate(
        config, TrainingData.from_corpus(train), labels, list(test.texts), test.label_matrix(), args
    )
    lines = [
        f"# Label stacking over the tfidf model: {args.experiment}",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/label_stacking.py {args.experiment} "
        + (f"--cs {','.join(f'{c:g}' for c in args.cs)} " if args.cs else '--cs "" ')
        + f"--min-positives {args.min_positives}"
        + (f" --cuts {','.join(f'{c:g}' for c in args.cuts)}" if args.cuts else "")
        + (" --at-least-one" if args.at_least_one else "")
        + "`, "
        f"commit {commit}, {datetime.date.today()}, 2 cores.",
        "",
        f"Validation: {len(val)} of the {len(train)} training documents, the tfidf model and "
        f"each stacker fit on the other {len(fit)}. Test: {len(test)} documents, every row fit "
        "on the whole training split; the variant chosen on validation is marked.",
        "",
        "| model | validation micro / macro-F1 | test micro / macro-F1 | fit s (test) |",
        "|---|---|---|---:|",
    ]
    for i, ((name, (vmi, vma), _), (_, (tmi, tma), secs)) in enumerate(
        zip(val_rows, test_rows, strict=True)
    ):
        mark = " (chosen)" if i == chosen else ""
        lines.append(
            f"| {name}{mark} | {vmi:.4f} / {vma:.4f} | {tmi:.4f} / {tma:.4f} | {secs:.0f} |"
        )
    out = args.out or REPO / "benchmarks" / "results" / f"label_stacking_{args.experiment}.md"
    provenance.write(out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
