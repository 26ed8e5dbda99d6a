"""The ``few_shot`` model's settings, scored on the training years only.

Issue 18's rule: choices are made on train slices, never on the test years
(2004-2006). This script scores ``experiments/nyt-cap-few-shot.yaml``'s model on two
folds of the training years 1996-2003:

- A: the pool is 1999-2003, the validation years 1996-1998;
- B: the pool is 1996-2000, the validation years 2001-2003.

Each draw takes N articles per label plus N with none from the pool
(``data.train_sample``'s protocol, seed = draw); the rest of the pool is the
unlabelled archive. The first row is the experiment as shipped; each other row
changes one of its ``model.few_shot`` settings (``--vary``). Cells are validation
micro-F1, the mean over both folds and the draws.

    TOPICS_DATA_DIR=../shared/data python benchmarks/few_shot_choices.py \\
        [--n 0,16,64] [--draws 3] [--vary C=1,10 --vary confident=0.8,0.95] \\
        [--vary data.none_descriptions=@lines.yaml] [--set vectors=static] [--out FILE]

``--set`` changes a setting in every row, the first one included. ``--cuts 0.6,0.7``
adds a row per cut: the first row's models, each label given at that student
probability instead of 0.5 (no model is fitted again). With ``--set
encoder_epochs=1``, ``--mixes 0.3,0.5`` adds a row per weight: the first row's
fine-tuned encoder (the noisy student) and its linear student, their probabilities
mixed at that weight for the encoder, cut at 0.5.

Embeddings are cached under the experiment's ``cache_dir``, as in ``few_shot.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from benchmarks.few_shot import EXPERIMENT, scores  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import draw_train_sample  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.prepare import prepare  # noqa: E402

FOLDS = {"A": ((1999, 2003), (1996, 1998)), "B": ((1996, 2000), (2001, 2003))}
DEFAULT_VARY = [
    "description_threshold=0.3,0.5",
    "confident=0.8,0.95",
    "C=1,10",
    "labelled_weight=5,80",
    "rounds=1,3",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", default="0,16,64", help="labelled per label, comma-separated")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument(
        "--vary",
        action="append",
        help="SETTING=V1,V2: one row per value, the rest as shipped; a model.few_shot "
        "setting, or a config key with dots, e.g. data.none_descriptions=null; @FILE: "
        f"one row with the YAML value in FILE, e.g. a list (default: {' '.join(DEFAULT_VARY)})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a model.few_shot setting for every row, e.g. vectors=static",
    )
    parser.add_argument("--cuts", default="", help="student cuts scored on the first row's fits")
    parser.add_argument(
        "--mixes", default="", help="the noisy student's weights beside the linear student's"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cuts = [float(c) for c in args.cuts.split(",") if c]
    mixes = [float(w) for w in args.mixes.split(",") if w]
    if mixes and not any(spec.startswith("encoder_epochs=") for spec in args.set):
        parser.error("--mixes needs a noisy student in every row: --set encoder_epochs=1")
    common = [f"model.few_shot.{spec}" for spec in args.set]
    sizes = [int(n) for n in args.n.split(",")]
    rows = [("as shipped" if not args.set else "--set only", "")] + [
        (f"{key} = {value}", f"{key if '.' in key else 'model.few_shot.' + key}={parsed(value)}")
        for spec in vary_specs(args)
        for key, values in [spec.split("=", 1)]
        for value in ([values] if values.startswith("@") else values.split(","))
    ]

    commit = provenance.commit()
    base = load_config(EXPERIMENT, ["tracking.enabled=false", *common])
    base.data.train_sample = None
    train, between = training_years(base)
    labels = list(train.label_names)
    y_all = train.label_matrix()

    results: dict[tuple[str, int], list[float]] = {}
    started = time.perf_counter()
    for name, override in rows:
        overrides = ["tracking.enabled=false", *common, *([override] * bool(override))]
        config = load_config(EXPERIMENT, overrides)
        config.data.train_sample = None
        for n in sizes:
            for fold, (pool_years, val_years) in FOLDS.items():
                pool, val = between(pool_years), between(val_years)
                for draw in range(args.draws if n else 1):
                    sample = draw_train_sample(y_all[pool], labels, per_label=n, none=n, seed=draw)
                    taken = pool[sample.indices]
                    rest = np.setdiff1d(pool, taken)
                    data = TrainingData(
                        [train.texts[i] for i in taken],
                        y_all[taken],
                        unlabelled=[train.texts[i] for i in rest],
                    )
                    model = fit_family(config, "few_shot", data, labels)
                    val_texts = [train.texts[i] for i in val]
                    proba = model.classifier.predict_proba(val_texts)
                    micro = scores(y_all[val], model.classifier.decide(proba))[0]
                    results.setdefault((name, n), []).append(micro)
                    if mixes and not override and model.classifier.encoder_ is not None:
                        student = linear_student(model.classifier, val_texts)
                        for weight in mixes:
                            mixed = weight * proba + (1 - weight) * student
                            at_mix = scores(y_all[val], (mixed >= 0.5).astype(int))[0]
                            results.setdefault((f"mix {weight:g}", n), []).append(at_mix)
                    if cuts and not override:
                        for cut in cuts:
                            at_cut = scores(y_all[val], (proba >= cut).astype(int))[0]
                            results.setdefault((f"student cut {cut:g}", n), []).append(at_cut)
                    print(f"{name} N={n} fold {fold} draw {draw}: {micro:.4f}", file=sys.stderr)
        if args.out:  # what has run so far survives an interrupted benchmark
            args.out.write_text(report(args, commit, base, sizes, results), encoding="utf-8")
    print(report(args, commit, base, sizes, results))
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)


def vary_specs(args: argparse.Namespace) -> list[str]:
    """The ``--vary`` settings; with none given, the defaults, unless ``--cuts`` or
    ``--mixes`` is."""
    return args.vary or ([] if args.cuts or args.mixes else DEFAULT_VARY)


def linear_student(model: Any, texts: list[str]) -> np.ndarray:
    """The probabilities of ``model``'s linear student, which its fine-tuned encoder
    (the noisy student) replaces in :meth:`predict_proba`."""
    encoder, model.encoder_ = model.encoder_, None
    try:
        return np.asarray(model.predict_proba(texts))
    finally:
        model.encoder_ = encoder


def parsed(value: str) -> str:
    """``value``, or for ``@FILE`` the YAML value in FILE as one line an override takes
    (JSON is YAML)."""
    if not value.startswith("@"):
        return value
    return json.dumps(yaml.safe_load(Path(value[1:]).read_text(encoding="utf-8")))


def training_years(config: Any) -> tuple[Any, Callable[[tuple[int, int]], np.ndarray]]:
    """The experiment's training split (``config.data.train_sample`` off) and a function
    giving the indices of its articles from a span of years, both ends included."""
    train = prepare(config).train
    years = np.array([int(str(year)) for year in train.meta["year"]])

    def between(span: tuple[int, int]) -> np.ndarray:
        return np.flatnonzero((years >= span[0]) & (years <= span[1]))

    return train, between


def report(
    args: argparse.Namespace,
    commit: str,
    base: Any,
    sizes: list[int],
    results: dict[tuple[str, int], list[float]],
) -> str:
    shipped = base.model.few_shot
    settings = ", ".join(
        [f"{len(base.data.none_descriptions or [])} none descriptions"]
        + [
            f"{key} {getattr(shipped, key)}"
            for key in (
                "vectors",
                "scale",
                "description_threshold",
                "none_margin",
                "confident",
                "min_agreement",
                "teacher_min_positives",
                "C",
                "labelled_weight",
                "rounds",
            )
        ]
    )
    varied = " ".join(
        [f"--vary {spec}" for spec in vary_specs(args)]
        + [f"--set {spec}" for spec in args.set]
        + [f"--cuts {args.cuts}"] * bool(args.cuts)
        + [f"--mixes {args.mixes}"] * bool(args.mixes)
    )
    lines = [
        "# The few_shot model's settings on the training years",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/few_shot_choices.py --n "
        f"{args.n} --draws {args.draws} {varied}`, commit {commit}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores.",
        "",
        "Validation micro-F1, mean over two folds of the training years (pool 1999-2003 "
        "scored on 1996-1998; pool 1996-2000 scored on 2001-2003) and "
        f"{args.draws} draws per fold (one at N = 0); the test years are not scored. "
        f"First row (`experiments/nyt-cap-few-shot.yaml`"
        f"{', with --set' * bool(args.set)}): {settings}.",
        "",
        "| setting | " + " | ".join(f"N = {n}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name in dict.fromkeys(name for name, _ in results):
        cells = [
            f"{np.mean(results[(name, n)]):.4f}" if (name, n) in results else "" for n in sizes
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
