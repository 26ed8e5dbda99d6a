"""Does ``topics suggest`` pick better articles to label than chance? On nyt-cap.

An editor works in rounds. The few-shot model of ``experiments/nyt-cap-few-shot.yaml``
starts from zero labels (label descriptions and seed words, self-trained on the
archive: the training years 1996-2003, their labels hidden). Each round, ``--per-round``
articles of the archive are picked, "labelled" with their gold labels, and the model
is retrained on every article labelled so far, the rest of the archive unlabelled.
Three ways to pick, from the same start:

- ``suggest``: what ``topics suggest`` picks (:func:`topics.evaluate.suggest.pick_for_labelling`
  over the model's probabilities of the articles not yet labelled, long ones by
  passage, as the bundle scores them);
- ``random``: articles drawn uniformly from those not yet labelled (one draw per seed);
- ``balanced``: ``data.train_sample``'s protocol at the same count, N per label plus N
  with none, which needs the labels before labelling (``benchmarks/few_shot.py``'s
  draws: 5N articles, at its N of 8, 16, 32 and 64).

Each model is scored on the test years 2004-2006 (micro / macro F1), as
``benchmarks/few_shot.py`` scores it; nothing is chosen on them. ``--folds`` runs the
same loop on the training years alone, to choose settings (``--set``): on each fold of
``few_shot_choices.py``, its pool is the archive and its validation years are scored.

    TOPICS_DATA_DIR=../shared/data python benchmarks/suggest_curve.py \\
        [--rounds 8] [--per-round 20] [--draws 3] [--folds] [--set SETTING=VALUE] \\
        [--out FILE]

Embeddings are cached under the experiment's ``cache_dir``: the first run embeds the
archive's passages once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from benchmarks.few_shot import EXPERIMENT, Scores, labelled, scores  # noqa: E402
from benchmarks.few_shot_choices import FOLDS  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import draw_train_sample  # noqa: E402
from topics.evaluate.suggest import hashed_word_vectors, pick_for_labelling  # noqa: E402
from topics.families.base import FittedModel, TrainingData  # noqa: E402
from topics.kernels.passages import by_passage  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.prepare import prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--draws", type=int, default=3, help="seeds of random and balanced")
    parser.add_argument(
        "--folds",
        action="store_true",
        help="the training years only, to choose settings: the loop on each fold of "
        "few_shot_choices.py (its pool the archive, scored on its validation years)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a model.few_shot setting, e.g. teacher_min_positives=4",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    commit = provenance.commit()
    config = load_config(
        EXPERIMENT, ["tracking.enabled=false", *(f"model.few_shot.{s}" for s in args.set)]
    )
    config.data.train_sample = None
    prepared = prepare(config)
    train = prepared.train
    labels = list(train.label_names)
    y_train = train.label_matrix()
    if args.folds:
        years = np.array([int(str(year)) for year in train.meta["year"]])
        within = {
            name: [np.flatnonzero((years >= a) & (years <= b)) for a, b in spans]
            for name, spans in FOLDS.items()
        }
        splits = {
            f"fold {name}": (
                [train.texts[i] for i in pool],
                y_train[pool],
                [train.texts[i] for i in val],
                y_train[val],
            )
            for name, (pool, val) in within.items()
        }
    else:
        test = prepared.test
        splits = {"test": (list(train.texts), y_train, list(test.texts), test.label_matrix())}
    words, support = config.model.passages, config.model.passage_support

    results: dict[tuple[str, str, int], list[Scores]] = {}
    started = time.perf_counter()

    def run(
        split: str, archive: list[str], y_archive: np.ndarray, texts: list[str], y_true: np.ndarray
    ) -> None:
        print(f"{split}: {len(archive)} archive, {len(texts)} scored articles", file=sys.stderr)

        def fit(taken: list[int]) -> FittedModel:
            rest = np.setdiff1d(np.arange(len(archive)), taken)
            data = TrainingData(
                [archive[i] for i in taken],
                y_archive[taken],
                unlabelled=[archive[i] for i in rest],
            )
            return fit_family(config, "few_shot", data, labels)

        def record(way: str, count: int, model: FittedModel) -> None:
            got = results.setdefault((split, way, count), [])
            got.append(
                scores(y_true, labelled(model, texts, words, support, config.model.relative_cut))
            )
            print(f"{split} {way} {count}: {got[-1][0]:.4f} / {got[-1][1]:.4f}", file=sys.stderr)
            if args.out:  # what has run so far survives an interrupted benchmark
                args.out.write_text(report(args, commit, results, started), encoding="utf-8")

        start = fit([])
        record("suggest", 0, start)
        if args.draws:  # random's start is the same model
            results[(split, "random", 0)] = list(results[(split, "suggest", 0)])
        counts = [args.per_round * r for r in range(1, args.rounds + 1)]
        for way in ("suggest", "random"):
            for draw in range(1 if way == "suggest" else args.draws):
                rng = np.random.default_rng(draw)
                model, taken = start, []
                for count in counts:
                    left = np.setdiff1d(np.arange(len(archive)), taken)
                    if way == "suggest":  # the whole archive scored: one embedding cache entry
                        proba = by_passage(model.predict_proba, archive, words, support)
                        picks = pick_for_labelling(
                            proba[left],
                            model.classifier.thresholds_,
                            labels,
                            hashed_word_vectors([archive[i] for i in left]),
                            args.per_round,
                        )
                        new = [int(left[pick.index]) for pick in picks]
                    else:
                        new = rng.choice(left, args.per_round, replace=False).tolist()
                    taken = taken + new
                    model = fit(taken)
                    record(way, count, model)
        for count in counts:
            n = count // 5
            if count % 5 or n not in (8, 16, 32, 64):  # benchmarks/few_shot.py's N
                continue
            for draw in range(args.draws):
                sample = draw_train_sample(y_archive, labels, per_label=n, none=n, seed=draw)
                record("balanced", count, fit(sample.indices.tolist()))

    for split, data in splits.items():
        run(split, *data)
    print(report(args, commit, results, started))


def report(
    args: argparse.Namespace,
    commit: str,
    results: dict[tuple[str, str, int], list[Scores]],
    started: float,
) -> str:
    counts = sorted({count for _, _, count in results})
    splits = list(dict.fromkeys(split for split, _, _ in results))
    columns = [
        (split, way)
        for split in splits
        for way in ("suggest", "random", "balanced")
        if (split, way) in {(s, w) for s, w, _ in results}
    ]
    command = (
        f"--rounds {args.rounds} --per-round {args.per_round} --draws {args.draws}"
        + " --folds" * args.folds
        + "".join(f" --set {spec}" for spec in args.set)
    )
    scored = (
        "validation micro / macro F1 on each fold of `few_shot_choices.py` (A: archive "
        "1999-2003, scored on 1996-1998; B: archive 1996-2000, scored on 2001-2003)"
        if args.folds
        else "test micro / macro F1 on 2004-2006 (7,450 articles)"
    )
    lines = [
        "# Labelling what `topics suggest` picks, against picking at random, on nyt-cap",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/suggest_curve.py {command}`, "
        f"commit {commit}, {time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} "
        f"cores, {time.perf_counter() - started:.0f} s.",
        "",
        f"Articles labelled (gold labels, picked in rounds of {args.per_round} from a "
        f"zero-shot start) against {scored}; `experiments/nyt-cap-few-shot.yaml`'s model. "
        "suggest: one run (it is deterministic); random and balanced (N per label plus N "
        f"with none, 5N articles): mean ± sd of {args.draws} seeds.",
        "",
        "| labelled | "
        + " | ".join(way if len(splits) == 1 else f"{way}, {split}" for split, way in columns)
        + " |",
        "|---:|" + "---|" * len(columns),
    ]
    for count in counts:
        cells = []
        for split, way in columns:
            got = results.get((split, way, count))
            if not got:
                cells.append("")
                continue
            micro, macro = np.array(got).T
            spread = f" ± {micro.std():.3f}" if len(got) > 1 else ""
            cells.append(f"{micro.mean():.3f}{spread} / {macro.mean():.3f}")
        lines.append(f"| {count} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
