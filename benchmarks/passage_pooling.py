"""How a long article's passage scores make its label scores, chosen on held-out articles.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/passage_pooling.py \\
        [--model few-shot] [--words 15] [--relative 0,0.5,0.6,0.7,0.8,0.9] [--draws 5] \\
        [--pools NAMES] [--out FILE]

``model.passages`` scores a long article window by window and gives each label its
best window's score (``max``). One paragraph then decides a label: a defence story's
paragraph on trade makes it an economy story too. This script trains ``--model`` (a
``benchmarks/passages.py`` name; the few-shot model of
``experiments/nyt-cap-few-shot.yaml`` on draws 0..D-1 of its 16-per-label sample, as
``passages.py`` does), scores every window once, and pools the windows' scores per
label in each of these ways:

- ``max``: the best window (what ships);
- ``top2`` / ``top3``: the mean of the label's 2 / 3 best windows (all of them when
  the article has fewer);
- ``max+whole``: the mean of the best window's score and the whole article's;
- ``lede K W``: the best window after every window past the article's first ``K`` is
  scaled by ``W`` (news states its topic first; a side paragraph comes later);
- ``gate G``: the best window where the whole article scores at least ``G`` for the
  label, else the whole article's score (a side sentence alone does not make a label);
- ``support S``: ``model.passage_support``, the ``ceil(n / S)``-th best of the
  article's ``n`` windows (one window in ``S`` must carry the label; the best when
  ``n <= S``).

Each pooling is decided at the model's own thresholds with every ``--relative`` cut
(``model.relative_cut``). Validation: the 248 Central Asia articles of the sample
corpus, on which the pooling and cut are chosen (best micro-F1, mean over draws), and
long articles built from them (:func:`long_articles`: 2 to 7 articles with the same
labels joined, 164 articles of 694 words at the median), where a pooling that reads
long articles otherwise than ``max`` shows what it does (the sample corpus's run to 257
words); the six seed articles are reported only. Writes
``benchmarks/results/passage_pooling.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from benchmarks.passages import DATA, MODELS, SAMPLE, articles, labelled, train  # noqa: E402
from topics.kernels.passages import best_of, split_passages  # noqa: E402
from topics.serve.predictor import Predictor  # noqa: E402


def top(k: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Per label, the mean of an article's ``k`` best window scores."""

    def pool(windows: np.ndarray, whole: np.ndarray) -> np.ndarray:
        best = np.sort(windows, axis=0)[::-1][:k]
        return best.mean(axis=0)

    return pool


def lede(k: int, weight: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Per label, the best window once the windows past the first ``k`` are scaled by
    ``weight``."""

    def pool(windows: np.ndarray, whole: np.ndarray) -> np.ndarray:
        scale = np.where(np.arange(len(windows)) < k, 1.0, weight)
        return (windows * scale[:, None]).max(axis=0)

    return pool


def gate(floor: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Per label, the best window where the whole article scores ``floor`` or more,
    else the whole article's score."""

    def pool(windows: np.ndarray, whole: np.ndarray) -> np.ndarray:
        return np.where(whole >= floor, windows.max(axis=0), whole)

    return pool


def support(every: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Per label, ``model.passage_support``'s pooling: as the product pools."""

    def pool(windows: np.ndarray, whole: np.ndarray) -> np.ndarray:
        return best_of(windows, np.array([0]), every)[0]

    return pool


POOLS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "max": lambda windows, whole: windows.max(axis=0),
    "top2": top(2),
    "top3": top(3),
    "max+whole": lambda windows, whole: (windows.max(axis=0) + whole) / 2,
    **{f"lede {k} {w:g}": lede(k, w) for k in (2, 3, 4) for w in (0.8, 0.9)},
    **{f"gate {g:g}": gate(g) for g in (0.05, 0.1, 0.2, 0.3)},
    **{f"support {every}": support(every) for every in (10, 20, 30, 40)},
}


def long_articles(
    texts: list[str], y: np.ndarray, shuffles: int = 3
) -> tuple[list[str], np.ndarray]:
    """Long articles from short ones: ``texts`` with the same labels (a row of ``y``),
    in each of ``shuffles`` random orders, joined 2, 3, ..., 7, 2, ... at a time (a
    shuffle's first group has 2 + its number); each keeps the labels its parts share."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for text, row in zip(texts, y, strict=True):
        groups.setdefault(tuple(int(v) for v in row), []).append(text)
    joined: list[str] = []
    labels: list[tuple[int, ...]] = []
    for shuffle in range(shuffles):
        rng = np.random.default_rng(shuffle)
        for key, members in groups.items():
            order, start, size = rng.permutation(len(members)), 0, 2 + shuffle
            while start + size <= len(order):
                joined.append("\n\n".join(members[i] for i in order[start : start + size]))
                labels.append(key)
                start, size = start + size, 2 + (size - 1) % 6
    return joined, np.array(labels)


def pooled(
    predictor: Predictor,
    texts: list[str],
    words: int,
    pools: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]],
) -> dict[str, np.ndarray]:
    """Each of ``pools``' ``(n_texts, n_labels)`` scores of ``texts``, cut at ``words``."""
    flat, starts = split_passages(texts, words)
    windows = predictor.predict_proba(flat, passages=0)
    whole = predictor.predict_proba(texts, passages=0)
    ends = [*starts[1:], len(flat)]
    return {
        name: np.array(
            [
                pool(windows[a:b], whole[i])
                for i, (a, b) in enumerate(zip(starts, ends, strict=True))
            ]
        )
        for name, pool in pools.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=list(MODELS), default="few-shot", help="what to train")
    parser.add_argument("--words", type=int, default=15, help="model.passages")
    parser.add_argument("--relative", default="0,0.5,0.6,0.7,0.8,0.9", help="cuts to try")
    parser.add_argument("--draws", type=int, default=5, help="few-shot draws 0..D-1")
    parser.add_argument(
        "--pools", default=",".join(POOLS), help="comma-separated poolings (max always)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/passage_pooling.md")
    args = parser.parse_args()
    seeds = DATA / "seed-articles.jsonl"
    if not seeds.exists():
        raise SystemExit(f"{seeds} not found; set TOPICS_DATA_DIR to the shared data folder")
    commit = provenance.commit()
    name, experiment, overrides = MODELS[args.model]
    few_shot = args.model == "few-shot"  # the one model drawn from a sample
    draws = args.draws if few_shot else 1
    cuts = [float(share) for share in args.relative.split(",")]
    pools = {"max": POOLS["max"]} | {name: POOLS[name] for name in args.pools.split(",")}
    scored: dict[tuple[str, float], list[tuple[float, float, float, str]]] = {
        (pool, share): [] for pool in pools for share in cuts
    }
    with tempfile.TemporaryDirectory() as tmp:
        for draw in range(draws):
            print(f"training {name}, draw {draw}", file=sys.stderr, flush=True)
            extra = [f"data.train_sample.seed={draw}"] if few_shot else []
            bundle, _ = train(experiment, [*overrides, *extra], Path(tmp) / f"runs-{draw}")
            predictor = Predictor.load(bundle)
            val_texts, val_y = articles(SAMPLE, predictor.labels)
            seed_texts, seed_y = articles(seeds, predictor.labels)
            long_texts, long_y = long_articles(val_texts, val_y)
            val = pooled(predictor, val_texts, args.words, pools)
            long = pooled(predictor, long_texts, args.words, pools)
            shipped = predictor.predict_proba(val_texts, passages=args.words)
            if not np.allclose(val["max"], shipped):
                raise SystemExit("max pooling differs from the Predictor's own: a bug here")
            seed = pooled(predictor, seed_texts, args.words, pools)
            for pool, share in scored:
                val_labels = labelled(predictor, val[pool], share)
                long_labels = labelled(predictor, long[pool], share)
                seed_labels = labelled(predictor, seed[pool], share)
                scored[pool, share].append(
                    (
                        f1_score(val_y, val_labels, average="micro", zero_division=0),
                        f1_score(val_y, val_labels, average="macro", zero_division=0),
                        f1_score(long_y, long_labels, average="micro", zero_division=0),
                        f"{int((seed_labels & seed_y).sum())}/{int(seed_y.sum())} "
                        f"{int((seed_labels & (1 - seed_y)).sum())}",
                    )
                )
    means = {
        setting: tuple(np.mean([r[k] for r in rows]) for k in range(3))
        for setting, rows in scored.items()
    }
    chosen = max(means, key=lambda setting: means[setting][:3:2])  # ties: long articles
    lines = [
        "| pooling | relative cut | validation micro-F1 | validation macro-F1 | "
        "long articles micro-F1 | seed labels found / false labels, per draw |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for (pool, share), (micro, macro, long_micro) in means.items():
        mark = " (chosen)" if (pool, share) == chosen else ""
        seeds_text = ", ".join(r[3] for r in scored[pool, share])
        lines.append(
            f"| {pool}{mark} | {share:g} | {micro:.4f} | {macro:.4f} | {long_micro:.4f} "
            f"| {seeds_text} |"
        )
    text = (
        "# Pooling a long article's passage scores\n\n"
        f"`python benchmarks/passage_pooling.py --model {args.model} --words {args.words} "
        f"--relative {args.relative} --draws {draws} --pools '{args.pools}'`, commit {commit}, "
        f"{datetime.date.today()}, {os.cpu_count()} cores. {name}"
        + (f", draws 0..{draws - 1}" if few_shot else "")
        + f"; articles of {2 * args.words}+ words "
        f"cut into windows of {args.words}+ words, each label's windows pooled as the first "
        "column says, labels at the model's own thresholds and the relative cut. "
        "Validation: the 248 Central Asia articles of the sample corpus (mean over draws), "
        "on which pooling and cut are chosen (best micro-F1), and long articles built from "
        "them (2-7 with the same labels joined, `long_articles`); seed: the six seed "
        "articles (8 gold labels), reported only.\n\n" + "\n".join(lines) + "\n"
    )
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
