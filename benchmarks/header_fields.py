"""Which of a post's headers the encoder should read (``model.encoder.header_fields``),
chosen on a train-only slice.

A 20 Newsgroups post opens with From, Subject, Organization, Lines and other headers:
about 60 of the encoder's 128 tokens. For each ``--fields`` choice (``all``: the text
as it is; else a comma-separated list, e.g. ``Subject``), MiniLM is fine-tuned as the
experiment sets it, ``--epochs`` epochs, on the fit part of ``peers.validation_slice``
(a random 80% of train) and scored on the other 20%; the test split is not read.
Writes ``benchmarks/results/header_fields_<experiment>.md``.

    TOPICS_DATA_DIR=../shared/data python benchmarks/header_fields.py [20newsgroups] \\
        [--fields all --fields Subject] [--epochs 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import validation_slice  # noqa: E402
from static_probe import EXPERIMENTS  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families import FAMILIES  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.run.build import fit_context  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", default="20newsgroups", choices=["20newsgroups"])
    parser.add_argument(
        "--fields",
        action="append",
        help="'all', or the header fields kept, comma-separated (default: all, then Subject)",
    )
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    commit, load_before = provenance.commit(), os.getloadavg()[0]
    config = load_config(REPO / EXPERIMENTS[args.experiment], ["tracking.enabled=false"])
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, _ = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    fit, val = validation_slice(config, corpus.subset(train_idx))
    labels, truth = list(corpus.label_names), val.label_matrix().argmax(axis=1)
    context = dataclasses.replace(fit_context(config, labels), cache=None)  # timed: no cache
    rows = []
    for choice in args.fields or ["all", "Subject"]:
        fields = None if choice == "all" else [f.strip() for f in choice.split(",") if f.strip()]
        settings = config.model.encoder.model_copy(
            update={"epochs": args.epochs, "header_fields": fields}
        )
        start = time.perf_counter()
        data = TrainingData(list(fit.texts), fit.label_matrix())
        encoder = FAMILIES["encoder"].fit(settings, context, data, {}).classifier
        guess = encoder.predict_proba(list(val.texts)).argmax(axis=1)
        rows.append(
            f"| {choice} | {args.epochs} | {np.mean(guess == truth):.4f} | "
            f"{f1_score(truth, guess, average='macro'):.4f} | {time.perf_counter() - start:.0f} |"
        )
        print(rows[-1], flush=True)
    text = (
        f"# {args.experiment}: the headers the encoder reads, on a train-only slice\n\n"
        f"`python benchmarks/header_fields.py {' '.join(argv or sys.argv[1:])}`, commit "
        f"{commit}, {datetime.date.today()}, 2 cores, load average before / after "
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}. Fine-tuned on {len(fit):,} training "
        f"posts, scored on {len(val):,} other training posts; the test split is not read.\n\n"
        "| header fields read | epochs | validation accuracy | macro-F1 | s |\n"
        "|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    out = REPO / "benchmarks" / "results" / f"header_fields_{args.experiment}.md"
    provenance.write(out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
