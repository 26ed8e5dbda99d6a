"""``topics evaluate``: score a trained model on labelled data, as a run scores its test split.

The model is whatever ``classify --model`` takes (a bundle folder, ``runs:/``,
``models:/NAME/VERSION``, ``models:/NAME@ALIAS``), loaded by classify's own
resolution and scored with the numpy predictor and the bundle's thresholds. The
data is a labelled file (JSONL, CSV, a folder of ``<label>/<name>.txt``) or a
config: an experiment file or a data group file, whose ``data:`` section is read
and split exactly as ``topics run`` reads and splits it. So the run's own
experiment and ``--part test`` give back the run's ``test_*`` metrics.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics.cli.evaluation_data import EvaluationData, check_options, load_evaluation_data

if TYPE_CHECKING:  # the evaluation side is imported by the command that runs
    from topics.evaluate.run_metrics import RunMetrics

DEFAULT_OUTPUT = "evaluation"
EVALUATIONS_EXPERIMENT = "evaluations"  # where an evaluation of an untracked model goes
PARTS = ("test", "train", "all")
INPUT_FORMATS = ("auto", "jsonl", "csv", "folder")
EVALUATED_RUN_TAG = "topics.evaluated_run_id"
EVALUATED_MODEL_TAG = "topics.evaluated_model"
EVALUATION_DATA_TAG = "topics.evaluation_data"
HEADLINE = {"micro_f1": "micro-F1", "macro_f1": "macro-F1", "accuracy": "accuracy"}
PER_LABEL = "per_label.csv"  # the primary model's table, beside plots/<model>_per_label.csv

EPILOG = """\
data:
  DATA is a labelled .jsonl/.csv file or a folder of <label>/<name>.txt files (read
  with the loader's defaults: text from 'title' and 'text', labels from 'labels';
  see --text-field, --label-field), or a YAML config: an experiment file or a data
  group file (configs/data/NAME.yaml). A config's data section is loaded and split
  as 'topics run' does it (relative paths under data.root, else $TOPICS_DATA_DIR);
  --part picks the part of its split (default test). A data file is scored whole.
  The data's labels must be the model's.

output:
  DIR (default evaluation/<model>-<data>/) gets metrics.json (the keys a run logs
  for its test split: test_micro_f1, ..., tfidf_test_micro_f1, ...), per_label.csv
  (the primary model's table; plots/ has every model's, with the confident errors
  and plots) and report.html. Unless --no-track, an MLflow run in the model's
  experiment (else 'evaluations') holds them, tagged topics.evaluated_run_id.

exit status:
  0 evaluated; 2 nothing done (bad option, no model, labels that differ, bad data).

examples:
  topics evaluate --model artifacts/latest experiments/quickstart.yaml  # its test metrics again
  topics evaluate --model artifacts/latest experiments/quickstart.yaml --part all
  TOPICS_DATA_DIR=~/datasets topics evaluate --model models:/topics-news@champion \\
      configs/data/nyt-cap.yaml
  topics evaluate --model runs:/RUN_ID/model labelled.jsonl --no-track --json
  topics evaluate --model artifacts/latest table.csv --text-field body --label-field topic
"""


def build_parser(commands: Any) -> None:
    """Add ``evaluate`` to the ``topics`` subcommands."""
    from topics.cli.models import DEFAULT_MODEL, MODEL_ENV

    evaluate = commands.add_parser(
        "evaluate",
        help="score a trained model on labelled data: a run's metrics, per-label table and "
        "report, logged to MLflow beside the model's run",
        description="Score DATA with the model and its fitted thresholds; write metrics.json, "
        "per_label.csv and report.html, and log them as an MLflow run linked to the model's.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument(
        "data", metavar="DATA", help="labelled .jsonl/.csv/folder, or an experiment/data YAML"
    )
    evaluate.add_argument(
        "--model",
        default=None,
        help=f"bundle folder or models:/ / runs:/ URI "
        f"(default: ${MODEL_ENV}, else {DEFAULT_MODEL})",
    )
    evaluate.add_argument(
        "--tracking-uri",
        help="MLflow store for models:/ and runs:/ URIs and for the evaluation run "
        "(default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    evaluate.add_argument("--output", metavar="DIR", help="default: evaluation/<model>-<data>/")
    evaluate.add_argument(
        "--part",
        choices=PARTS,
        help="a config's documents to score: its split's test part (default), train, or all",
    )
    evaluate.add_argument(
        "--passages",
        type=int,
        metavar="N",
        help="score documents of 2N words or more by passages of >= N words, each label "
        "at its best (classify --passages); 0: whole (default: the bundle's model.passages)",
    )
    evaluate.add_argument(
        "--passage-support",
        type=int,
        metavar="S",
        help="by passage, a document of n > S passages scores each label by its "
        "ceil(n / S)-th best passage (classify --passage-support); 0: the best (default: "
        "the bundle's model.passage_support)",
    )
    evaluate.add_argument(
        "--relative-cut",
        type=float,
        metavar="SHARE",
        help="a label only where it scores SHARE (in [0, 1]) of the document's best "
        "label's score (classify --relative-cut); 0: off (default: the bundle's "
        "model.relative_cut)",
    )
    evaluate.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    evaluate.add_argument(
        "--json", action="store_true", help="print one JSON object (metrics, ...) as the last line"
    )
    evaluate.add_argument(
        "--text-field",
        "--text-column",
        dest="text_fields",
        action="append",
        metavar="FIELD",
        help="data file: a field (CSV column) holding text, repeatable (default: title, text)",
    )
    evaluate.add_argument(
        "--label-field",
        metavar="FIELD",
        help="data file: the field holding labels (default: labels)",
    )
    evaluate.add_argument(
        "--label-sep", metavar="SEP", help="data file: separator of several labels in one value"
    )
    evaluate.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default="auto",
        help="data file: how to read it (auto: by suffix; a folder is a folder)",
    )


def evaluate_command(args: argparse.Namespace) -> int:
    """``topics evaluate``: load, check, score, write, track; print the summary."""
    from topics import progress
    from topics.cli.models import default_model, load_model

    model = args.model or default_model()
    check_options(args)
    with progress.report_stages():
        predictor = load_model(args.model, args.tracking_uri)
        if args.passage_support is not None:
            predictor.passage_support = args.passage_support
        data = load_evaluation_data(args, predictor.labels)
        # once the data is known good: an error stays the only line on stderr
        progress.stage(f"load {data.source}: {len(data.texts)} documents ({data.part})")
        manifest = predictor.bundle.manifest
        name = model_name(model, manifest)
        output = Path(args.output) if args.output else default_output(name, data.name)
        progress.stage(f"score {len(data.texts)} documents with {len(predictor.models)} models")
        scores = write_evaluation(predictor, data, output, model, args.passages, args.relative_cut)
        metrics = scores.flat()
        tracked = None if args.no_track else track(args, model, manifest, data, output, metrics)
    primary = scores.split(scores.primary or "", "test")
    headline = ("accuracy",) if predictor.single_label else ("micro_f1", "macro_f1")
    shown = ", ".join(f"{HEADLINE[key]} {primary[key]:.3f}" for key in headline)
    print(
        f"{name} on {data.name} ({data.part}, {len(data.texts)} documents): {shown} "
        f"(primary {scores.primary}) -> {output / 'report.html'}"
    )
    if tracked:
        print(f"logged as run {tracked['run_id']} in experiment {tracked['experiment']}")
    if args.json:
        result = {
            "model": model,
            "evaluated_run_id": manifest.get("run_id"),
            "data": data.source,
            "part": data.part,
            "n_documents": len(data.texts),
            "output": str(output),
            "run_id": tracked["run_id"] if tracked else None,
            "metrics": metrics,
        }
        print(json.dumps(result, sort_keys=True))
    return 0


def model_name(model: str, manifest: dict[str, Any]) -> str:
    """A file-name-safe name for the model: its experiment and short run id as the
    bundle records them (``quickstart-279ff2c6``), else the registered model's
    name, else the bundle folder's name."""
    experiment, run_id = manifest.get("experiment"), manifest.get("run_id")
    if isinstance(experiment, str) and experiment and isinstance(run_id, str) and run_id:
        name = f"{experiment}-{run_id[:8]}"
    elif model.startswith("models:/"):
        name = model.removeprefix("models:/").strip("/").replace("@", "-").replace("/", "-")
    else:
        name = Path(model).resolve().name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "model"


def default_output(model: str, data: str) -> Path:
    """``evaluation/<model>-<data>``, relative to the current directory."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", data).strip("-.") or "data"
    return Path(DEFAULT_OUTPUT) / f"{model}-{safe}"


def write_evaluation(
    predictor: Any,
    data: EvaluationData,
    output: Path,
    model: str,
    passages: int | None = None,
    relative_cut: float | None = None,
) -> RunMetrics:
    """Score (long texts by passage as ``passages`` says, decided with ``relative_cut``;
    default the bundle's) and write ``metrics.json``, ``per_label.csv``, ``plots/`` and
    ``report.html``."""
    from topics import progress
    from topics.evaluate.model_evaluation import PLOTS, evaluate_bundle
    from topics.evaluate.report import write_evaluation_page

    scores = evaluate_bundle(
        predictor, data.ids, data.texts, data.y_true, output, passages, relative_cut
    )
    progress.stage("write metrics and report")
    metrics = scores.flat()
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    shutil.copyfile(output / PLOTS / f"{scores.primary}_per_label.csv", output / PER_LABEL)
    manifest = predictor.bundle.manifest
    facts = {
        "model": model,
        "model run id": str(manifest.get("run_id") or "(none: never tracked)"),
        "model config hash": str(manifest.get("config_hash", "")),
        "data": data.source,
        "part": data.part,
        "documents": str(len(data.texts)),
        "data fingerprint": data.fingerprint,
    }
    title = f"{model_name(model, manifest)} on {data.name}"
    summary = (
        f"The model {model} scored on {data.source} ({data.part}) with its own thresholds, "
        "every model of the bundle as a run scores its test split."
    )
    write_evaluation_page(output, scores, predictor.labels, title, summary, facts)
    return scores


def track(
    args: argparse.Namespace,
    model: str,
    manifest: dict[str, Any],
    data: EvaluationData,
    output: Path,
    metrics: dict[str, float],
) -> dict[str, str]:
    """Log the evaluation as an MLflow run of its own (not a child run) in the model's
    experiment, else in ``evaluations``, tagged with the model's run id."""
    from topics import progress
    from topics.run.trackers import tracked_run
    from topics.tracking import MlflowTracker, experiment_of_run

    progress.stage("log the evaluation to MLflow")
    tracker = MlflowTracker(args.tracking_uri, log_model=False)
    run_id = manifest.get("run_id")
    tags = {EVALUATED_MODEL_TAG: model, EVALUATION_DATA_TAG: data.source}
    tags["topics.evaluation_part"] = data.part
    tags["topics.data_fingerprint"] = data.fingerprint
    experiment = None
    if isinstance(run_id, str) and run_id:
        tags[EVALUATED_RUN_TAG] = run_id
        experiment = experiment_of_run(run_id, tracker.uri)
        if experiment is None:
            print(
                f"topics: the model's run {run_id} is not in {tracker.uri} (trained with "
                f"--no-track?); the evaluation goes to experiment '{EVALUATIONS_EXPERIMENT}'",
                file=sys.stderr,
            )
    else:
        print(
            "topics: the model has no run id (a bundle never tracked); the evaluation goes to "
            f"experiment '{EVALUATIONS_EXPERIMENT}' without {EVALUATED_RUN_TAG}",
            file=sys.stderr,
        )
    experiment = experiment or EVALUATIONS_EXPERIMENT
    name = f"evaluate {model_name(model, manifest)} on {data.name}"
    description = f"{model} scored on {data.source} ({data.part}, {len(data.texts)} documents)"
    with tracked_run(tracker, experiment, name, tags, description) as evaluation_run:
        tracker.log_dataset(data.name, data.fingerprint, data.source, context="evaluation")
        tracker.log_params({"model": model, "data": data.source, "part": data.part})
        tracker.log_params({"n_documents": len(data.texts)})
        tracker.log_metrics(metrics)
        tracker.log_artifacts(output)
    return {"run_id": evaluation_run, "experiment": experiment}
