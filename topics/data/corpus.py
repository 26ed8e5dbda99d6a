"""Loading articles into a :class:`Corpus`: JSONL, CSV, a folder of ``.txt`` files or
one of the datasets, read by :mod:`topics.data.readers`.

Readers take plain keyword arguments; the experiment's ``data:`` section is
turned into them on the run side (:func:`topics.run.cache.corpus_kwargs`). The
arguments carry the names of those keys, and an error caused by one names its
key path (``data.encoding``), which is where most users set it.

Labels a document carries that are not in ``labels`` are dropped (an article
tagged "sport" counts as carrying none of the four).

>>> from importlib.resources import files
>>> path = files("topics") / "sample_data" / "central_asia_news.jsonl"
>>> corpus = load_corpus(path, labels=["economy", "transport"])
>>> corpus.label_names
('economy', 'transport')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from topics.data.readers import (
    FORMATS,
    READERS,
    REPLACE_AND_COUNT,
    ReadOptions,
    guess_format,
    read_errors,
    read_records,
)
from topics.errors import DataError

# Errors quote the data file only in short excerpts, marked as such: the path may
# be any file the user can read, and the message may end up in a log or a ticket.
EXCERPT_CHARS = 20
EXCERPT_ITEMS = 8

ENCODING_ERRORS = ("strict", "replace")
DATE_META = "date"  # Corpus.meta key of the documents' dates (load_corpus(date_field=...))


@dataclass(frozen=True)
class Corpus:
    """Documents with their labels, restricted to ``label_names``."""

    ids: list[str]
    texts: list[str]
    labels: list[tuple[str, ...]]
    label_names: tuple[str, ...]
    meta: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def label_matrix(self) -> np.ndarray:
        """``(n_docs, n_labels)`` 0/1 matrix in ``label_names`` order."""
        index = {name: j for j, name in enumerate(self.label_names)}
        matrix = np.zeros((len(self), len(self.label_names)), dtype=np.int64)
        for i, doc_labels in enumerate(self.labels):
            for label in doc_labels:
                matrix[i, index[label]] = 1
        return matrix

    def subset(self, indices: Iterable[int]) -> Corpus:
        idx = list(indices)
        return Corpus(
            ids=[self.ids[i] for i in idx],
            texts=[self.texts[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            label_names=self.label_names,
            meta={key: [values[i] for i in idx] for key, values in self.meta.items()},
        )

    def fingerprint(self) -> str:
        """sha256 over ids, texts and labels: changes whenever the data does."""
        digest = hashlib.sha256()
        for doc_id, text, labels in zip(self.ids, self.texts, self.labels, strict=True):
            digest.update(json.dumps([doc_id, text, sorted(labels)]).encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class _RecordFields:
    """Which fields of a record hold its id, text and labels."""

    id_field: str | None
    text_fields: tuple[str, ...]
    label_field: str
    label_sep: str | None
    label_map: dict[str, str | None] | None
    csv: bool = False  # a CSV read with its first row as the header


def load_corpus(
    path: str | PathLike[str],
    *,
    labels: Sequence[str],
    format: str | None = None,
    encoding: str = "utf-8",
    id_field: str | None = "id",
    text_fields: Sequence[str] = ("title", "text"),
    label_field: str = "labels",
    label_sep: str | None = None,
    label_map: Mapping[Any, str | None] | None = None,
    single_label: bool = False,
    drop_unlabeled: bool = False,
    remove: Iterable[str] = (),
    split_field: str | None = None,
    columns: Sequence[str] | None = None,
    encoding_errors: str = "strict",
    date_field: str | None = None,
) -> Corpus:
    """Load the dataset at ``path`` and check it is usable.

    Parameters
    ----------
    path
        A ``.jsonl``/``.csv``/``.tsv`` file, a folder of ``<label>/<name>.txt``
        files, or a published archive (``reuters21578.tar.gz``, ``20news-bydate.tar.gz``).
    labels
        The label set, in column order; other labels are dropped.
    format
        One of ``FORMATS``; None guesses it from ``path``.
    encoding
        Text encoding of the files.
    id_field
        Record field holding the document id; None (or a missing value) numbers the records.
    text_fields
        Record fields joined with ``". "`` into the document text.
    label_field
        Record field holding the labels: a list, or one value (``label_sep`` splits it).
    label_sep
        Separator of several labels in one text value (``"|"``).
    label_map
        Source value -> label (None: no label); values it does not list carry no
        label. The unmapped source label is kept in ``meta["source_label"]``.
    single_label
        Require exactly one label per document.
    drop_unlabeled
        Skip documents that carry none of ``labels``.
    remove
        20 Newsgroups: strip ``"headers"``, ``"footers"``, ``"quotes"``.
    split_field
        Record field every document must have, kept in ``meta`` for the split
        (see :func:`topics.data.splits.split_field`); None keeps none.
    columns
        CSV/TSV without a header row: the names of its columns, in order
        (``["label", "title", "description"]``); None reads them from the first row.
    encoding_errors
        ``"strict"``: a byte that does not decode is an error naming the file;
        ``"replace"``: it becomes U+FFFD, and one warning counts them (JSONL, CSV, folder).
    date_field
        Record field holding each document's date (an ISO date, a year-month or a
        year), kept as read in ``meta["date"]`` (None where a record has none); None
        keeps no dates.

    Raises
    ------
    DataError
        The path is missing or unreadable, the file is malformed, the dataset is
        empty, or a label is carried by no document.
    """
    labels, text_fields = tuple(labels), tuple(text_fields)
    _check_arguments(labels, format, text_fields)
    if encoding_errors not in ENCODING_ERRORS:
        raise ValueError(
            f"The 'encoding_errors' parameter of load_corpus must be one of "
            f"{list(ENCODING_ERRORS)}. Got {encoding_errors!r} instead."
        )
    path = Path(path)
    if not path.exists():
        raise DataError(f"data not found: {path}; check the path")
    fmt = format or guess_format(path)
    errors = REPLACE_AND_COUNT if encoding_errors == "replace" else "strict"
    options = ReadOptions(tuple(remove), errors, None if columns is None else tuple(columns))
    records = read_records(path, fmt, encoding, options)
    fields = _RecordFields(
        id_field=id_field,
        text_fields=text_fields,
        label_field=label_field,
        label_sep=label_sep,
        # YAML reads `16: defense` with an int key; CSV cells are text.
        label_map=None if label_map is None else {str(k): v for k, v in label_map.items()},
        csv=fmt == "csv" and columns is None,
    )
    corpus = _build_corpus(records, fields, labels, split_field, drop_unlabeled, path, date_field)
    if single_label:
        _check_single_label(corpus, path)
    return corpus


def _check_arguments(
    labels: tuple[str, ...], format: str | None, text_fields: tuple[str, ...]
) -> None:
    if not labels:
        raise ValueError(
            "The 'labels' parameter of load_corpus must name at least one label. Got () instead."
        )
    if format is not None and format not in FORMATS:
        raise ValueError(
            f"The 'format' parameter of load_corpus must be one of {list(FORMATS)} or None. "
            f"Got {format!r} instead."
        )
    if not text_fields:
        raise ValueError(
            "The 'text_fields' parameter of load_corpus must name at least one field. "
            "Got () instead."
        )


def _build_corpus(
    records: list[dict[str, Any]],
    fields: _RecordFields,
    wanted: tuple[str, ...],
    field_name: str | None,
    drop_unlabeled: bool,
    path: Path,
    date_field: str | None = None,
) -> Corpus:
    if not records:
        raise DataError(f"{path}: the dataset is empty; expected at least one document")
    ids, texts, labels, split_values, sources, dates = [], [], [], [], [], []
    for n, record in enumerate(records):
        where = f"{path}:{record.get('_line', n + 1)}"
        doc_labels = tuple(label for label in _record_labels(record, fields) if label in wanted)
        if drop_unlabeled and not doc_labels:
            continue
        ids.append(_record_id(record, fields, n))
        texts.append(_record_text(record, fields, where))
        labels.append(doc_labels)
        if field_name is not None:
            split_values.append(_record_split_value(record, field_name, where))
        if fields.label_map is not None:
            sources.append(_source_label(record, fields))
        if date_field is not None:
            dates.append(record.get(date_field))
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise DataError(
            f"{path}: document id {_excerpt(duplicate)} (excerpt) appears more than once"
        )
    carried = {label for doc_labels in labels for label in doc_labels}
    missing = [label for label in wanted if label not in carried]
    if missing:
        raise DataError(
            f"{path}: no document carries the configured label(s) {missing}; "
            f"fix data.labels or the label field '{fields.label_field}'"
        )
    meta: dict[str, list[Any]] = {field_name: split_values} if field_name is not None else {}
    if fields.label_map is not None:
        meta["source_label"] = sources  # before label_map: for model.tfidf.fine_labels
    if date_field is not None:
        meta[DATE_META] = dates  # as read: periods are taken where they are used
    return Corpus(ids=ids, texts=texts, labels=labels, label_names=wanted, meta=meta)


def _check_single_label(corpus: Corpus, path: Path) -> None:
    counts = sorted({len(doc_labels) for doc_labels in corpus.labels})
    if counts != [1]:
        raise DataError(
            f"{path}: data.single_label is set but documents carry {counts} labels each; "
            "every document needs exactly one (unset data.single_label for multi-label data)"
        )


def _source_label(record: dict[str, Any], fields: _RecordFields) -> str:
    value = record["_labels"] if "_labels" in record else record.get(fields.label_field)
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip()


def _record_split_value(record: dict[str, Any], field_name: str, where: str) -> Any:
    if "_split" in record and field_name == "split":
        return record["_split"]
    if record.get(field_name) in (None, ""):
        raise DataError(
            f"{where}: the split needs field '{field_name}' but the record has none; "
            "set data.split.field or choose another data.split.kind"
        )
    return record[field_name]


def _record_id(record: dict[str, Any], fields: _RecordFields, n: int) -> str:
    if "_id" in record:
        return str(record["_id"])
    if fields.id_field and record.get(fields.id_field) not in (None, ""):
        return str(record[fields.id_field])
    return str(n)


def _record_text(record: dict[str, Any], fields: _RecordFields, where: str) -> str:
    if "_text" in record:
        return str(record["_text"])
    absent = [name for name in fields.text_fields if name not in record]
    if len(absent) == len(fields.text_fields):
        present = sorted(k for k in record if not k.startswith("_"))
        shown = [_excerpt(name) for name in present[:EXCERPT_ITEMS]]
        more = f" and {len(present) - EXCERPT_ITEMS} more" if len(present) > EXCERPT_ITEMS else ""
        # a header-less CSV: its first row was taken for the column names
        headless = " (no header row? name the columns with data.columns)" if fields.csv else ""
        raise DataError(
            f"{where}: none of data.text_fields {list(fields.text_fields)} is present; "
            f"the record's fields (excerpt): [{', '.join(shown)}{more}]{headless}"
        )
    parts = [str(record[name]).strip() for name in fields.text_fields if record.get(name)]
    return ". ".join(part for part in parts if part)


def _excerpt(value: Any) -> str:
    """``repr`` of the first :data:`EXCERPT_CHARS` characters of ``value``, ``...`` if cut."""
    text = str(value)
    return repr(text[:EXCERPT_CHARS]) + ("..." if len(text) > EXCERPT_CHARS else "")


def _record_labels(record: dict[str, Any], fields: _RecordFields) -> list[str]:
    value = record["_labels"] if "_labels" in record else record.get(fields.label_field)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        values = [str(v).strip() for v in value]
    elif fields.label_sep:
        values = [part.strip() for part in str(value).split(fields.label_sep) if part.strip()]
    else:
        values = [str(value).strip()]
    if fields.label_map is None:
        return values
    mapped = (fields.label_map.get(v) for v in values)
    return list(dict.fromkeys(label for label in mapped if label is not None))


def label_counts(
    path: str | PathLike[str],
    *,
    format: str | None = None,
    encoding: str = "utf-8",
    label_field: str = "labels",
    label_sep: str | None = None,
    columns: Sequence[str] | None = None,
) -> dict[str, int]:
    """How many documents carry each label value of the JSONL, CSV or folder data at
    ``path``: every value, where :func:`load_corpus` keeps only its ``labels``.

    What a model that knows some labels cannot score is told apart this way before
    loading (``topics evaluate``). The arguments are :func:`load_corpus`'s.

    Raises
    ------
    DataError
        The path is missing or unreadable, or its format is not JSONL, CSV or a folder.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data not found: {path}; check the path")
    fmt = format or guess_format(path)
    readers = {name: READERS[name] for name in ("jsonl", "csv", "folder")}
    if fmt not in readers:
        raise DataError(f"{path}: format {fmt!r}: expected one of {sorted(readers)}")
    options = ReadOptions(columns=None if columns is None else tuple(columns))
    fields = _RecordFields(None, ("text",), label_field, label_sep, None)
    counts: dict[str, int] = {}
    with read_errors(path, encoding):
        for record in readers[fmt](path, encoding, options):
            for label in dict.fromkeys(_record_labels(record, fields)):
                counts[label] = counts.get(label, 0) + 1
    return counts
