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
from urllib.parse import quote, urlencode

from topics import __version__, progress
from topics.errors import BundleError, ConfigError, TopicsError, stdout_closed
from topics.serve.inputs import Problems, read_documents

DEFAULT_MODEL = "artifacts/latest"
MODEL_ENV = "TOPICS_MODEL"
MLFLOW_SCHEMES = ("models:/", "runs:/")
CHUNK = 1024
# Bundles fetched from MLflow are kept under $TOPICS_CACHE_DIR, else
# $XDG_CACHE_HOME/topics, else ~/.cache/topics (in models/).
CACHE_ENV = "TOPICS_CACHE_DIR"
# models:/NAME/VERSION, models:/MODEL_ID (a logged model), runs:/RUN_ID/PATH: immutable,
# so cached by what they name; models:/NAME@ALIAS is resolved to its version first.
SERVER_TIMEOUT = 5.0  # seconds for a tracking server to name an alias's version
ALIASES = "aliases.json"  # alias -> version, while the SQLite store is unchanged
PINNED_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
LOGGED_MODEL = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)/?$")
RUN_ARTIFACT = re.compile(r"^runs:/(?P<run>[0-9a-f]+)/(?P<path>.+?)/?$")
ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)/?$")

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
        predictor = _load(args.model, args.tracking_uri)
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


def default_model() -> str:
    """``$TOPICS_MODEL`` if set, else ``artifacts/latest`` (relative to the current directory)."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def _load(model: str | None, tracking_uri: str | None = None) -> Any:
    from topics.serve.predictor import Predictor

    if model is None:
        model = default_model()
        if not model.startswith(MLFLOW_SCHEMES) and not (Path(model) / "manifest.json").exists():
            where = f"${MODEL_ENV}={model}" if model != DEFAULT_MODEL else DEFAULT_MODEL
            raise BundleError(
                f"no trained model at {where} ({Path(model).absolute()}): run 'make run' "
                f"first (from the project root), or pass --model PATH or set {MODEL_ENV}"
            )
    if model.startswith(MLFLOW_SCHEMES):  # through the cache of fetched bundles
        return load_from_mlflow(model, tracking_uri)
    return Predictor.load(model)


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
    folder = _store_folder(_store(tracking_uri))
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


def _store(tracking_uri: str | None) -> str:
    """The store's URI as MLflow resolves it, a local SQLite file by its absolute path."""
    store = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    if store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
        store = "sqlite:///" + str(Path(store.removeprefix("sqlite:///")).resolve())
    return store


def _store_folder(store: str) -> Path:
    return cache_root() / "models" / hashlib.sha256(store.encode()).hexdigest()[:16]


def _store_state(store: str) -> list[int] | None:
    """Size and modification time of a SQLite store's files: any write to the store
    (an alias moved, a version registered) changes them. None for a server."""
    if not store.startswith("sqlite:///"):
        return None
    database = Path(store.removeprefix("sqlite:///"))
    state = []
    for path in (database, database.with_name(database.name + "-wal")):
        try:
            stat = path.stat()
        except OSError:
            state += [0, 0]
        else:
            state += [stat.st_size, stat.st_mtime_ns]
    return state


def cached_alias(model_uri: str, tracking_uri: str | None) -> str | None:
    """``models:/NAME/VERSION`` that ``model_uri`` (an alias) named when last resolved,
    if the SQLite store has not been written since; else None (ask the registry)."""
    store = _store(tracking_uri)
    state = _store_state(store)
    try:
        known = json.loads((_store_folder(store) / ALIASES).read_text())
        pinned = known[model_uri]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if state is None or not isinstance(pinned, dict) or pinned.get("store") != state:
        return None
    version = str(pinned.get("version", ""))
    return version if PINNED_VERSION.match(version) else None


def _remember_alias(model_uri: str, version: str, state: list[int] | None, store: str) -> None:
    """Keep what ``model_uri`` resolved to while the store was in ``state``."""
    if state is None:
        return
    memo = _store_folder(store) / ALIASES
    try:
        known = json.loads(memo.read_text())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    known[model_uri] = {"version": version, "store": state}
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        staging = memo.with_name(f".{memo.name}.{os.getpid()}")
        staging.write_text(json.dumps(known))
        os.replace(staging, memo)
    except OSError:  # a read-only cache only costs the next call a lookup
        pass


def ask_server_for_alias(model_uri: str, store: str) -> str | None:
    """``models:/NAME/VERSION`` that the alias names now, asked of an ``http(s)://``
    tracking server in one REST call (MLflow's ``registered-models/alias`` endpoint),
    so that an alias costs milliseconds rather than importing mlflow. None for any
    other store, or when the call fails: MLflow's own client then asks, and reports
    what went wrong in its words. Credentials come from the variables MLflow's client
    reads (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``)."""
    match = ALIAS.match(model_uri)
    if match is None or not store.startswith(("http://", "https://")):
        return None
    import base64
    import urllib.request  # here: it costs local paths tens of milliseconds

    query = urlencode({"name": match["name"], "alias": match["alias"]})
    request = urllib.request.Request(
        f"{store.rstrip('/')}/api/2.0/mlflow/registered-models/alias?{query}"
    )
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {token}")
    elif user := os.environ.get("MLFLOW_TRACKING_USERNAME"):
        secret = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(secret).decode())
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT) as response:
            version = str(json.load(response)["model_version"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    pinned = f"models:/{match['name']}/{version}"
    return pinned if PINNED_VERSION.match(pinned) else None


def load_from_mlflow(model_uri: str, tracking_uri: str | None = None) -> Any:
    """The bundle behind a ``models:/`` or ``runs:/`` URI, from the cache when it holds it.

    A version-pinned URI that is cached loads without importing mlflow. So does an
    alias on a local SQLite store that has not been written since the alias was last
    looked up, and an alias on a tracking server (one REST call names its version);
    otherwise an alias costs one registry lookup through mlflow, then the same.
    Whatever the cache holds is checked as any bundle is (manifest, checksums) on every
    load; an entry that fails the check is fetched again.
    """
    from topics.errors import BundleError
    from topics.serve.predictor import Predictor

    entry = cache_entry(model_uri, tracking_uri)
    if entry is None and ALIAS.match(model_uri):
        store = _store(tracking_uri)
        pinned = cached_alias(model_uri, tracking_uri) or ask_server_for_alias(model_uri, store)
        if pinned is None:
            from topics.tracking import resolve_alias

            state = _store_state(store)  # before the lookup: a later write voids it
            pinned = resolve_alias(model_uri, tracking_uri)
            _remember_alias(model_uri, pinned, state, store)
        model_uri = pinned
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
        for label, terms in result["explanation"]["terms"].items():
            shown = ", ".join(f"{t['term']} (+{t['weight']:.3f})" for t in terms)
            lines.append(f"  why {label}: {shown or '(no strong terms)'}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
