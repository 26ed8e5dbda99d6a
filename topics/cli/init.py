"""The ``topics init DATA_PATH`` command: start an experiment file for new data.

It reads the data once and guesses what a user would otherwise find by hand:
the format (JSONL, CSV/TSV with or without a header row, a folder of
``<label>/<name>.txt`` files), which fields hold the text, the labels and the id,
the labels and how many documents carry each, a separate test file
(``train.csv`` beside ``test.csv``) and bytes that do not decode. It writes an
experiment YAML that ``topics run`` accepts as is and prints the label counts::

    topics init data/bbc                      # -> experiments/bbc.yaml (or ./bbc.yaml)
    topics run experiments/bbc.yaml

Every guess is a plain key of the file: read it, and change what is wrong.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import yaml

from topics.data.sniff import Sniffed, sniff
from topics.errors import DataError


def build_parser(commands: Any) -> None:
    """Add ``init`` to the ``topics`` subcommands."""
    init = commands.add_parser(
        "init",
        help="write an experiment YAML for new data: format, fields and labels sniffed from it",
        description="Read DATA_PATH (a .jsonl, .csv/.tsv, or a folder of <label>/<name>.txt "
        "files), guess its format, text/label/id fields and labels, write an experiment "
        "file that topics run accepts as is, and print how many documents carry each label.",
    )
    init.add_argument("data_path", metavar="DATA_PATH", help="the data file or folder")
    init.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="experiment file to write (default: experiments/NAME.yaml if experiments/ "
        "exists, else NAME.yaml)",
    )
    init.add_argument("--name", help="experiment name (default: from DATA_PATH)")
    init.add_argument("--label-field", help="the field holding the labels (default: guessed)")
    init.add_argument(
        "--text-field",
        dest="text_fields",
        action="append",
        metavar="FIELD",
        help="a field holding text (repeatable; default: guessed)",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing FILE")


def init_command(args: argparse.Namespace) -> int:
    """Sniff ``args.data_path``, write the experiment file, print the label table."""
    path = Path(args.data_path).expanduser()
    if not path.exists():
        raise DataError(f"data not found: {path}; pass the data file or folder")
    name = args.name or _name_from(path)
    output = Path(args.output) if args.output else _default_output(name)
    if output.exists() and not args.force:
        raise DataError(f"{output} exists; pass --force to overwrite it, or -o FILE")
    sniffed = sniff(path, label_field=args.label_field, text_fields=args.text_fields)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(experiment_yaml(sniffed, path, name), encoding="utf-8")
    print(f"wrote {output}: {describe(sniffed)}")
    print()
    print(label_table(sniffed))
    print()
    print(f"next: topics run {output}    # check the guesses in the file first")
    return 0


def experiment_yaml(sniffed: Sniffed, path: Path, name: str) -> str:
    """The experiment file: a commented, self-contained config for ``topics run``."""
    data: dict[str, Any] = {"name": name, "path": str(path.resolve()), "format": sniffed.format}
    if sniffed.test_path is not None:
        data["test_path"] = str(sniffed.test_path.resolve())
    if sniffed.columns is not None:
        data["columns"] = sniffed.columns
    if sniffed.format != "folder":
        data["id_field"] = sniffed.id_field
        data["text_fields"] = sniffed.text_fields
        data["label_field"] = sniffed.label_field
        if sniffed.label_sep:
            data["label_sep"] = sniffed.label_sep
    if sniffed.undecodable:
        data["encoding_errors"] = "replace"
    data["labels"] = sniffed.labels
    data["single_label"] = sniffed.single_label
    smallest = min(sniffed.label_counts.values())
    n_docs = sniffed.n_documents
    config = {
        "name": name,
        "description": f"{describe(sniffed)} (written by topics init)",
        "seed": 0,
        "data": data,
        "model": {
            # calibration folds on the train split: the rarest label needs a positive in each
            "tfidf": {"enabled": True, "cv_folds": max(2, min(5, smallest * 3 // 4))},
            "lda": {
                "enabled": True,
                "num_topics": max(2, min(10, n_docs // 20)),
                "no_below": 1 if n_docs < 200 else 2,
                "cv_folds": max(2, min(5, smallest * 3 // 4)),
            },
        },
    }
    notes = [
        f"# Written by `topics init {path}`: every value below was guessed from the data.",
        "# Check them, then: topics run THIS_FILE  (see README, 'Write your own experiment').",
    ]
    if sniffed.undecodable:
        shown = ", ".join(sniffed.undecodable[:3])
        notes.append(
            f"# {len(sniffed.undecodable)} file(s) have bytes that are not UTF-8 ({shown}): "
            "set data.encoding if you know it (e.g. latin-1), else they are replaced."
        )
    if sniffed.columns is not None:
        notes.append("# The CSV has no header row: data.columns names its columns.")
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return "\n".join(notes) + "\n" + body


def describe(sniffed: Sniffed) -> str:
    """One line: format, documents, labels."""
    kind = "single-label" if sniffed.single_label else "multi-label"
    fmt = sniffed.format + (" without a header row" if sniffed.columns else "")
    test = ", test file beside it" if sniffed.test_path else ""
    return (
        f"{fmt}, {sniffed.n_documents:,} documents, {len(sniffed.label_counts)} labels "
        f"({kind}){test}"
    )


def label_table(sniffed: Sniffed) -> str:
    """The labels and how many documents carry each, most common first."""
    width = max([len("label"), *(len(label) for label in sniffed.labels)])
    lines = [f"{'label':<{width}}  {'documents':>9}  {'share':>6}"]
    for label in sniffed.labels:
        count = sniffed.label_counts[label]
        lines.append(f"{label:<{width}}  {count:>9,}  {count / sniffed.n_documents:>6.1%}")
    if sniffed.unlabelled:
        lines.append(f"{'(none)':<{width}}  {sniffed.unlabelled:>9,}")
    return "\n".join(lines)


def _name_from(path: Path) -> str:
    stem = path.name if path.is_dir() else path.stem
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem.replace("train", "").strip("-_. ")) or "data"
    return stem if stem[0].isalnum() else f"data-{stem.lstrip('-_.')}"


def _default_output(name: str) -> Path:
    folder = Path("experiments")
    return folder / f"{name}.yaml" if folder.is_dir() else Path(f"{name}.yaml")
