"""The ``classify`` command: tag text with a trained bundle.

Imports only :mod:`topics.serve.predictor` (numpy) so it starts fast; documents are read
and scored in chunks, so a large file streams in constant memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from topics import progress
from topics.errors import BundleError, ConfigError, TopicsError, stdout_closed
from topics.serve.inputs import Problems, read_documents

DEFAULT_MODEL = "artifacts/latest"
MLFLOW_SCHEMES = ("models:/", "runs:/")
CHUNK = 1024

EPILOG = """\
input:
  TEXT arguments are documents; -f reads files (.jsonl: one object per line with
  'text' and optional 'title'/'id'; .csv: the --text-column; anything else: the
  whole file is one document; '-' is stdin). With neither, stdin is one document.

exit status:
  0 all inputs classified; 1 some inputs skipped (each reported on stderr, the
  rest classified); 2 nothing done (bad option, no model, corrupt or invalid model).

examples:
  classify "Kazakhstan and Korea open a bus and truck plant in Almaty"
  classify --format json --explain "Border guards detained two journalists"
  classify -f articles.jsonl --format jsonl > tagged.jsonl
  classify --model models:/topics-news@champion "Rail freight to China grew"
  classify --use tfidf -f archive.jsonl --format jsonl   # the fast model of a bundle
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classify",
        description="Tag news text with labels, calibrated scores and dominant topics.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="text to classify")
    parser.add_argument(
        "-f",
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="FILE",
        help="read documents from FILE (repeatable; '-' for stdin)",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"bundle folder from a run (default: {DEFAULT_MODEL}, the newest run), "
        "or an MLflow URI: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model",
    )
    parser.add_argument(
        "--use",
        metavar="NAME",
        help="which of the bundle's models assigns the labels (default: its primary, "
        "the best on train; e.g. tfidf: thousands of texts a second, where an encoder "
        "scores tens)",
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow store for models:/ and runs:/ URIs "
        "(default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    parser.add_argument("--format", choices=["text", "json", "jsonl"], default="text")
    parser.add_argument("--top-k", type=int, default=3, help="dominant topics to show (default: 3)")
    parser.add_argument("--explain", action="store_true", help="show the terms behind each label")
    parser.add_argument("--text-column", default="text", help="CSV column holding the text")
    parser.add_argument(
        "--input-format",
        choices=["auto", "jsonl", "csv", "text"],
        default="auto",
        help="how to read -f files and stdin (auto: by file suffix; stdin is one text)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.top_k < 0:
        print("classify: error: --top-k must be >= 0", file=sys.stderr)
        return 2
    problems = Problems("classify")
    try:
        predictor = _load(args.model, args.tracking_uri)
        if args.use is not None and args.use not in predictor.models:
            raise ConfigError(
                f"--use {args.use}: this bundle's models are {', '.join(sorted(predictor.models))}"
            )
        documents = read_documents(
            args.texts, args.files, problems, sys.stdin, args.text_column, args.input_format
        )
        if args.files and progress.enabled():
            documents = progress.progress(documents, desc="classify", unit="doc")
        write_predictions(predictor, documents, args, sys.stdout)
    except TopicsError as exc:
        print(f"classify: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return stdout_closed()
    # Some inputs were skipped (each reported above); the rest were classified.
    return 1 if problems.errors else 0


def _load(model: str, tracking_uri: str | None = None) -> Any:
    from topics.serve.predictor import Predictor

    if model.startswith(MLFLOW_SCHEMES):
        # Only these URIs pay for importing mlflow; plain paths stay numpy-only.
        import tempfile

        from topics.tracking import fetch_bundle

        with tempfile.TemporaryDirectory(prefix="topics-model-") as tmp:
            return Predictor.load(fetch_bundle(model, tmp, tracking_uri))
    path = Path(model)
    if model == DEFAULT_MODEL and not (path / "manifest.json").exists():
        raise BundleError(
            f"no trained model at {DEFAULT_MODEL}: run 'make run' first, or pass --model PATH"
        )
    return Predictor.load(path)


def write_predictions(
    predictor: Any,
    documents: Iterator[tuple[str | None, str]],
    args: argparse.Namespace,
    out: TextIO,
) -> None:
    """Score ``documents`` chunk by chunk and write them in input order.

    ``--format json`` streams too: one document is written as an object, several
    as an array written element by element, the same text ``json.dumps(results,
    indent=2)`` would give.
    """
    array = _JsonArray(out)
    while chunk := list(islice(documents, CHUNK)):
        results = predictor.predict(
            [text for _, text in chunk], top_k=args.top_k, explain=args.explain, model=args.use
        )
        for (doc_id, _), result in zip(chunk, results, strict=True):
            if doc_id is not None:
                result = {"id": doc_id, **result}
            if args.format == "jsonl":
                out.write(to_json(result) + "\n")
            elif args.format == "json":
                array.add(result)
            else:
                out.write(format_text(result, args.explain) + "\n")
    if args.format == "json":
        array.close()


class _JsonArray:
    """Writes records as one JSON value without holding them: a lone record is an
    object (the first is held until a second shows it is an array), more are an array."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first: dict[str, Any] | None = None
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        self.count += 1
        if self.count == 1:
            self.first = record
            return
        if self.count == 2:
            self.out.write("[\n" + self._element(self.first))
            self.first = None
        self.out.write(",\n" + self._element(record))

    def close(self) -> None:
        if self.count == 0:
            self.out.write("[]\n")
        elif self.count == 1:
            self.out.write(to_json(self.first, indent=2) + "\n")
        else:
            self.out.write("\n]\n")

    @staticmethod
    def _element(record: Any) -> str:
        # JSON text has no raw newlines inside strings, so indenting by line is safe.
        text = to_json(record, indent=2)
        return "\n".join("  " + line for line in text.split("\n"))


def to_json(value: Any, indent: int | None = None) -> str:
    """Strict JSON: a NaN or infinite score is an error, never ``NaN`` in the output
    (which JSON readers reject). Bundles with non-finite weights are refused on load."""
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False)
    except ValueError as exc:
        raise BundleError(
            f"the model produced a non-finite score ({exc}); the bundle is invalid, retrain it"
        ) from exc


def format_text(result: dict[str, Any], explain: bool = False) -> str:
    """One readable block per document."""
    head = f"{result['id']}: " if "id" in result else ""
    labels = ", ".join(result["labels"]) or "(no label)"
    scores = "  ".join(f"{label} {score:.2f}" for label, score in result["scores"].items())
    lines = [f"{head}{labels}", f"  scores: {scores}"]
    for topic in result["topics"]:
        lines.append(
            f"  topic {topic['topic']} ({topic['weight']:.2f}): {', '.join(topic['words'][:6])}"
        )
    if explain:
        for label, terms in result["explanation"]["terms"].items():
            shown = ", ".join(f"{t['term']} (+{t['weight']:.3f})" for t in terms)
            lines.append(f"  why {label}: {shown or '(no strong terms)'}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
