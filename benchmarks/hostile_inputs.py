"""Memory of `classify` on hostile inputs: one huge document, and `--format json` at scale.

    .venv/bin/python benchmarks/hostile_inputs.py                 # ~3 minutes on 2 cores
    .venv/bin/python benchmarks/hostile_inputs.py --docs 20000    # quicker

Trains the quickstart experiment (the shipped sample corpus, no tracking) into a
temporary folder, then runs `classify` in a fresh process per case and reports
its peak RSS (`getrusage(RUSAGE_CHILDREN)` of a wrapper whose only child it is):

1. one 50 MB document, as a text file and as one JSONL line (the input is cut to
   the per-document limit, with a warning);
2. N short documents from a JSONL file with `--format jsonl` and `--format json`.

Writes the table to benchmarks/results/hostile_inputs.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.run.experiment import run  # noqa: E402
from topics.run.trackers import NullTracker  # noqa: E402
from topics.serve.inputs import MAX_DOCUMENT_CHARS  # noqa: E402

WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(json.dumps([peak, time.perf_counter() - start, done.returncode]))"
)


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of ``command``; fails loudly if it fails."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True)
    peak, seconds, code = json.loads(out.stdout)
    if code not in (0, 1):
        raise SystemExit(f"{command} exited {code}")
    return peak, seconds


def train(folder: Path) -> Path:
    overrides = [f"output_dir={folder / 'artifacts'}", "tracking.enabled=false", "cache_dir=null"]
    config = load_config(REPO / "experiments" / "quickstart.yaml", overrides)
    return run(config, NullTracker()).artifact_dir / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000, help="short documents (default 200k)")
    parser.add_argument(
        "--output", default=str(REPO / "benchmarks" / "results" / "hostile_inputs.md")
    )
    args = parser.parse_args()
    commit = provenance.commit()
    with tempfile.TemporaryDirectory(prefix="topics-hostile-") as tmp:
        folder = Path(tmp)
        model = train(folder)
        classify = [sys.executable, "-m", "topics.cli.classify", "--model", str(model)]
        rows = []
        text = b"Rail cargo freight corridor bank " * (50_000_000 // 33)
        big_text = folder / "big.txt"
        big_text.write_bytes(text)
        big_line = folder / "big.jsonl"
        big_line.write_bytes(b'{"id": "big", "text": "' + text + b'"}\n')
        for label, path in (("text file", big_text), ("one JSONL line", big_line)):
            peak, seconds = peak_rss([*classify, "-f", str(path), "--format", "jsonl"])
            size = path.stat().st_size / 2**20
            rows.append((f"one 50 MB document, {label}", size, peak, seconds))
        many = folder / "many.jsonl"
        with many.open("w", encoding="utf-8") as handle:
            for i in range(args.docs):
                sentence = (
                    f"Railway cargo, a central bank rate cut and troops at the border, item {i}"
                )
                handle.write(json.dumps({"id": f"doc-{i}", "text": sentence}) + "\n")
        for fmt in ("jsonl", "json"):
            peak, seconds = peak_rss([*classify, "-f", str(many), "--format", fmt])
            size = many.stat().st_size / 2**20
            rows.append((f"{args.docs:,} short documents, --format {fmt}", size, peak, seconds))
    lines = [
        "# Hostile inputs: peak memory of classify",
        "",
        f"`python benchmarks/hostile_inputs.py --docs {args.docs}`, commit {commit}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, 2 cores.",
        "",
        f"Model: the quickstart experiment (sample corpus). Per-document limit: "
        f"{MAX_DOCUMENT_CHARS:,} characters.",
        "",
        "| input | input MB | peak RSS MB | RSS / input | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, size, peak, seconds in rows:
        lines.append(f"| {label} | {size:.1f} | {peak:.0f} | {peak / size:.1f}× | {seconds:.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    Path(args.output).write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
