"""``topics drift``: compare a new batch of documents with a model's training data.

As light as ``classify``: a bundle folder is scored with the numpy-only predictor
(no sklearn, gensim or mlflow import); ``models:/`` and ``runs:/`` URIs go through
classify's loader and its cache.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from topics.errors import ConfigError

FLAGGED_EXIT = 3  # something moved beyond its threshold: a cron job can act on it
DEFAULT_OUTPUT = "drift"

EPILOG = """\
measures (README, "Drift of a new batch"):
  label_mix   share of documents per predicted label; PSI            (default 0.2)
  topic_mix   mean topic proportions; Jensen-Shannon distance        (default 0.2)
  oov_rate    share of word tokens not in the vocabulary; abs change (default 0.1)
  confidence  histogram of the top label score, 10 bins; PSI         (default 0.2)
  The training side is the model's predictions on its held-out test split, stored
  in the bundle at training; models trained before drift reports have none (retrain).

output:
  DIR/drift.html (one page, opens from disk) and DIR/drift.json (every measure with
  value, threshold, flagged). DIR defaults to BATCH's name + '-drift' next to the
  first BATCH file (stdin: ./drift).

exit status:
  0 nothing moved; 3 a measure moved beyond its threshold (drift.json lists them);
  1 nothing moved but some inputs were skipped; 2 nothing done (bad option, no
  model, a model without a training summary).

examples:
  topics drift --model artifacts/latest new-batch.jsonl
  topics drift --model models:/topics-news@champion --threshold topic_mix=0.3 week.csv
  topics drift --model artifacts/latest batch.jsonl; [ $? -eq 3 ] && notify-team
"""


def build_parser(commands: Any) -> None:
    from topics.cli.models import DEFAULT_MODEL, MODEL_ENV

    drift = commands.add_parser(
        "drift",
        help="compare a new batch with the model's training data (labels, topics, OOV, "
        "confidence); flag what moved",
        description="Score BATCH with the model and compare it with the training side the "
        "bundle carries; write drift.html and drift.json.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    drift.add_argument(
        "batch", nargs="+", metavar="BATCH", help="documents: .jsonl, .csv or text files; '-' stdin"
    )
    drift.add_argument(
        "--model",
        default=None,
        help=f"bundle folder or models:/ / runs:/ URI "
        f"(default: ${MODEL_ENV}, else {DEFAULT_MODEL})",
    )
    drift.add_argument("--tracking-uri", help="MLflow store for models:/ and runs:/ URIs")
    drift.add_argument("--output", metavar="DIR", help="where drift.html and drift.json go")
    drift.add_argument(
        "--threshold",
        dest="thresholds",
        action="append",
        default=[],
        metavar="MEASURE=VALUE",
        help="override one measure's threshold (repeatable), e.g. oov_rate=0.05",
    )
    drift.add_argument("--text-column", default="text", help="CSV column holding the text")
    drift.add_argument(
        "--input-format",
        choices=["auto", "jsonl", "csv", "text", "lines"],
        default="auto",
        help="how to read BATCH (auto: by file suffix; lines: one document per line)",
    )


def parse_thresholds(values: list[str]) -> dict[str, float]:
    """``MEASURE=VALUE`` items -> ``{measure: value}`` (checked by the drift module)."""
    from topics.evaluate.drift import check_thresholds

    chosen: dict[str, float] = {}
    for item in values:
        name, sep, value = item.partition("=")
        try:
            chosen[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(
                f"--threshold {item!r}: expected MEASURE=VALUE, e.g. topic_mix=0.3"
            ) from None
    return check_thresholds(chosen)


def default_output(batch: list[str]) -> Path:
    """``<first batch file without suffix>-drift`` beside it; ``./drift`` for stdin."""
    first = batch[0]
    if first == "-":
        return Path(DEFAULT_OUTPUT)
    path = Path(first)
    return path.with_name(f"{path.stem}-{DEFAULT_OUTPUT}")


def drift_command(args: argparse.Namespace) -> int:
    from topics.cli.models import load_model
    from topics.evaluate.drift import compare, count_texts, topic_names, training_summary
    from topics.evaluate.drift_page import write_drift_report
    from topics.serve.inputs import Problems, read_documents

    thresholds = parse_thresholds(args.thresholds)
    predictor = load_model(args.model, args.tracking_uri)
    training = training_summary(predictor)
    problems = Problems("topics")
    documents = read_documents(
        [], args.batch, problems, sys.stdin, args.text_column, args.input_format
    )
    source = ", ".join(args.batch)
    batch = count_texts(predictor, (text for _, text in documents), source=source)
    report = compare(training, batch, thresholds, topic_names(predictor))
    json_path, html_path = write_drift_report(report, args.output or default_output(args.batch))
    for measure in report.measures:
        value = "n/a" if measure.value is None else f"{measure.value:.3f}"
        mark = "MOVED" if measure.flagged else "ok"
        print(
            f"{measure.name:<11} {measure.statistic:<24} {value:>7} (threshold "
            f"{measure.threshold:g})  {mark}"
        )
    print(
        f"{batch.n_documents} documents vs {training.n_documents} held-out -> {html_path}, "
        f"{json_path.name}"
    )
    if report.flagged:
        return FLAGGED_EXIT
    return 1 if problems.errors else 0
