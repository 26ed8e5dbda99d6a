"""The encoder's settings, and the ensemble they give, chosen on a train-only slice.

    TOPICS_DATA_DIR=../shared/data python benchmarks/encoder_settings.py \\
        [reuters-modapte] [--vary max_length=256] [--out FILE]

On the fit part of ``peers.validation_slice`` (a random 80% of train) the
experiment's tfidf model is fit once, and its encoder once per row: the first row
as the experiment sets it, each other row with one ``model.encoder`` setting
changed (``--vary KEY=V1,V2``). Each encoder and its ensemble with the tfidf model
(``model.ensemble`` as the experiment sets it) are scored on the other 20%; the test
split is not read. Fits go through the run cache. Writes
``benchmarks/results/encoder_settings_<experiment>.md``.
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
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import EXPERIMENTS, validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


def figures(truth: np.ndarray, predicted: np.ndarray, single: bool) -> str:
    if single:
        truth, guess = truth.argmax(axis=1), predicted
        if guess.ndim == 2:
            guess = guess.argmax(axis=1)
        return f"{np.mean(guess == truth):.4f} / {f1_score(truth, guess, average='macro'):.4f}"
    micro = f1_score(truth, predicted, average="micro", zero_division=0)
    macro = f1_score(truth, predicted, average="macro", zero_division=0)
    return f"{micro:.4f} / {macro:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", default="reuters-modapte", choices=EXPERIMENTS)
    parser.add_argument(
        "--vary", action="append", default=[], help="KEY=V1,V2: a model.encoder setting"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    commit, load_before = provenance.commit(), os.getloadavg()[0]
    config = load_config(REPO / EXPERIMENTS[args.experiment], ["tracking.enabled=false"])
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, _ = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    fit, val = validation_slice(config, corpus.subset(train_idx))
    labels, truth, texts = list(corpus.label_names), val.label_matrix(), list(val.texts)
    single = bool(config.data.single_label)
    data = TrainingData.from_corpus(fit)
    tfidf = fit_family(config, "tfidf", data, labels)
    rows = [f"| tfidf model | | {figures(truth, tfidf.predict(texts), single)} | |"]
    variants: list[tuple[str, dict]] = [("as shipped", {})]
    for item in args.vary:
        key, _, values = item.partition("=")
        variants += [
            (f"{key} = {v}", {key: type(getattr(config.model.encoder, key))(v)})
            for v in values.split(",")
        ]
    for name, update in variants:
        start = time.perf_counter()
        settings = config.model.encoder.model_copy(update=update)
        varied = config.model_copy(
            update={"model": config.model.model_copy(update={"encoder": settings})}
        )
        encoder = fit_family(varied, "encoder", data, labels)
        row = f"| {name} | encoder | {figures(truth, encoder.predict(texts), single)} |"
        rows.append(f"{row} {time.perf_counter() - start:.0f} |")
        if config.model.ensemble.enabled:
            ensemble = fit_family(
                varied, "ensemble", data, labels, {"tfidf": tfidf, "encoder": encoder}
            )
            rows.append(
                f"| {name} | ensemble | {figures(truth, ensemble.predict(texts), single)} | |"
            )
        print("\n".join(rows[-2:]), flush=True)
    metric = "accuracy" if single else "micro"
    text = (
        f"# {args.experiment}: the encoder's settings on a train-only slice\n\n"
        f"`python benchmarks/encoder_settings.py {' '.join(argv or sys.argv[1:])}`, commit "
        f"{commit}, {datetime.date.today()}, 2 cores, load average before / after "
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}. Fit on {len(fit):,} training "
        f"texts, scored on {len(val):,} other training texts; the test split is not read.\n\n"
        f"| encoder settings | model | validation {metric} / macro-F1 | s |\n"
        "|---|---|---|---:|\n" + "\n".join(rows) + "\n"
    )
    out = args.out or REPO / "benchmarks" / "results" / f"encoder_settings_{args.experiment}.md"
    provenance.write(out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
