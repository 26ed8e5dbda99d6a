"""The shipped experiments end to end, against the issue's goals and the best peers.

Each experiment runs as a user runs it (its YAML; only the data root, the output
folder, no cache and no tracking are set), then its test-split figures are held
against the best peer measured on the same split and the goals. Prints a table,
writes ``benchmarks/results/reproduce.md`` (every figure, the commit, the date)
and exits 1 when a run misses a goal or does not beat the best peer.

The experiments that fine-tune an encoder take 20 to 60 minutes each on 2 cores;
the fast ones (static vectors, few-shot and zero-shot) 3 to 10.

    python benchmarks/reproduce.py --data ../shared/data [nyt-cap ...]
    TOPICS_DATA_DIR=../shared/data python benchmarks/reproduce.py
    make reproduce DATA=../shared/data
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from topics.config import DATA_ROOT_ENV, load_config  # noqa: E402
from topics.run.experiment import run  # noqa: E402
from topics.run.trackers import NullTracker  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "reproduce.md"

# The best peer on the same split: the figures for nyt-cap and Reuters
# (TF-IDF 1-2-grams + balanced LogisticRegression); for 20 Newsgroups the best
# measured in benchmarks/results/peers.md (tfidf+sgd), above the 0.863 / 0.857.
# The static and encoder experiments have their dataset's peer. Zero-shot: MiniLM cosine to the
# label descriptions, cut on train (benchmarks/results/few_shot.md, above the issue's
# 0.41); few-shot, 16 per label: the frozen MiniLM + LinearSVC (SetFit: 0.487).
PEERS: dict[str, dict[str, float]] = {
    "nyt-cap": {"test_micro_f1": 0.684, "test_macro_f1": 0.647},
    "nyt-cap-encoder": {"test_micro_f1": 0.684, "test_macro_f1": 0.647},
    "nyt-cap-best": {"test_micro_f1": 0.684, "test_macro_f1": 0.647},
    "reuters-modapte": {"test_micro_f1": 0.885, "test_macro_f1": 0.546},
    "20newsgroups": {"test_accuracy": 0.865, "test_macro_f1": 0.858},
    "20newsgroups-encoder": {"test_accuracy": 0.865, "test_macro_f1": 0.858},
    "reuters-modapte-static": {"test_micro_f1": 0.885, "test_macro_f1": 0.546},
    "nyt-cap-zero-shot": {"test_micro_f1": 0.535},
    "nyt-cap-few-shot": {"test_micro_f1": 0.51},
}
# The issues' goals: the fast (static, NB-scaled tfidf) primaries keep the accuracy goals (issue 17);
# few-shot and zero-shot are issue 18's, there a mean of 5 draws, here draw 0; nyt-cap-best
# is issue 17's best-accuracy configuration.
GOALS: dict[str, dict[str, float]] = {
    "nyt-cap": {"test_micro_f1": 0.72, "test_macro_f1": 0.68},
    "nyt-cap-encoder": {"test_micro_f1": 0.72, "test_macro_f1": 0.68},
    "nyt-cap-best": {"test_micro_f1": 0.75, "test_macro_f1": 0.70},
    "reuters-modapte": {"test_micro_f1": 0.90, "test_macro_f1": 0.60},
    "20newsgroups": {"test_accuracy": 0.88, "test_macro_f1": 0.875},
    "20newsgroups-encoder": {"test_accuracy": 0.88, "test_macro_f1": 0.875},
    "reuters-modapte-static": {"test_micro_f1": 0.90, "test_macro_f1": 0.60},
    "nyt-cap-zero-shot": {"test_micro_f1": 0.50},
    "nyt-cap-few-shot": {"test_micro_f1": 0.60},
}
# Run only when named: weights that do not come packaged, or hours more than the rest.
OPT_IN = {
    "nyt-cap-best": "all-mpnet-base-v2's weights (not packaged; offline, pass their folder: "
    "--set model.encoder.pretrained=DIR) and about 95 minutes",
}
# Every model's test figures are reported, not only the primary's.
FIGURE_SUFFIXES = ("test_micro_f1", "test_macro_f1", "test_accuracy", "test_subset_accuracy")


def check(name: str, metrics: dict[str, float]) -> list[tuple[str, float, float, float, bool]]:
    """``(metric, ours, best peer, goal, passed)`` for each checked metric of ``name``.

    A metric passes when it beats the best peer and reaches the goal; a metric the
    run did not report fails.

    Examples
    --------
    >>> check("nyt-cap", {"test_micro_f1": 0.736, "test_macro_f1": 0.67})[1][-1]
    False
    """
    rows = []
    for key, goal in GOALS[name].items():
        ours = float(metrics.get(key, float("nan")))
        peer = PEERS[name][key]
        rows.append((key, ours, peer, goal, ours > peer and ours >= goal))
    return rows


def figures(metrics: dict[str, float], extra_sets: tuple[str, ...] = ()) -> dict[str, float]:
    """The test-split figures of every model in ``metrics``, and every figure of the
    extra test sets named ``extra_sets`` (``data.extra_test``), by key.

    >>> figures({"test_micro_f1": 0.5, "cv_micro_f1": 0.6, "seed_false_labels": 2}, ("seed",))
    {'seed_false_labels': 2.0, 'test_micro_f1': 0.5}
    """
    prefixes = tuple(f"{name}_" for name in extra_sets)
    return {
        key: float(value)
        for key, value in sorted(metrics.items())
        if (key.endswith(FIGURE_SUFFIXES) or key.startswith(prefixes)) and not key.endswith("_std")
    }


def run_experiment(
    name: str, data_root: Path, output_dir: Path, overrides: tuple[str, ...] = ()
) -> tuple[dict[str, float], float, tuple[str, ...]]:
    """Run ``experiments/<name>.yaml`` on ``data_root`` (with ``--set`` ``overrides``);
    its metrics, wall seconds and extra test sets."""
    config = load_config(
        REPO / "experiments" / f"{name}.yaml",
        [
            f"data.root={data_root}",
            f"output_dir={output_dir}",
            "cache_dir=null",
            "tracking.enabled=false",
            *overrides,
        ],
    )
    start = time.perf_counter()
    metrics = run(config, NullTracker()).metrics
    return dict(metrics), time.perf_counter() - start, tuple(config.data.extra_test)


def git_commit() -> str:
    """HEAD's hash, with ``+changes`` when the worktree differs from it."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def render(results: dict[str, dict[str, Any]], command: str, started: str) -> str:
    """The markdown report: header, the checks, then every test figure."""
    lines = [
        "# Reproduce: the shipped experiments",
        "",
        f"`{command}`",
        "",
        f"- date: {started} (UTC), commit {git_commit()}",
        f"- machine: {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- experiments run: {', '.join(results)}",
        "- ours is the primary model's figure on the test split; a metric passes when it",
        "  beats the best peer on the same split and reaches the goal.",
        "",
        "| experiment | metric | ours | best peer | goal | pass | run s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        for key, ours, peer, goal, passed in result["checks"]:
            verdict = "yes" if passed else "**no**"
            lines.append(
                f"| {name} | {key} | {ours:.4f} | {peer} | {goal} | {verdict} | {result['seconds']:.0f} |"
            )
    lines += [
        "",
        "Every model's test figures, and those of the extra test sets:",
        "",
        "| experiment | metric | value |",
        "|---|---|---|",
    ]
    for name, result in results.items():
        lines += [f"| {name} | {key} | {value:.4g} |" for key, value in result["figures"].items()]
    return "\n".join(lines) + "\n"


def default_experiments() -> list[str]:
    """What a run with no names runs: every experiment with goals but the opt-in ones."""
    return sorted(set(GOALS) - set(OPT_IN))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "experiments",
        nargs="*",
        help=f"which to run (default: {', '.join(default_experiments())}); only when named: "
        + "; ".join(f"{name}, which needs {needs}" for name, needs in OPT_IN.items()),
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key of every experiment run, e.g. "
        "--set model.encoder.pretrained=DIR for nyt-cap-best alone",
    )
    parser.add_argument("--data", help=f"the data root (default: ${DATA_ROOT_ENV})")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the markdown to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = args.data or os.environ.get(DATA_ROOT_ENV)
    if not data:
        print(
            f"reproduce: no data root: pass --data DIR or set {DATA_ROOT_ENV}=DIR "
            "(the folder holding nyt-cap/, reuters21578/, 20newsgroups/)",
            file=sys.stderr,
        )
        return 2
    names = args.experiments or default_experiments()
    unknown = sorted(set(names) - set(GOALS))
    if unknown:
        print(
            f"reproduce: unknown experiments {unknown}; expected some of {sorted(GOALS)}",
            file=sys.stderr,
        )
        return 2
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    command = "python benchmarks/reproduce.py " + " ".join(
        [*(f"--set {o}" for o in args.overrides), *names]
    )
    results: dict[str, dict[str, Any]] = {}
    print(f"{'experiment':<22} {'metric':<14} {'ours':>7} {'peer':>7} {'goal':>7}  pass  run s")
    with tempfile.TemporaryDirectory() as output_dir:
        for name in names:
            metrics, seconds, extra = run_experiment(
                name, Path(data).resolve(), Path(output_dir) / name, tuple(args.overrides)
            )
            checks = check(name, metrics)
            results[name] = {
                "checks": checks,
                "figures": figures(metrics, extra),
                "seconds": seconds,
            }
            for key, ours, peer, goal, passed in checks:
                verdict = "yes" if passed else "NO"
                print(
                    f"{name:<22} {key:<14} {ours:>7.4f} {peer:>7} {goal:>7}  {verdict:<4}  {seconds:.0f}"
                )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(render(results, command, started))
    print(f"wrote {args.results}")
    failed = [name for name, result in results.items() if not all(c[-1] for c in result["checks"])]
    if failed:
        print(f"reproduce: below a goal or the best peer: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
