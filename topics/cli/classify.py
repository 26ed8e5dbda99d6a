"""The ``classify`` command: tag text with a trained bundle.

Imports only :mod:`topics.serve.predictor` (numpy) so it starts fast; documents are read
and scored in chunks, so a large file streams in constant memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from topics import progress
from topics.errors import ConfigError, TopicsError, stdout_closed
from topics.serve.inputs import Problems, read_documents

DEFAULT_MODEL = "artifacts/latest"
MLFLOW_SCHEMES = ("models:/", "runs:/")
CHUNK = 1024
# Bundles fetched from MLflow are kept under $TOPICS_CACHE_DIR, else
# $XDG_CACHE_HOME/topics, else ~/.cache/topics (in models/).
CACHE_ENV = "TOPICS_CACHE_DIR"
# models:/NAME/VERSION, models:/MODEL_ID (a logged model), runs:/RUN_ID/PATH: immutable,
# so cached by what they name; models:/NAME@ALIAS is resolved to its version first.
PINNED_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
LOGGED_MODEL = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)/?$")
RUN_ARTIFACT = re.compile(r"^runs:/(?P<run>[0-9a-f]+)/(?P<path>.+?)/?$")
ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)/?$")

EPILOG = """\
input:
  TEXT arguments are documents; -f reads files (.jsonl: one object per line with
  'text' and optional 'title'/'id'; .csv: the --text-column; anything else: the
  whole file is one document; '-' is stdin). With neither, stdin is one document.

exit status:
  0 all inputs classified; 1 some inputs skipped (each reported on stderr, the
  rest classified); 2 nothing done (bad option, no model, corrupt model).

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
    from topics.errors import BundleError
    from topics.serve.predictor import Predictor

    if model.startswith(MLFLOW_SCHEMES):
        return load_from_mlflow(model, tracking_uri)
    path = Path(model)
    if model == DEFAULT_MODEL and not (path / "manifest.json").exists():
        raise BundleError(
            f"no trained model at {DEFAULT_MODEL}: run 'make run' first, or pass --model PATH"
        )
    return Predictor.load(path)


def cache_root() -> Path:
    """Where fetched bundles are kept: ``$TOPICS_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/topics``, else ``~/.cache/topics``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "topics"


def cache_entry(model_uri: str, tracking_uri: str | None) -> Path | None:
    """The cache folder of an immutable ``model_uri`` in the store ``tracking_uri``
    (the same resolution as MLflow's: the argument, ``$MLFLOW_TRACKING_URI``, the
    local ``mlflow.db``); None for a URI that may move (an alias)."""
    store = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    if store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
        store = "sqlite:///" + str(Path(store.removeprefix("sqlite:///")).resolve())
    folder = cache_root() / "models" / hashlib.sha256(store.encode()).hexdigest()[:16]
    if match := PINNED_VERSION.match(model_uri):
        parts = ["registry", quote(match["name"], safe=""), match["version"]]
    elif match := LOGGED_MODEL.match(model_uri):
        parts = ["logged", match["id"]]
    elif match := RUN_ARTIFACT.match(model_uri):
        parts = ["runs", match["run"], quote(match["path"], safe="")]
    else:
        return None
    if any(part in (".", "..") for part in parts):  # names no folder of its own
        return None
    return folder.joinpath(*parts)


def load_from_mlflow(model_uri: str, tracking_uri: str | None = None) -> Any:
    """The bundle behind a ``models:/`` or ``runs:/`` URI, from the cache when it holds it.

    A version-pinned URI that is cached loads without importing mlflow; an alias costs
    one registry lookup (its version), then the same. Whatever the cache holds is
    checked as any bundle is (manifest, checksums) on every load; an entry that fails
    the check is fetched again.
    """
    from topics.errors import BundleError
    from topics.serve.predictor import Predictor

    entry = cache_entry(model_uri, tracking_uri)
    if entry is None and ALIAS.match(model_uri):
        from topics.tracking import resolve_alias

        model_uri = resolve_alias(model_uri, tracking_uri)
        entry = cache_entry(model_uri, tracking_uri)
    if entry is not None and (entry / "manifest.json").is_file():
        try:
            return Predictor.load(entry)
        except BundleError as exc:
            print(
                f"classify: warning: cached {model_uri}: {exc}; fetching it again", file=sys.stderr
            )
            shutil.rmtree(entry, ignore_errors=True)
    # Only a cache miss pays for importing mlflow; plain paths stay numpy-only.
    from topics.tracking import fetch_bundle

    with tempfile.TemporaryDirectory(prefix="topics-model-") as tmp:
        bundle = fetch_bundle(model_uri, tmp, tracking_uri)
        predictor = Predictor.load(bundle)  # checked before it is kept
        if entry is not None:
            _keep(bundle, entry)
    return predictor


def _keep(bundle: Path, entry: Path) -> None:
    """Copy ``bundle`` to ``entry`` atomically (a staging folder renamed into place);
    a cache that cannot be written only costs the next call a download."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=entry.parent))
    except OSError:  # a read-only cache
        return
    try:
        shutil.copytree(bundle, staging, dirs_exist_ok=True)
        if entry.exists() and not (entry / "manifest.json").is_file():
            shutil.rmtree(entry, ignore_errors=True)  # a broken entry left behind
        os.replace(staging, entry)
    except OSError:  # another process kept it first
        shutil.rmtree(staging, ignore_errors=True)


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
            [text for _, text in chunk], top_k=args.top_k, explain=args.explain, model=args.use
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
