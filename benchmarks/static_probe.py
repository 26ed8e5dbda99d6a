"""The static model's settings, chosen on train only: a grid scored on a slice of train.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/static_probe.py [nyt-cap] \\
        [--scales 0.5,1,2] [--cs 0.5,1] [--sif 0.001] [--contextual 0,64]

The slice is ``benchmarks/peers.py``'s: nyt-cap fits on 1996-2001 and validates on
2002-03 (the protocol behind experiments/nyt-cap.yaml's other choices); the other
datasets hold out a random 20% of train. On the fit part: the experiment's tfidf
model, then the static vectors (``model.static``'s distillation) and, for each
``(sif, contextual, scale, C)``, the tfidf model's learner over the TF-IDF columns plus
``scale`` x the static vector, as :class:`topics.families.static.Static` fits it.
Each is scored at its own cross-validated cuts on the validation part. The test
split is not read. Writes ``benchmarks/results/static_probe_<name>.md``.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import EXPERIMENTS, validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.fine_labels import FineLabelLinear  # noqa: E402
from topics.families.static import StaticVectors  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


def floats(text: str) -> list[float | None]:
    return [None if part == "none" else float(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", default="nyt-cap", choices=sorted(EXPERIMENTS))
    parser.add_argument("--scales", type=floats, default=[0.5, 1.0, 2.0])
    parser.add_argument("--cs", type=floats, default=[0.5, 1.0])
    parser.add_argument("--sif", type=floats, default=[1e-3], help="'none': every token 1")
    parser.add_argument(
        "--contextual", type=floats, default=[0], help="model.static.contextual values"
    )
    args = parser.parse_args(argv)
    commit, load_before = provenance.commit(), os.getloadavg()[0]
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
    train_idx, _ = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    fit, val = validation_slice(config, corpus.subset(train_idx))
    single = bool(config.data.single_label)
    labels, data = list(corpus.label_names), TrainingData.from_corpus(fit)
    y, texts = val.label_matrix(), list(val.texts)

    def scores(predicted: np.ndarray) -> tuple[float, float]:
        if single:
            truth = y.argmax(1)
            guess = predicted if predicted.ndim == 1 else predicted.argmax(1)  # class indices
            return float(np.mean(truth == guess)), float(f1_score(truth, guess, average="macro"))
        return (
            float(f1_score(y, predicted, average="micro", zero_division=0)),
            float(f1_score(y, predicted, average="macro", zero_division=0)),
        )

    start = time.perf_counter()
    tfidf = fit_family(config, "tfidf", data, labels)
    rows = [
        (
            "tfidf model",
            "",
            "",
            "",
            scores(tfidf.classifier.decide(tfidf.predict_proba(texts))),
            time.perf_counter() - start,
        )
    ]
    print(rows[-1], flush=True)
    words_fit, words_val = (
        tfidf.vectorizer.transform(list(data.texts)),
        tfidf.vectorizer.transform(texts),
    )
    fine = isinstance(tfidf.classifier, FineLabelLinear)
    targets = data.targets(single, fine)
    for sif, contextual in itertools.product(args.sif, args.contextual):
        static = StaticVectors(sif=sif, contextual=int(contextual or 0)).fit(data.texts)
        vectors_fit, vectors_val = static.transform(list(data.texts)), static.transform(texts)
        for scale in args.scales:
            for c in args.cs:
                start = time.perf_counter()
                model = clone(tfidf.classifier).set_params(C=c)
                model.fit(
                    sp.hstack([words_fit, sp.csr_matrix(scale * vectors_fit)]).tocsr(), targets
                )
                proba = model.predict_proba(
                    sp.hstack([words_val, sp.csr_matrix(scale * vectors_val)]).tocsr()
                )
                name = f"static, contextual {int(contextual or 0)}"
                seconds = time.perf_counter() - start
                rows.append(
                    (name, str(sif), f"{scale:g}", f"{c:g}", scores(model.decide(proba)), seconds)
                )
                print(rows[-1], flush=True)
    metric = "accuracy" if single else "micro-F1"
    best = max(rows[1:], key=lambda row: row[4][0])
    lines = [
        f"| model | SIF | scale | C | validation {metric} | macro-F1 | fit s |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for model_name, sif_text, scale_text, c_text, (first, macro), seconds in rows:
        mark = " (chosen)" if (model_name, sif_text, scale_text, c_text) == best[:4] else ""
        lines.append(
            f"| {model_name}{mark} | {sif_text} | {scale_text} | {c_text} | {first:.4f} | "
            f"{macro:.4f} | {seconds:.0f} |"
        )
    text = (
        f"# {args.experiment}: the static model's settings on a train-only slice\n\n"
        f"`python benchmarks/static_probe.py {' '.join(argv or sys.argv[1:])}`, commit {commit}, "
        f"{datetime.date.today()}, 2 cores, load average before / after {load_before:.2f} / "
        f"{os.getloadavg()[0]:.2f}. Fit on {len(fit):,} training texts, validated on "
        f"{len(val):,} other training texts; the test split is not read. Each model at its own "
        "cross-validated cuts. fit s: wall seconds to fit the tfidf model, or a static model's "
        "learner (its static vectors, distilled once per SIF and contextual, not counted), "
        "and score the validation part.\n\n" + "\n".join(lines) + "\n"
    )
    out = REPO / "benchmarks" / "results" / f"static_probe_{args.experiment}.md"
    out.write_text(text)
    print(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
