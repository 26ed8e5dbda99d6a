"""An experiment's primary model against its tfidf-only model, same run: issue 17's figures.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/primary_speed.py \\
        [experiments/nyt-cap.yaml] [--primary KEY=VALUE ...] [--also KEY=VALUE ...] \\
        [--tfidf-from EXPERIMENT]

Runs ``topics run`` as a user runs it (no tracking): the experiment as its YAML
says (or with the ``--primary`` overrides: a candidate primary not shipped yet),
the same experiment with every family but ``tfidf`` disabled (or ``--tfidf-from``'s:
where the experiment's primary is itself a tfidf model, the plain one it is
measured against, e.g. 20 Newsgroups' ``20newsgroups-encoder.yaml``), and once more per
``--also`` override (e.g. ``model.few_shot.vectors=encoder``). Every bundle
keeps its primary model only (``model.bundle: primary``). For each:

- test micro / macro-F1 (accuracy for single-label data) of the primary model,
  from the run, and whether the bundle reproduces them exactly (its ``Predictor``
  on the test split);
- predict throughput: ``Predictor.predict_proba`` over the test texts in chunks
  of 1024, one process, best of 3;
- cold start: ``classify`` in a fresh process on one article, median of
  ``--repeats`` after one unmeasured start (bytecode cached, as a user's second run:
  ``provenance.cold_start_env``), and the peak RSS of those processes (median);
- bundle size on disk; training: the run's wall clock.

Writes ``benchmarks/results/primary_speed_<experiment>.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import load_split  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.families import FAMILIES  # noqa: E402
from topics.serve.predictor import Predictor  # noqa: E402

BIN = Path(sys.executable).parent
ARTICLE = (
    "Kazakhstan and South Korea signed an agreement on a joint investment in a bus and "
    "truck assembly plant near Almaty, creating 1,200 jobs and exporting to Central Asia."
)


def train(experiment: str, overrides: list[str], out: Path) -> tuple[Path, dict[str, Any], float]:
    """(the bundle folder, the run's metrics, wall seconds) of one ``topics run``."""
    command = [str(BIN / "topics"), "run", experiment, "--no-track", "--json"]
    for override in [f"output_dir={out}", "model.bundle=primary", *overrides]:
        command += ["--set", override]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    run_dir = Path(json.loads(done.stdout.strip().splitlines()[-1])["artifact_dir"])
    return run_dir / "model", json.loads((run_dir / "metrics.json").read_text()), seconds


def figures(
    bundle: Path, metrics: dict[str, Any], texts: list[str], y: np.ndarray, repeats: int
) -> dict[str, Any]:
    predictor = Predictor.load(bundle)
    single = predictor.single_label
    predicted = np.zeros_like(y)
    for i, result in enumerate(predictor.predict(texts)):
        predicted[i, [predictor.labels.index(label) for label in result["labels"]]] = 1
    if single:
        first = ("test_accuracy", float(accuracy_score(y.argmax(1), predicted.argmax(1))))
    else:
        first = ("test_micro_f1", float(f1_score(y, predicted, average="micro")))
    macro = float(f1_score(y, predicted, average="macro", zero_division=0))
    exact = first[1] == metrics[first[0]] and macro == metrics["test_macro_f1"]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(texts), 1024):
            predictor.predict_proba(texts[i : i + 1024])
        best = min(best, time.perf_counter() - start)
    starts, peaks = [], []
    command = ["/usr/bin/time", "-f", "%M", str(BIN / "classify"), "--model", str(bundle), ARTICLE]
    env = provenance.cold_start_env()
    subprocess.run(command, capture_output=True, check=True, env=env)  # caches bytecode
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        starts.append(time.perf_counter() - start)
        peaks.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
    return {
        "model": predictor.primary,
        "first": first,
        "macro": macro,
        "exact": exact,
        "docs_s": len(texts) / best,
        "cold_s": statistics.median(starts),
        "rss_mb": statistics.median(peaks),
        "size_mb": sum(f.stat().st_size for f in bundle.iterdir()) / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "experiment",
        nargs="?",
        default="experiments/nyt-cap.yaml",
        help="an experiment YAML",
    )
    parser.add_argument("--repeats", type=int, default=9, help="cold starts per bundle")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more row: the experiment with this override",
    )
    parser.add_argument(
        "--primary",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="the primary row's overrides (repeatable), e.g. model.tfidf.nb_alpha=1",
    )
    parser.add_argument(
        "--tfidf-from",
        metavar="EXPERIMENT",
        help="train the tfidf-only row from this experiment (default: the same one)",
    )
    parser.add_argument(
        "--out", type=Path, help="default: benchmarks/results/primary_speed_<name>.md"
    )
    args = parser.parse_args(argv)
    flags = [f"--primary {override}" for override in args.primary]
    flags += [f"--also {override}" for override in args.also]
    flags += [f"--tfidf-from {args.tfidf_from}"] if args.tfidf_from else []
    commit, load_before = provenance.commit(), os.getloadavg()[0]
    _, _, test = load_split(args.experiment)
    texts, y = list(test.texts), test.label_matrix()
    tfidf_only = [f"model.{name}.enabled=false" for name in FAMILIES if name != "tfidf"]
    tfidf_only += ["model.tfidf.enabled=true", "model.primary=tfidf"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="primary-speed-") as work:
        plain = args.tfidf_from or args.experiment
        variants = [("primary", args.experiment, list(args.primary))]
        variants += [("tfidf only", plain, tfidf_only)]
        variants += [(also, args.experiment, [also]) for also in args.also]
        for what, experiment, overrides in variants:
            print(f"training: {what} ...", flush=True)
            bundle, metrics, seconds = train(experiment, overrides, Path(work) / what)
            row = figures(bundle, metrics, texts, y, args.repeats)
            rows.append({"what": what, "train_s": seconds, **row})
            print(row, flush=True)
    primary, tfidf = rows[:2]
    metric = primary["first"][0].removeprefix("test_").replace("_", "-")
    lines = [
        f"| model | {metric} | macro-F1 | bundle reproduces the run | docs/s | cold start s | "
        "peak RSS MB | bundle MB | train (whole run) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['what']}: {row['model']} | {row['first'][1]:.3f} | {row['macro']:.3f} | "
            f"{'exactly' if row['exact'] else 'NO'} | {row['docs_s']:,.0f} | {row['cold_s']:.2f} | "
            f"{row['rss_mb']:.0f} | {row['size_mb']:.1f} | {row['train_s'] / 60:.1f} min |"
        )
    name = Path(args.experiment).stem
    ratios = (
        f"Primary against the tfidf-only model: {primary['docs_s'] / tfidf['docs_s']:.1%} of its "
        f"throughput (goal >= 10%), {primary['cold_s'] / tfidf['cold_s']:.2f}x its cold start "
        "(goal <= 1.5x)."
    )
    text = (
        f"# {name}: the primary model against the tfidf-only model\n\n"
        f"`python benchmarks/primary_speed.py {' '.join([args.experiment, *flags])}`, "
        f"commit {commit}, "
        f"{datetime.date.today()}, 2 cores, load average before / after {load_before:.2f} / "
        f"{os.getloadavg()[0]:.2f}. {len(texts):,} test texts; cold start and RSS: `classify` "
        f"on one article in a fresh process, median of {args.repeats}.\n\n"
        + "\n".join(lines)
        + f"\n\n{ratios}\n"
    )
    out = args.out or REPO / "benchmarks" / "results" / f"primary_speed_{name}.md"
    provenance.write(out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
