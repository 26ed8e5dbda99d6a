"""The ensemble as a cascade (``model.ensemble.encoder_share``): how much of its
accuracy is kept when the encoder reads only the texts the tfidf model is unsure of.

For each share S the ensemble chooses its band on the encoder's held-out share of
train, as the run does (``ProbabilityEnsemble(second_share=S)``); test is scored with
that band, from the members' test probabilities, as the bundle scores it. Rows: each
S, and every text read (the ensemble without a cascade). The last line bounds any
cascade: the share of texts whose labels the full ensemble sets otherwise than the
tfidf model's probabilities at the ensemble's cuts (a cascade that knew which texts
those are would read only them).

The tfidf model and the encoder come from the run cache when ``topics run`` left them
there (otherwise the encoder is fine-tuned, about 19 minutes for Reuters on 2 cores).
Writes ``benchmarks/results/cascade_<experiment>.md``; ``--set KEY=VALUE`` changes the
experiment (``model.encoder.weight_bits=32``: the encoder's float32 weights, from the
same cache entry; the file then ends in ``_weight_bits_32``).

    TOPICS_DATA_DIR=../shared/data python benchmarks/cascade.py \\
        [experiments/reuters-modapte.yaml] [--shares 0.05,0.1,0.2,0.3,0.5]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families import FAMILIES  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.ensemble import ProbabilityEnsemble  # noqa: E402
from topics.kernels.linear import mix, unsure_rows  # noqa: E402
from topics.run.build import fit_context  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", nargs="?", default="experiments/reuters-modapte.yaml")
    parser.add_argument("--shares", default="0.05,0.1,0.2,0.3,0.5", help="encoder shares S")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override, e.g. model.encoder.weight_bits=32",
    )
    args = parser.parse_args(argv)
    shares = [float(s) for s in args.shares.split(",") if s]
    commit, load_before, start = provenance.commit(), os.getloadavg()[0], time.perf_counter()
    config = load_config(REPO / args.experiment, ["tracking.enabled=false", *args.set])
    if not config.model.ensemble.enabled:
        sys.exit(f"{args.experiment} has no ensemble to cascade")
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    context = fit_context(config, list(corpus.label_names))
    if context.single_label:
        sys.exit("this script scores multi-label data (micro / macro-F1)")
    data = TrainingData(list(train.texts), train.label_matrix())
    tfidf = FAMILIES["tfidf"].fit(config.model.tfidf, context, data, {})
    encoder = FAMILIES["encoder"].fit(config.model.encoder, context, data, {})
    held = encoder.classifier.validation_indices_
    held_out = [tfidf.classifier.oof_proba_[held], encoder.classifier.validation_proba_]
    texts, gold = list(test.texts), test.label_matrix()
    first, second = tfidf.pipeline.predict_proba(texts), encoder.pipeline.predict_proba(texts)
    settings = config.model.ensemble
    rows = []
    for share in [None, *shares]:
        ensemble = ProbabilityEnsemble(
            weight=settings.tfidf_weight,
            threshold_min_positives=settings.threshold_min_positives,
            first_alone_below=settings.tfidf_alone_below,
            second_share=share,
        ).fit(
            held_out,
            data.y[held],
            train_positives=data.y.sum(axis=0),
            first_thresholds=tfidf.classifier.thresholds_,
        )
        mixed = ensemble.label_weights_ < 1
        band = ensemble.band_ or (-1.0, 2.0)  # no band: every text is read
        read = unsure_rows(first, band, mixed)
        stand_in = np.where(read[:, None], second, first)
        weights = ensemble.label_weights_
        predicted = ensemble.decide(mix([first, stand_in], [weights, 1 - weights]))
        micro = f1_score(gold, predicted, average="micro", zero_division=0)
        macro = f1_score(gold, predicted, average="macro", zero_division=0)
        shown = "every text" if share is None else f"{share:g}"
        band_shown = "-" if ensemble.band_ is None else f"{band[0]:g} - {band[1]:g}"
        rows.append(
            f"| {shown} | {band_shown} | {ensemble.second_read_:.1%} | "
            f"{ensemble.validation_score_:.4f} | {read.mean():.1%} | {micro:.4f} | {macro:.4f} |"
        )
        print(rows[-1], flush=True)
        if share is None:
            full = predicted.astype(bool)
            alone = ensemble.decide(first).astype(bool)
            differ = float((full != alone).any(axis=1).mean())
    text = (
        f"# {Path(args.experiment).stem}: the ensemble as a cascade\n\n"
        f"`{' '.join(['python benchmarks/cascade.py', *(argv or sys.argv[1:])])}`, "
        f"commit {commit}, "
        f"{datetime.date.today()}, 2 cores, load average before / after {load_before:.2f} / "
        f"{os.getloadavg()[0]:.2f}, {time.perf_counter() - start:.0f} s. Held out: the "
        f"encoder's {len(held):,} held-out training texts, where the band is chosen; test "
        f"({len(texts):,} texts) is only reported.\n\n"
        "| encoder share S | band chosen | held-out texts read | held-out micro-F1 | "
        "test texts read | test micro-F1 | test macro-F1 |\n"
        "|---|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"The full ensemble sets other labels than the tfidf model's probabilities at its "
        f"cuts for {differ:.1%} of the test texts: no cascade that reads fewer keeps all "
        "of its figures.\n"
    )
    # an override names the file: ..._weight_bits_32.md for model.encoder.weight_bits=32
    suffix = "".join("_" + spec.rsplit(".", 1)[-1].replace("=", "_") for spec in args.set)
    out = REPO / "benchmarks" / "results" / f"cascade_{Path(args.experiment).stem}{suffix}.md"
    provenance.write(out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
