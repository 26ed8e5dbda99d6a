"""Long articles scored passage by passage: ``model.passages`` chosen on held-out articles.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/passages.py \\
        [--words 0,15,20,25,30,40,60,80,100] [--models zero-shot,few-shot,tfidf] [--out FILE]

Models trained on nyt-cap (front-page titles and summaries, 14 words at the median)
are asked to label long articles. This script trains them as a user would (``topics
run``, no tracking, ``model.passages=0``), each ``--models`` name one experiment:
``zero-shot`` and ``few-shot`` (``experiments/nyt-cap-zero-shot.yaml`` and
``nyt-cap-few-shot.yaml``, 16 labelled per label, draw 0), ``tfidf`` (the tfidf
model of ``experiments/nyt-cap.yaml``), ``static`` (``nyt-cap.yaml``'s primary) and
``ensemble`` (``nyt-cap-encoder.yaml``'s primary, the encoder and ensemble: it
fine-tunes MiniLM). Each bundle's ``Predictor`` then labels, at its own thresholds, for every
``--words`` value (0: whole texts):

- the validation set: the 248 labelled Central Asia articles of the sample corpus
  (``topics/sample_data``, 162 words on average), on which ``passages`` is chosen
  (best micro-F1) among 0 and N >= ``--least`` (15): shorter passages cut texts of
  the model's own training length (nyt-cap's title from its summary), and at N = 5
  the encoder + ensemble's nyt-cap test micro-F1 fell from 0.736 to 0.710;
- the six seed articles (``seed-articles.jsonl``, 250-320 words): issue 18's
  target, reported, never chosen on.

``--set KEY=VALUE`` (repeatable) overrides every ``--models`` experiment's config, as
``topics run --set`` does; each training's wall time and its models' fit times are
given below the table (a fine-tune found in the run cache is read back, not redone, and
its fit time is then the read's).

``--relative`` adds ``model.relative_cut`` values (a label only where it scores that
share of the article's best label's score), chosen with ``passages`` on the same
validation set. ``--draws D`` trains the few-shot model on draws 0..D-1 of its
16-per-label sample (``data.train_sample.seed``); its validation figures are then the
mean over the draws, and the seed articles are given per draw.

Writes ``benchmarks/results/passages.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from topics.kernels.linear import decide  # noqa: E402
from topics.serve.predictor import Predictor  # noqa: E402

DATA = Path(os.environ.get("TOPICS_DATA_DIR", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "topics" / "sample_data" / "central_asia_news.jsonl"
BIN = Path(sys.executable).parent
TFIDF_ONLY = [
    "model.static.enabled=false",
    "model.encoder.enabled=false",
    "model.ensemble.enabled=false",
    "model.lda.enabled=false",
    "model.primary=tfidf",
]
MODELS = {  # --models name: (row name, experiment, overrides)
    "zero-shot": ("zero-shot (nyt-cap-zero-shot.yaml)", "experiments/nyt-cap-zero-shot.yaml", []),
    "few-shot": (
        "few-shot, 16 per label (nyt-cap-few-shot.yaml)",
        "experiments/nyt-cap-few-shot.yaml",
        [],
    ),
    "tfidf": ("tfidf (nyt-cap.yaml, tfidf only)", "experiments/nyt-cap.yaml", TFIDF_ONLY),
    "static": ("static (nyt-cap.yaml, its primary)", "experiments/nyt-cap.yaml", []),
    "ensemble": (
        "encoder + ensemble (nyt-cap-encoder.yaml, its primary)",
        "experiments/nyt-cap-encoder.yaml",
        ["model.lda.enabled=false"],
    ),
}


def train(experiment: str, overrides: list[str], out: Path) -> tuple[Path, dict[str, float]]:
    """The bundle folder of one ``topics run`` of ``experiment`` and its metrics."""
    command = [str(BIN / "topics"), "run", experiment, "--no-track", "--json"]
    for override in [f"output_dir={out}", "model.passages=0", "model.relative_cut=0", *overrides]:
        command += ["--set", override]
    env = {**os.environ, "TOPICS_DATA_DIR": str(DATA)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return REPO / result["artifact_dir"] / "model", result["metrics"]


def articles(path: Path, labels: list[str]) -> tuple[list[str], np.ndarray]:
    """Texts as ``classify`` reads a JSONL record (title. text) and their 0/1 labels."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [". ".join(part for part in (r.get("title"), r.get("text")) if part) for r in rows]
    return texts, np.array([[int(name in r["labels"]) for name in labels] for r in rows])


def labelled(predictor: Predictor, proba: np.ndarray, share: float) -> np.ndarray:
    """The primary model's labels from its probabilities, as ``classify`` decides them
    with ``--relative-cut share``."""
    thresholds = predictor.models[predictor.primary].thresholds
    return decide(proba, thresholds, predictor.single_label, relative_cut=share)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--words", default="0,15,20,25,30,40,60,80,100", help="model.passages values"
    )
    parser.add_argument(
        "--models",
        default="zero-shot,few-shot,tfidf",
        help=f"comma-separated, of {', '.join(MODELS)} (the last fine-tunes MiniLM: ~30 min)",
    )
    parser.add_argument(
        "--least",
        type=int,
        default=15,
        help="choose among N >= this (or 0): passages no shorter than the training texts "
        "(99%% of nyt-cap's are under 30 words, kept whole at N >= 15)",
    )
    parser.add_argument(
        "--relative", default="0", help="model.relative_cut values, chosen with --words"
    )
    parser.add_argument(
        "--draws", type=int, default=1, help="few-shot: train draws 0..D-1, figures their mean"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override every --models experiment's config (repeatable), as topics run --set",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/passages.md")
    args = parser.parse_args()
    seeds = DATA / "seed-articles.jsonl"
    if not seeds.exists():
        raise SystemExit(f"{seeds} not found; set TOPICS_DATA_DIR to the shared data folder")
    commit = provenance.commit()
    grid = [
        (int(words), float(share))
        for words in args.words.split(",")
        for share in args.relative.split(",")
    ]
    lines = [
        "| model | passages (words) | relative cut | validation micro-F1 | "
        "validation macro-F1 | seed labels found / false labels |",
        "|---|---:|---:|---:|---:|---|",
    ]
    minutes = []  # (row name, draw, wall minutes of its topics run, its models' fits)
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            name, experiment, overrides = MODELS[key]
            draws = range(args.draws if key == "few-shot" else 1)
            scored: dict[tuple[int, float], list[tuple[float, float, str]]] = {
                setting: [] for setting in grid
            }  # per draw: val micro, macro, seeds
            for draw in draws:
                print(f"training {name}, draw {draw}", file=sys.stderr, flush=True)
                extra = [f"data.train_sample.seed={draw}"] if key == "few-shot" else []
                runs = Path(tmp) / f"runs-{key}-{draw}"
                start = time.perf_counter()
                bundle, metrics = train(experiment, [*overrides, *args.overrides, *extra], runs)
                fits = ", ".join(
                    f"{metric.removesuffix('_fit_seconds')} fit {seconds / 60:.1f}"
                    for metric, seconds in metrics.items()
                    if metric.endswith("_fit_seconds")
                )
                minutes.append((name, draw, (time.perf_counter() - start) / 60, fits))
                predictor = Predictor.load(bundle)
                val_texts, val_y = articles(SAMPLE, predictor.labels)
                seed_texts, seed_y = articles(seeds, predictor.labels)
                proba = {  # scored once per N; the relative cut only decides
                    words: [
                        predictor.predict_proba(t, passages=words) for t in (val_texts, seed_texts)
                    ]
                    for words in {words for words, _ in grid}
                }
                for words, share in grid:
                    val = labelled(predictor, proba[words][0], share)
                    seed = labelled(predictor, proba[words][1], share)
                    scored[words, share].append(
                        (
                            f1_score(val_y, val, average="micro", zero_division=0),
                            f1_score(val_y, val, average="macro", zero_division=0),
                            f"{int((seed & seed_y).sum())}/{int(seed_y.sum())} "
                            f"{int((seed & (1 - seed_y)).sum())}",
                        )
                    )
                    print(name, draw, words, share, scored[words, share][-1], file=sys.stderr)
            means = {
                setting: (np.mean([r[0] for r in rows]), np.mean([r[1] for r in rows]))
                for setting, rows in scored.items()
            }
            allowed = [s for s in grid if s[0] == 0 or s[0] >= args.least]
            chosen = max(allowed, key=lambda setting: means[setting][0])
            for (words, share), (micro, macro) in means.items():
                mark = " (chosen)" if (words, share) == chosen else ""
                seeds_text = ", ".join(r[2] for r in scored[words, share])
                lines.append(
                    f"| {name} | {words}{mark} | {share:g} | {micro:.3f} | {macro:.3f} | "
                    f"{seeds_text} |"
                )
    sets = "".join(f" --set {override}" for override in args.overrides)
    timings = "\n".join(
        f"- {name}, draw {draw}: {wall:.1f} min ({fits} min)" for name, draw, wall, fits in minutes
    )
    text = (
        "# Long articles scored passage by passage\n\n"
        f"`python benchmarks/passages.py --words {args.words} --relative {args.relative} "
        f"--models {args.models} --draws {args.draws}{sets}`, "
        f"commit {commit}, "
        f"{datetime.date.today()}, {os.cpu_count()} cores. Models trained on nyt-cap (titles and "
        "summaries, 14 words at the median), labels at each model's own thresholds. "
        "passages N: texts of 2N words or more scored by windows of whole sentences of "
        "at least N words, each label at its best window; 0: whole texts. Relative cut "
        "r: a label only where it scores r x the article's best label's score. "
        f"The few-shot model: the mean over {args.draws} draw(s) of its sample, seed "
        "articles per draw (found/gold false). Validation: "
        "the 248 Central Asia articles of the sample corpus (162 words on average), on "
        f"which N and r are chosen (best micro-F1, among 0 and N >= {args.least}: shorter passages "
        "would cut the model's own training-length texts, titles from summaries); seed: "
        "the six seed articles (8 gold labels), "
        "reported only.\n\n" + "\n".join(lines) + "\n\n"
        "Training: wall time of each `topics run` (2 cores; it also scores the experiment's "
        "test and seed articles) and, in brackets, its models' fit times:\n\n" + timings + "\n"
    )
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
