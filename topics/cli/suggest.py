"""``topics suggest``: pick the articles of an archive an editor should label next.

As light as ``classify``: the archive is scored with the numpy-only predictor
(``--model`` resolves as ``classify --model`` does); which articles to pick is
:mod:`topics.evaluate.suggest` (uncertain, diverse, every label covered). The
output is a labelled round to fill in: ``"labels": []`` and ``"reviewed": false``
beside the model's ``guess``, ``scores`` and ``why``; ``topics run EXP --labelled
FILE`` takes it back (see :mod:`topics.data.rounds`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics import progress
from topics.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from topics.evaluate.suggest import Pick

BATCH = 512  # documents scored at a time

EPILOG = """\
the rule (topics/evaluate/suggest.py): documents whose scores are closest to the
model's per-label thresholds first, round-robin over the labels the model guesses
(a label it never guesses gets its highest-scoring documents), then documents with
no guess; near-duplicates of a pick are passed over.

output (JSONL, one record per pick, in pick order):
  {"id", "text", "labels": [], "reviewed": false, "guess": [...], "scores": {...}, "why"}
  and, for a long article the model scores by passage (model.passages), "passage":
  the one behind the score of the label it was picked for
  fill in "labels" (and set "reviewed": true; [] then means none of the labels),
  then: topics run EXPERIMENT --labelled FILE

examples:
  topics suggest --model artifacts/latest archive.jsonl --n 20 --output to-label.jsonl
  topics suggest --model artifacts/latest archive/ --n 50 --output round2.jsonl \\
      --exclude round1.jsonl
"""


def build_parser(commands: Any) -> None:
    from topics.cli.models import DEFAULT_MODEL, MODEL_ENV

    suggest = commands.add_parser(
        "suggest",
        help="pick articles to label next (the model's least certain guesses), as a file",
        description="Score ARCHIVE with the model and write the N articles an editor should "
        "label next (uncertain, diverse, covering every label).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    suggest.add_argument(
        "archive",
        nargs="+",
        metavar="ARCHIVE",
        help="documents: .jsonl or .csv files, text files, or a folder of .txt files",
    )
    suggest.add_argument(
        "--model",
        default=None,
        help=f"bundle folder or models:/ / runs:/ URI (default: ${MODEL_ENV}, else "
        f"{DEFAULT_MODEL})",
    )
    suggest.add_argument("--tracking-uri", help="MLflow store for models:/ and runs:/ URIs")
    suggest.add_argument(
        "--use", metavar="NAME", help="which of the bundle's models scores (default: its primary)"
    )
    suggest.add_argument("--n", type=int, default=20, help="how many articles (default: 20)")
    suggest.add_argument("--output", required=True, metavar="FILE", help="the JSONL to write")
    suggest.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    suggest.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="FILE",
        help="labelled rounds (JSONL) whose ids are not suggested again",
    )
    suggest.add_argument("--text-column", default="text", help="CSV column holding the text")
    suggest.add_argument(
        "--input-format",
        choices=["auto", "jsonl", "csv", "text"],
        default="auto",
        help="how to read ARCHIVE files (auto: by file suffix)",
    )


def suggest_command(args: argparse.Namespace) -> int:
    import numpy as np

    from topics.cli.models import load_model
    from topics.evaluate.suggest import hashed_word_vectors, pick_for_labelling
    from topics.serve.inputs import Problems

    if args.n < 1:
        raise ConfigError(f"--n must be >= 1, got {args.n}")
    output = Path(args.output)
    if output.exists() and not args.force:
        raise ConfigError(
            f"--output {output}: the file exists; pass --force to overwrite it, or choose "
            "another file"
        )
    predictor = load_model(args.model, args.tracking_uri)
    name = args.use or predictor.primary
    if name not in predictor.models:
        raise ConfigError(
            f"--use {name}: this bundle's models are {', '.join(sorted(predictor.models))}"
        )
    problems = Problems("topics")
    with progress.report_stages():  # a big archive takes a while: say what is going on
        ids, texts, skipped = read_archive(args, excluded_ids(args.exclude), problems)
        if not texts and problems.errors:
            return 2  # no input could be read, and each one said why
        progress.stage(f"score {len(texts)} documents ({skipped} excluded or repeated)")
        proba = score(predictor, name, texts)
        labels = list(predictor.labels)
        thresholds = np.broadcast_to(
            np.asarray(predictor.models[name].thresholds, dtype=np.float64), (len(labels),)
        )
        progress.stage(f"pick {args.n}")
        single = predictor.single_label
        picks = pick_for_labelling(
            proba, thresholds, labels, hashed_word_vectors(texts), args.n, single_label=single
        )
    picked = [texts[pick.index] for pick in picks]
    passages = predictor.best_passages(picked, model=name) if picked else []
    records = round_records(picks, ids, texts, proba, thresholds, labels, single, passages)
    write_jsonl(output, records)
    counts: Counter[str] = Counter(label for record in records for label in record["guess"])
    counts["none"] = sum(1 for record in records if not record["guess"])
    shown = ", ".join(f"{label} {counts[label]}" for label in [*labels, "none"])
    print(
        f"picked {len(records)} of {len(texts)} documents ({skipped} excluded or repeated) -> "
        f"{output}; guesses: {shown}"
    )
    return 1 if problems.errors else 0


def read_archive(
    args: argparse.Namespace, excluded: set[str], problems: Any
) -> tuple[list[str], list[str], int]:
    """Ids and texts of the archive documents to choose from (an excluded id, or one
    seen before, is left out), and how many were left out."""
    ids: list[str] = []
    texts: list[str] = []
    seen, skipped = set(excluded), 0
    for doc_id, text in archive_documents(args, problems):
        if doc_id in seen:
            skipped += 1
            continue
        seen.add(doc_id)
        ids.append(doc_id)
        texts.append(text)
    if not texts and not problems.errors:
        raise ConfigError(
            f"ARCHIVE: no document to suggest ({skipped} excluded or repeated); check the "
            "files and --exclude"
        )
    return ids, texts, skipped


def round_records(
    picks: list[Pick],
    ids: list[str],
    texts: list[str],
    proba: np.ndarray,
    thresholds: np.ndarray,
    labels: list[str],
    single_label: bool,
    passages: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """One record per pick, in pick order: the article, ``labels`` to fill in, and the
    model's guess, scores and why it was picked; for an article scored by passage and
    picked for a label, ``passage``: the one behind that label's score (``passages``:
    each pick's passage behind each label's score)."""
    from topics.evaluate.suggest import guesses

    guessed = guesses(proba, thresholds, single_label)
    return [
        {
            "id": ids[pick.index],
            "text": texts[pick.index],
            "labels": [],
            "reviewed": False,
            "guess": [label for label, on in zip(labels, guessed[pick.index], strict=True) if on],
            "scores": {
                label: round(float(p), 4)
                for label, p in zip(labels, proba[pick.index], strict=True)
            },
            "why": pick.why,
            **({"passage": passages[n][pick.queue]} if pick.queue in passages[n] else {}),
        }
        for n, pick in enumerate(picks)
    ]


def archive_documents(args: argparse.Namespace, problems: Any) -> Iterator[tuple[str, str]]:
    """``(id, text)`` of every archive document: a folder's ``.txt`` files (ids their
    paths inside the folder, as the corpus reader names them), else each file read as
    ``classify -f`` reads it (a record without an id is numbered within its file)."""
    from topics.serve.inputs import read_documents

    for name in args.archive:
        path = Path(name)
        if path.is_dir():
            files = sorted(str(file) for file in path.rglob("*.txt"))
            for file, text in read_documents([], files, problems, None, "text", "text"):
                assert file is not None
                yield Path(file).relative_to(path).as_posix(), text
            continue
        documents = read_documents(
            [], [name], problems, sys.stdin, args.text_column, args.input_format
        )
        for number, (doc_id, text) in enumerate(documents):
            yield (str(number) if doc_id is None else str(doc_id)), text


def excluded_ids(files: list[str]) -> set[str]:
    """The ids of the records of labelled round files (JSONL)."""
    from topics.data.readers import jsonl_records
    from topics.errors import DataError

    ids: set[str] = set()
    for name in files:
        path = Path(name)
        try:
            with path.open(encoding="utf-8") as handle:
                ids.update(
                    str(record["id"]) for _, record in jsonl_records(handle, path) if "id" in record
                )
        except OSError as exc:
            raise DataError(f"--exclude {name}: cannot read ({exc.strerror})") from exc
    return ids


def score(predictor: Any, name: str, texts: list[str]) -> np.ndarray:
    """Calibrated probabilities of model ``name``, in batches, with a bar on a terminal."""
    import numpy as np

    parts = []
    with progress.bar("score", total=len(texts), unit="doc") as shown:
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            parts.append(predictor.predict_proba(batch, model=name))
            shown.update(len(batch))
    return np.vstack(parts)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """``records`` as JSONL, written beside ``path`` and renamed into place."""
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
