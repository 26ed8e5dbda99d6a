"""The ``classify`` command: tag text with a trained bundle.

Imports only :mod:`topics.predict` (numpy) so it starts fast; documents are read
and scored in chunks, so a large file streams in constant memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from topics.errors import TopicsError

DEFAULT_MODEL = "artifacts/latest"
MLFLOW_SCHEMES = ("models:/", "runs:/")
CHUNK = 256

EPILOG = """\
input:
  TEXT arguments are documents; -f reads files (.jsonl: one object per line with
  'text' and optional 'title'/'id'; .csv: the --text-column; anything else: the
  whole file is one document; '-' is stdin). With neither, stdin is one document.

examples:
  classify "Kazakhstan and Korea open a bus and truck plant in Almaty"
  classify --format json --explain "Border guards detained two journalists"
  classify -f articles.jsonl --format jsonl > tagged.jsonl
  classify --model models:/topics-news@champion "Rail freight to China grew"
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
        "--tracking-uri",
        help="MLflow store for models:/ and runs:/ URIs "
        "(default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    parser.add_argument("--format", choices=["text", "json", "jsonl"], default="text")
    parser.add_argument("--top-k", type=int, default=3, help="dominant topics to show (default: 3)")
    parser.add_argument("--explain", action="store_true", help="show the terms behind each label")
    parser.add_argument("--text-column", default="text", help="CSV column holding the text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.top_k < 0:
        print("classify: error: --top-k must be >= 0", file=sys.stderr)
        return 2
    try:
        predictor = _load(args.model, args.tracking_uri)
        documents = iter_documents(args.texts, args.files, args.text_column, sys.stdin)
        write_predictions(predictor, documents, args, sys.stdout)
    except TopicsError as exc:
        print(f"classify: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _load(model: str, tracking_uri: str | None = None) -> Any:
    from topics.errors import BundleError
    from topics.predict import Predictor

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


def iter_documents(
    texts: Sequence[str], files: Sequence[str], text_column: str, stdin: TextIO
) -> Iterator[tuple[str | None, str]]:
    """``(id or None, text)`` for every input document, in input order."""
    yield from ((None, text) for text in texts)
    for name in files:
        yield from _read_file(name, text_column, stdin)
    if not texts and not files:
        yield None, stdin.read()


def _read_file(name: str, text_column: str, stdin: TextIO) -> Iterator[tuple[str | None, str]]:
    if name == "-":
        yield None, stdin.read()
        return
    path = Path(name)
    if not path.is_file():
        raise TopicsError(f"{name}: no such file" if not path.exists() else f"{name}: not a file")
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        if suffix in {".jsonl", ".ndjson"}:
            for line_no, line in enumerate(handle, start=1):
                if line.strip():
                    yield _json_document(line, f"{name}:{line_no}")
        elif suffix == ".csv":
            for row in csv.DictReader(handle):
                if text_column not in row:
                    raise TopicsError(f"{name}: no column '{text_column}'; pass --text-column")
                yield row.get("id"), row[text_column] or ""
        else:
            yield name, handle.read()


def _json_document(line: str, where: str) -> tuple[str | None, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TopicsError(f"{where}: invalid JSON ({exc.msg})") from exc
    if isinstance(record, str):
        return None, record
    if not isinstance(record, dict):
        raise TopicsError(f"{where}: expected an object with a 'text' field")
    parts = [str(record[key]).strip() for key in ("title", "text") if record.get(key)]
    doc_id = record.get("id")
    return (None if doc_id is None else str(doc_id)), ". ".join(parts)


def write_predictions(
    predictor: Any,
    documents: Iterator[tuple[str | None, str]],
    args: argparse.Namespace,
    out: TextIO,
) -> None:
    """Score ``documents`` chunk by chunk and write them in input order."""
    collected: list[dict[str, Any]] = []
    while chunk := list(islice(documents, CHUNK)):
        results = predictor.predict(
            [text for _, text in chunk], top_k=args.top_k, explain=args.explain
        )
        for (doc_id, _), result in zip(chunk, results, strict=True):
            if doc_id is not None:
                result = {"id": doc_id, **result}
            if args.format == "jsonl":
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
            elif args.format == "json":
                collected.append(result)
            else:
                out.write(format_text(result, args.explain) + "\n")
    if args.format == "json":
        payload: Any = collected[0] if len(collected) == 1 else collected
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


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
