"""What ``topics evaluate`` scores: DATA (a labelled file or folder, or a config whose
``data:`` section is read and split as ``topics run`` does) as documents and their truth
in the model's label order, with every problem said in one line."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from topics.errors import ConfigError, DataError

CONFIG_SUFFIXES = (".yaml", ".yml")
FILE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")  # the loader's, by suffix


@dataclass(frozen=True)
class EvaluationData:
    """The labelled documents to score, their truth in the model's label order."""

    name: str  # the data's name: the output folder and the summary say it
    source: str  # DATA as given: the evaluation_data tag
    part: str
    ids: list[str]
    texts: list[str]
    y_true: np.ndarray
    fingerprint: str


def check_options(args: argparse.Namespace) -> None:
    """Refuse, in one line, options that do not apply to DATA (before any model loads)."""
    path = Path(args.data)
    if getattr(args, "passages", None) is not None and args.passages < 0:
        raise ConfigError(f"--passages must be >= 0 words, got {args.passages}")
    if getattr(args, "passage_support", None) is not None and args.passage_support < 0:
        raise ConfigError(f"--passage-support must be >= 0, got {args.passage_support}")
    share = getattr(args, "relative_cut", None)
    if share is not None and not 0 <= share <= 1:
        raise ConfigError(f"--relative-cut must be in [0, 1], got {share}")
    if path.suffix.lower() in CONFIG_SUFFIXES:
        file_options = [
            option
            for option, value in (
                ("--text-field", args.text_fields),
                ("--label-field", args.label_field),
                ("--label-sep", args.label_sep),
                ("--input-format", None if args.input_format == "auto" else args.input_format),
            )
            if value
        ]
        if file_options:
            raise ConfigError(
                f"{file_options[0]} reads a data file; {path} is a config, whose data section "
                "says how to read its data (data.text_fields, data.label_field, ...): drop it"
            )
    elif args.part:
        raise ConfigError(
            f"--part picks a part of a config's split; {path} is a data file, scored whole: "
            "drop --part, or pass an experiment or data config"
        )


def load_evaluation_data(args: argparse.Namespace, labels: list[str]) -> EvaluationData:
    """DATA as the documents to score; every problem (a missing file, labels that
    differ from the model's ``labels``, an option that does not apply) is one line."""
    check_options(args)
    path = Path(args.data)
    if path.suffix.lower() in CONFIG_SUFFIXES:
        return _from_config(path, args.part or "test", labels)
    return _from_file(path, args, labels)


def _from_config(path: Path, part: str, labels: list[str]) -> EvaluationData:
    from topics.config import load_data_config
    from topics.data.splits import split_indices
    from topics.run.cache import split_kwargs
    from topics.run.prepare import load_data

    config = load_data_config(path)
    if set(config.data.labels) != set(labels):
        raise ConfigError(
            f"labels differ: the model's are {labels}, {path} has data.labels "
            f"{list(config.data.labels)}; evaluate on data labelled with the model's labels "
            "(data.label_map maps other label values to them)"
        )
    corpus = load_data(config)
    if part != "all":
        train, test = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
        corpus = corpus.subset(test if part == "test" else train)
    if config.data.label_map is not None:
        unmapped = sum(
            1
            for source, carried in zip(corpus.meta["source_label"], corpus.labels, strict=True)
            if source and not carried
        )
        if unmapped:
            print(
                f"topics: {unmapped} of {len(corpus)} documents carry labels data.label_map "
                "maps to none of the model's: scored as carrying none, as the run does",
                file=sys.stderr,
            )
    order = [corpus.label_names.index(label) for label in labels]
    return EvaluationData(
        name=config.data.name,
        source=str(path),
        part=part,
        ids=list(corpus.ids),
        texts=list(corpus.texts),
        y_true=corpus.label_matrix()[:, order],
        fingerprint=corpus.fingerprint(),
    )


def _from_file(path: Path, args: argparse.Namespace, labels: list[str]) -> EvaluationData:
    from topics.config import validate_config
    from topics.data.corpus import label_counts
    from topics.run.prepare import load_data

    if not path.exists():
        raise DataError(f"data not found: {path}; pass a labelled data file or folder, or a config")
    if args.input_format == "auto" and path.is_file() and path.suffix.lower() not in FILE_SUFFIXES:
        raise ConfigError(
            f"{path}: cannot tell the format from {path.suffix!r}; expected a .jsonl, .csv or "
            ".tsv file, a folder of <label>/<name>.txt, or a YAML config (or pass --input-format)"
        )
    data: dict[str, Any] = {"name": path.stem or path.name, "path": str(path.resolve())}
    data["labels"] = labels
    if args.input_format != "auto":
        data["format"] = args.input_format
    if args.text_fields:
        data["text_fields"] = args.text_fields
    if args.label_field:
        data["label_field"] = args.label_field
    if args.label_sep:
        data["label_sep"] = args.label_sep
    # the file's own folder is the root of nothing: the path is taken as given
    config = validate_config({"name": "evaluation", "data": data, "cache_dir": None}, str(path))
    carried = label_counts(
        path,
        format=config.data.format,
        encoding=config.data.encoding,
        label_field=config.data.label_field,
        label_sep=config.data.label_sep,
    )
    if set(carried) != set(labels):
        found = ", ".join(f"{label!r}: {carried[label]}" for label in sorted(carried))
        raise DataError(
            f"labels differ: the model's are {labels}, {path} carries {{{found}}} (documents "
            f"per label of field '{config.data.label_field}'); evaluate on data labelled with "
            "the model's labels, or map other values to them in a data config (data.label_map, "
            "see configs/data/nyt-cap.yaml)"
        )
    corpus = load_data(config)
    return EvaluationData(
        name=config.data.name,
        source=str(path),
        part="all",
        ids=list(corpus.ids),
        texts=list(corpus.texts),
        y_true=corpus.label_matrix(),
        fingerprint=corpus.fingerprint(),
    )
