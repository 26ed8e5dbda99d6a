"""Reading articles: JSONL, CSV, or a folder of ``.txt`` files, into a :class:`Corpus`.

The label set comes from the config: labels a document carries that are not in
it are dropped (an article tagged "sport" counts as carrying none of the four).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from topics.config import DATA_ROOT_ENV, DataConfig
from topics.errors import DataError


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


def load_corpus(config: DataConfig) -> Corpus:
    """Load the dataset ``config`` describes and check it is usable.

    Raises
    ------
    DataError
        The path is missing or unreadable, the file is malformed, the dataset is
        empty, or a configured label is carried by no document.
    """
    path = config.resolved_path()
    if not path.exists():
        raise DataError(
            f"data not found: {path} (data root {config.resolved_root()}: data.root, else "
            f"${DATA_ROOT_ENV}, else the current directory); point to it with "
            f"--set data.root=DIR or {DATA_ROOT_ENV}=DIR"
        )
    fmt = config.format or _guess_format(path)
    readers = {
        "jsonl": _read_jsonl,
        "csv": _read_csv,
        "folder": _read_folder,
        "reuters21578": _read_reuters,
        "20newsgroups": _read_newsgroups,
    }
    try:
        records = list(readers[fmt](path, config))
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: cannot decode as {config.encoding} ({exc.reason} at byte {exc.start}); "
            "set data.encoding"
        ) from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _build_corpus(records, config, path)


def _guess_format(path: Path) -> str:
    if path.is_dir():
        return "folder"
    if path.name.startswith("reuters21578"):
        return "reuters21578"
    if path.name.startswith("20news"):
        return "20newsgroups"
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    raise DataError(f"{path}: cannot tell the format from '{suffix}'; set data.format")


def _read_jsonl(path: Path, config: DataConfig) -> Iterator[dict[str, Any]]:
    with path.open(encoding=config.encoding) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise DataError(f"{path}:{line_no}: expected a JSON object per line")
            record.setdefault("_line", line_no)
            yield record


def _read_csv(path: Path, config: DataConfig) -> Iterator[dict[str, Any]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding=config.encoding, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        for line_no, row in enumerate(reader, start=2):
            record: dict[str, Any] = dict(row)
            record["_line"] = line_no
            yield record


def _read_folder(path: Path, config: DataConfig) -> Iterator[dict[str, Any]]:
    """``path/<label>/<name>.txt``: one document per file, labelled by its folder."""
    for file in sorted(path.rglob("*.txt")):
        relative = file.relative_to(path)
        label = relative.parts[0] if len(relative.parts) > 1 else None
        yield {
            "_id": relative.as_posix(),
            "_text": file.read_text(encoding=config.encoding),
            "_labels": [label] if label else [],
        }


def _read_reuters(path: Path, config: DataConfig) -> Iterator[dict[str, Any]]:
    from topics.data.datasets.reuters import read_reuters

    return read_reuters(path, encoding=config.encoding)


def _read_newsgroups(path: Path, config: DataConfig) -> Iterator[dict[str, Any]]:
    from topics.data.datasets.newsgroups import read_newsgroups

    return read_newsgroups(path, encoding=config.encoding, remove=config.remove)


def split_field(config: DataConfig) -> str | None:
    """The record field the split reads (``split`` / ``year`` by default), if any."""
    kind = config.split.kind
    if kind == "predefined":
        return config.split.field or "split"
    if kind == "temporal":
        return config.split.field or "year"
    return None


def _build_corpus(records: list[dict[str, Any]], config: DataConfig, path: Path) -> Corpus:
    if not records:
        raise DataError(f"{path}: the dataset is empty; expected at least one document")
    wanted = tuple(config.labels)
    field_name = split_field(config)
    ids, texts, labels, split_values, sources = [], [], [], [], []
    for n, record in enumerate(records):
        where = f"{path}:{record.get('_line', n + 1)}"
        doc_labels = tuple(label for label in _record_labels(record, config) if label in wanted)
        if config.drop_unlabeled and not doc_labels:
            continue
        ids.append(_record_id(record, config, n))
        texts.append(_record_text(record, config, where))
        labels.append(doc_labels)
        if field_name is not None:
            split_values.append(_record_split_value(record, field_name, where))
        if config.label_map is not None:
            sources.append(_source_label(record, config))
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise DataError(f"{path}: document id {duplicate!r} appears more than once")
    carried = {label for doc_labels in labels for label in doc_labels}
    missing = [label for label in wanted if label not in carried]
    if missing:
        raise DataError(
            f"{path}: no document carries the configured label(s) {missing}; "
            f"fix data.labels or the label field '{config.label_field}'"
        )
    if config.single_label:
        counts = sorted({len(doc_labels) for doc_labels in labels})
        if counts != [1]:
            raise DataError(
                f"{path}: data.single_label is set but documents carry {counts} labels each; "
                "every document needs exactly one (unset data.single_label for multi-label data)"
            )
    meta: dict[str, list[Any]] = {field_name: split_values} if field_name is not None else {}
    if config.label_map is not None:
        meta["source_label"] = sources  # before label_map: for model.tfidf.fine_labels
    return Corpus(ids=ids, texts=texts, labels=labels, label_names=wanted, meta=meta)


def _source_label(record: dict[str, Any], config: DataConfig) -> str:
    value = record["_labels"] if "_labels" in record else record.get(config.label_field)
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


def _record_id(record: dict[str, Any], config: DataConfig, n: int) -> str:
    if "_id" in record:
        return str(record["_id"])
    if config.id_field and record.get(config.id_field) not in (None, ""):
        return str(record[config.id_field])
    return str(n)


def _record_text(record: dict[str, Any], config: DataConfig, where: str) -> str:
    if "_text" in record:
        return str(record["_text"])
    absent = [name for name in config.text_fields if name not in record]
    if len(absent) == len(config.text_fields):
        fields = sorted(k for k in record if not k.startswith("_"))
        raise DataError(
            f"{where}: none of data.text_fields {config.text_fields} is present; "
            f"the record has {fields}"
        )
    parts = [str(record[name]).strip() for name in config.text_fields if record.get(name)]
    return ". ".join(part for part in parts if part)


def _record_labels(record: dict[str, Any], config: DataConfig) -> list[str]:
    value = record["_labels"] if "_labels" in record else record.get(config.label_field)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        values = [str(v).strip() for v in value]
    elif config.label_sep:
        values = [part.strip() for part in str(value).split(config.label_sep) if part.strip()]
    else:
        values = [str(value).strip()]
    if config.label_map is None:
        return values
    mapped = (config.label_map.get(v) for v in values)
    return list(dict.fromkeys(label for label in mapped if label is not None))
