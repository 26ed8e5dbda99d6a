"""Guess how to read new data: the format (JSONL, CSV/TSV with or without a header row,
a folder of ``<label>/<name>.txt`` files), which fields hold the text, the labels and
the id, the labels and how many documents carry each, a separate test file
(``train.csv`` beside ``test.csv``) and bytes that do not decode. ``topics init``
writes what :func:`sniff` finds as an experiment file."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topics.data.readers import jsonl_records
from topics.errors import DataError

LABEL_NAMES = ("labels", "label", "category", "categories", "topic", "topics", "class", "tags")
LABEL_PARTS = ("label", "categor", "topic", "class", "tag")  # e.g. majortopic, news_category
NOT_LABELS = ("year", "date", "time", "split", "source", "author", "url")
NOT_TEXT = ("source", "author", "credit", "copyright", "url", "link", "date", "split")
TITLE_NAMES = ("title", "headline", "subject", "heading")
ID_NAMES = ("id", "doc_id", "document_id", "uid", "guid")
MAX_LABELS = 100  # more distinct values than this: not a label field
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
}


@dataclass
class Sniffed:
    """What ``topics init`` found in the data: the ``data:`` section, and counts."""

    format: str
    n_documents: int
    label_counts: Counter[str]
    unlabelled: int = 0
    text_fields: list[str] = field(default_factory=list)
    label_field: str | None = None
    id_field: str | None = None
    label_sep: str | None = None
    columns: list[str] | None = None
    undecodable: list[str] = field(default_factory=list)  # files with bytes that are not UTF-8
    test_path: Path | None = None

    @property
    def labels(self) -> list[str]:
        """Labels by document count, most common first (ties: by name)."""
        return sorted(self.label_counts, key=lambda label: (-self.label_counts[label], label))

    @property
    def single_label(self) -> bool:
        return self.unlabelled == 0 and sum(self.label_counts.values()) == self.n_documents


def sniff(
    path: Path, label_field: str | None = None, text_fields: Sequence[str] | None = None
) -> Sniffed:
    """Guess how to read the data at ``path`` and count its labels.

    Raises
    ------
    DataError
        The data is empty, its format unknown, or no field looks like labels.
    """
    if path.is_dir():
        return _sniff_folder(path)
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: cannot tell the format from '{path.suffix}'; expected .jsonl, .csv, "
            ".tsv or a folder of <label>/<name>.txt files"
        )
    undecodable: list[str] = []
    text = _read_text(path, undecodable, path.parent)
    if fmt == "jsonl":
        records, columns = [r for _, r in jsonl_records(text.splitlines(), path)], None
    else:
        records, columns = _csv_records(path, text)
    if not records:
        raise DataError(f"{path}: no documents found; expected at least one")
    sniffed = _sniff_records(path, fmt, records, label_field, text_fields)
    sniffed.columns, sniffed.undecodable = columns, undecodable
    sniffed.test_path = _test_file_beside(path)
    return sniffed


def _read_text(file: Path, undecodable: list[str], root: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        undecodable.append(file.relative_to(root).as_posix())
        return file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc.strerror or exc}") from exc


def _sniff_folder(path: Path) -> Sniffed:
    counts: Counter[str] = Counter()
    undecodable: list[str] = []
    unlabelled = 0
    for file in sorted(path.rglob("*.txt")):
        relative = file.relative_to(path)
        _read_text(file, undecodable, path)
        if len(relative.parts) > 1:
            counts[relative.parts[0]] += 1
        else:
            unlabelled += 1
    n_docs = sum(counts.values()) + unlabelled
    if not counts:
        raise DataError(
            f"{path}: no <label>/<name>.txt files; a folder needs one subfolder per label"
        )
    return Sniffed("folder", n_docs, counts, unlabelled, undecodable=undecodable)


def _csv_records(path: Path, text: str) -> tuple[list[dict[str, Any]], list[str] | None]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = [row for row in csv.reader(text.splitlines(), delimiter=delimiter) if row]
    if not rows:
        return [], None
    if _has_header(rows):
        header = rows[0]
        return [dict(zip(header, row, strict=False)) for row in rows[1:]], None
    columns = _name_columns(rows)
    return [dict(zip(columns, row, strict=False)) for row in rows], columns


def _has_header(rows: list[list[str]]) -> bool:
    """The first row names the columns: short, unique, non-numeric names, each far
    shorter than the column's longest values below it."""
    first, body = rows[0], rows[1:51]
    if not body or len(set(first)) != len(first):
        return False
    if any(not cell.strip() or _is_number(cell) or len(cell) > 40 for cell in first):
        return False
    longest = max(range(len(first)), key=lambda j: _mean_length(body, j))
    return len(first[longest]) * 2 < _mean_length(body, longest)


def _name_columns(rows: list[list[str]]) -> list[str]:
    """Names for a header-less CSV: ``label`` for the column with the fewest distinct
    short values, ``title``/``text`` (or ``text_N``) for the long ones."""
    width = max(len(row) for row in rows)
    sample = rows[:2000]
    label = min(range(width), key=lambda j: (len({_cell(r, j) for r in sample}), j))
    long = [j for j in range(width) if j != label and _mean_length(sample, j) >= 15]
    if not long:
        long = [max((j for j in range(width) if j != label), default=label)]
    text_names = ["title", "text"] if len(long) == 2 else ["text"] if len(long) == 1 else []
    names = []
    for j in range(width):
        if j == label:
            names.append("label")
        elif j in long:
            names.append(text_names[long.index(j)] if text_names else f"text_{long.index(j) + 1}")
        else:
            names.append(f"column_{j + 1}")
    return names


def _sniff_records(
    path: Path,
    fmt: str,
    records: list[dict[str, Any]],
    label_field: str | None,
    text_fields: Sequence[str] | None,
) -> Sniffed:
    fields = list(dict.fromkeys(key for record in records[:1000] for key in record))
    label = label_field or _guess_label_field(fields, records)
    if label is None or label not in fields:
        raise DataError(
            f"{path}: no field looks like the labels (fields: {fields}); pass --label-field"
        )
    values = [record.get(label) for record in records]
    sep = _guess_separator(values)
    counts: Counter[str] = Counter()
    unlabelled = 0
    for value in values:
        doc_labels = _split_labels(value, sep)
        counts.update(dict.fromkeys(doc_labels, 1))
        unlabelled += not doc_labels
    if len(counts) > MAX_LABELS:
        raise DataError(
            f"{path}: field '{label}' has {len(counts)} distinct values, too many for labels; "
            "pass --label-field"
        )
    id_field = next((f for f in fields if f.lower() in ID_NAMES and _unique(records, f)), None)
    texts = list(text_fields or _guess_text_fields(fields, records, {label, id_field}))
    if not texts:
        raise DataError(f"{path}: no field looks like text (fields: {fields}); pass --text-field")
    return Sniffed(
        fmt,
        len(records),
        counts,
        unlabelled,
        text_fields=texts,
        label_field=label,
        id_field=id_field,
        label_sep=sep,
    )


def _guess_label_field(fields: list[str], records: list[dict[str, Any]]) -> str | None:
    by_name = next((f for name in LABEL_NAMES for f in fields if f.lower() == name), None)
    if by_name is not None:
        return by_name
    sample = records[:2000]
    candidates = []
    for name in fields:
        if any(part in name.lower() for part in NOT_LABELS):
            continue
        values = [r.get(name) for r in sample]
        if all(isinstance(v, list) for v in values if v is not None):
            candidates.append((False, 0, name))  # a list of strings: labels
            continue
        distinct = {str(v) for v in values if v not in (None, "")}
        few = bool(distinct) and len(distinct) <= min(MAX_LABELS, max(2, len(sample) // 2))
        if few and _mean_length([[str(v)] for v in values if v is not None], 0) < 30:
            named = any(part in name.lower() for part in LABEL_PARTS)
            candidates.append((not named, len(distinct), name))  # a label-like name first
    return min(candidates)[-1] if candidates else None


def _guess_text_fields(
    fields: list[str], records: list[dict[str, Any]], taken: set[str | None]
) -> list[str]:
    """Titles first, then the fields with long, mostly distinct string values (at most
    three; a ``source`` naming a few publishers is not text)."""
    sample = records[:2000]
    strings = {
        name: [r[name] for r in sample if isinstance(r.get(name), str)]
        for name in fields
        if name not in taken and not any(part in name.lower() for part in NOT_TEXT)
    }
    lengths = {name: _mean_length([[v] for v in values], 0) for name, values in strings.items()}
    varied = {name for name, values in strings.items() if len(set(values)) > len(values) / 4}
    titles = [f for f in fields if f.lower() in TITLE_NAMES and f in lengths]
    long = [f for f in fields if lengths.get(f, 0) >= 20 and f in varied and f not in titles]
    chosen = (titles + long)[:3]
    if not chosen and lengths:
        chosen = [max(lengths, key=lambda f: lengths[f])]
    return chosen


def _guess_separator(values: list[Any]) -> str | None:
    texts = [v for v in values if isinstance(v, str) and v]
    for sep in ("|", ";"):
        if texts and sum(sep in v for v in texts) >= max(1, len(texts) // 20):
            return sep
    return None


def _split_labels(value: Any, sep: str | None) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    parts = text.split(sep) if sep else [text]
    return [part.strip() for part in parts if part.strip()]


def _test_file_beside(path: Path) -> Path | None:
    """``.../train.csv`` -> ``.../test.csv`` when it exists (a common layout)."""
    if "train" not in path.name:
        return None
    candidate = path.with_name(path.name.replace("train", "test"))
    return candidate if candidate.is_file() else None


def _cell(row: list[str], j: int) -> str:
    return row[j] if j < len(row) else ""


def _mean_length(rows: Sequence[Sequence[Any]], j: int) -> float:
    cells = [str(row[j]) for row in rows if j < len(row)]
    return sum(map(len, cells)) / len(cells) if cells else 0.0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _unique(records: list[dict[str, Any]], name: str) -> bool:
    values = [r.get(name) for r in records]
    return None not in values and len({str(v) for v in values}) == len(values)
