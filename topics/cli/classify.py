"""The ``classify`` command: tag text with a trained bundle.

Imports only :mod:`topics.serve.predictor` (numpy) and :mod:`topics.cli.models` (which
bundle, fetched and cached) so it starts fast; documents are read
and scored in chunks, so a large file streams in constant memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any, TextIO

from topics import __version__, progress
from topics.cli.models import DEFAULT_MODEL, MODEL_ENV, load_model
from topics.errors import BundleError, ConfigError, TopicsError, stdout_closed
from topics.serve.inputs import Problems, read_documents

CHUNK = 1024
QUOTE_CHARS = 200  # the passage --explain quotes, in text output (JSON: whole)

EPILOG = """\
input:
  TEXT arguments are documents, and '-' is stdin; -f reads files (.jsonl: one
  object per line with 'text' and optional 'title'/'id'; .csv: the --text-column;
  anything else: the whole file is one document; '-' is stdin). With neither, stdin
  is one document; --lines makes every line of stdin and of text files one document
  (fastText-style).

model:
  --model, else $TOPICS_MODEL, else artifacts/latest: a path relative to the
  current directory, so the default works from the project root only. latest is
  the newest finished run's model, --no-track runs included.

output:
  --format json prints one JSON array, with one object per document (also for one
  document); jsonl prints one object per line; both in input order.

exit status:
  0 all inputs classified; 1 some inputs skipped (each reported on stderr, the
  rest classified); 2 nothing done (bad option, no model, corrupt or invalid model).

examples:
  classify "Kazakhstan and Korea open a bus and truck plant in Almaty"
  classify --format json --explain "Border guards detained two journalists"
  classify -f articles.jsonl --format jsonl > tagged.jsonl
  classify --model models:/topics-news@champion "Rail freight to China grew"
  classify --use tfidf -f archive.jsonl --format jsonl   # the fast model of a bundle
  classify --topics embedding_topics "Rail freight to China grew"   # not its LDA topics
  classify --lines --threshold 0.3 --max-labels 1 < headlines.txt
  classify --threshold defense=0.2 --threshold 'human rights=0.6' "Troops at the border"
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classify",
        description="Tag news text with labels, calibrated scores and dominant topics.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"classify (topics {__version__})")
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
        default=None,
        help=f"bundle folder from a run (default: ${MODEL_ENV}, else {DEFAULT_MODEL}, the "
        "newest run, relative to the current directory), "
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
    parser.add_argument(
        "--format",
        choices=["text", "json", "jsonl"],
        default="text",
        help="text: readable; json: one array of objects, one per document (always an "
        "array); jsonl: one object per line",
    )
    parser.add_argument(
        "--threshold",
        dest="thresholds",
        action="append",
        default=[],
        metavar="[LABEL=]VALUE",
        help="decision threshold in [0, 1]: VALUE for every label, or LABEL=VALUE for one "
        "(repeatable); default: the thresholds fitted at training",
    )
    parser.add_argument(
        "--max-labels",
        type=int,
        metavar="K",
        help="at most K labels per document, the most probable first (fastText's -k)",
    )
    parser.add_argument(
        "--passages",
        type=int,
        metavar="N",
        help="score documents of 2N words or more passage by passage (windows of whole "
        "sentences of >= N words), each label at its best passage: for long articles "
        "and a model trained on short texts, e.g. --passages 25 for one trained on "
        "headlines; 0: whole documents (default: the bundle's model.passages)",
    )
    parser.add_argument(
        "--passage-support",
        type=int,
        metavar="S",
        help="by passage, one passage in S must carry a label: a document of n > S "
        "passages scores each label by its ceil(n / S)-th best passage, so one side "
        "sentence of a long article gives no label; 0: the best passage (default: the "
        "bundle's model.passage_support)",
    )
    parser.add_argument(
        "--relative-cut",
        type=float,
        metavar="SHARE",
        help="give a label only where its score reaches SHARE (in [0, 1]) of the "
        "document's best label's score, e.g. 0.7 to keep an article's main topics and "
        "drop those one paragraph touches; 0: off (default: the bundle's "
        "model.relative_cut)",
    )
    parser.add_argument(
        "--lines",
        action="store_true",
        help="one document per line of stdin and of text files (fastText-style)",
    )
    parser.add_argument("--top-k", type=int, default=3, help="dominant topics to show (default: 3)")
    parser.add_argument(
        "--topics",
        metavar="NAME",
        help="which topic model lists the dominant topics, for a bundle with both: lda "
        "or embedding_topics (default: lda when the bundle has it, else embedding_topics)",
    )
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
        input_format = _input_format(args)
        predictor = load_model(args.model, args.tracking_uri, prog="classify")
        if args.use is not None and args.use not in predictor.models:
            raise ConfigError(
                f"--use {args.use}: this bundle's models are {', '.join(sorted(predictor.models))}"
            )
        if args.topics is not None and args.topics not in predictor.topic_models:
            has = ", ".join(predictor.topic_models)
            found = f"this bundle's topic models are {has}" if has else "this bundle has none"
            raise ConfigError(f"--topics {args.topics}: {found}")
        args.threshold = parse_thresholds(args.thresholds, predictor.labels)
        if args.max_labels is not None and args.max_labels < 1:
            raise ConfigError(f"--max-labels must be >= 1, got {args.max_labels}")
        if args.passages is not None and args.passages < 0:
            raise ConfigError(f"--passages must be >= 0 words, got {args.passages}")
        if args.relative_cut is not None and not 0 <= args.relative_cut <= 1:
            raise ConfigError(f"--relative-cut must be in [0, 1], got {args.relative_cut}")
        if args.passage_support is not None:
            if args.passage_support < 0:
                raise ConfigError(f"--passage-support must be >= 0, got {args.passage_support}")
            predictor.passage_support = args.passage_support
        documents = read_documents(
            args.texts, args.files, problems, sys.stdin, args.text_column, input_format
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


def _input_format(args: argparse.Namespace) -> str:
    if not args.lines:
        return str(args.input_format)
    if args.input_format not in ("auto", "text"):
        raise ConfigError(
            f"--lines reads plain text, one document per line; it cannot combine with "
            f"--input-format {args.input_format} (drop one of them)"
        )
    return "lines"


def parse_thresholds(values: Sequence[str], labels: Sequence[str]) -> dict[str, float] | None:
    """``--threshold`` values -> ``{label: threshold}`` (a bare VALUE sets every label,
    later values win), or None: the thresholds fitted at training.

    >>> parse_thresholds(["0.4", "defense=0.2"], ["economy", "defense"])
    {'economy': 0.4, 'defense': 0.2}
    """
    if not values:
        return None
    chosen: dict[str, float] = {}
    for item in values:
        label, sep, text = item.rpartition("=")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 1.0:
            raise ConfigError(
                f"--threshold {item!r}: expected VALUE or LABEL=VALUE with VALUE in [0, 1], "
                "e.g. --threshold 0.3 or --threshold defense=0.2"
            )
        if not sep:
            chosen.update(dict.fromkeys(labels, value))
        elif label.strip() in labels:
            chosen[label.strip()] = value
        else:
            raise ConfigError(
                f"--threshold {item!r}: no label {label.strip()!r}; this model's labels are "
                f"{', '.join(labels)}"
            )
    return chosen


def write_predictions(
    predictor: Any,
    documents: Iterator[tuple[str | None, str]],
    args: argparse.Namespace,
    out: TextIO,
) -> None:
    """Score ``documents`` chunk by chunk and write them in input order.

    ``--format json`` streams too: always one array, written element by element,
    the same text ``json.dumps(results, indent=2)`` would give.
    """
    array = _JsonArray(out)
    while chunk := list(islice(documents, CHUNK)):
        results = predictor.predict(
            [text for _, text in chunk],
            top_k=args.top_k,
            explain=args.explain,
            model=args.use,
            threshold=getattr(args, "threshold", None),
            max_labels=getattr(args, "max_labels", None),
            topic_model=getattr(args, "topics", None),
            passages=getattr(args, "passages", None),
            relative_cut=getattr(args, "relative_cut", None),
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
    """Writes records as one JSON array without holding them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        self.out.write(("[\n" if self.count == 0 else ",\n") + self._element(record))
        self.count += 1

    def close(self) -> None:
        self.out.write("\n]\n" if self.count else "[]\n")

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


def quote(passage: str) -> str:
    """``passage`` on one line, cut to ``QUOTE_CHARS`` characters."""
    line = " ".join(passage.split())
    return line if len(line) <= QUOTE_CHARS else line[: QUOTE_CHARS - 3] + "..."


def format_text(result: dict[str, Any], explain: bool = False) -> str:
    """One readable block per document."""
    head = f"{result['id']}: " if "id" in result else ""
    labels = ", ".join(result["labels"]) or "(no label)"
    scores = "  ".join(f"{label} {score:.2f}" for label, score in result["scores"].items())
    lines = [f"{head}{labels}", f"  scores: {scores}"]
    for topic in result["topics"]:
        name = f" {topic['name']}" if topic.get("name") else ""
        words = ", ".join(topic["words"][:6])
        lines.append(f"  topic {topic['topic']}{name} ({topic['weight']:.2f}): {words}")
    if explain:
        quoted = result["explanation"].get("passages", {})
        for label, terms in result["explanation"]["terms"].items():
            shown = ", ".join(f"{t['term']} (+{t['weight']:.3f})" for t in terms)
            lines.append(f"  why {label}: {shown or '(no strong terms)'}")
            if label in quoted:
                lines.append(f'    in: "{quote(quoted[label])}"')
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
