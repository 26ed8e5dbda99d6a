r"""Reading a data file's records: JSONL, CSV, a folder of ``.txt`` files, or one of
the datasets of :mod:`topics.data.datasets`. Each record is a dict of the file's
fields; :func:`topics.data.corpus.load_corpus` makes a :class:`~topics.data.corpus.Corpus`
of them. Read and decode errors are one-line :class:`~topics.errors.DataError`\ s
naming the file (and line)."""

from __future__ import annotations

import codecs
import csv
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topics.data.datasets.newsgroups import read_newsgroups
from topics.data.datasets.reuters import read_reuters
from topics.errors import DataError

FORMATS = ("jsonl", "csv", "folder", "reuters21578", "20newsgroups")

logger = logging.getLogger(__name__)
# data.encoding_errors: replace. Python's "replace", counting what it replaced.
REPLACE_AND_COUNT = "topics-replace-and-count"
_replaced = [0]


def _replace_and_count(exc: UnicodeError) -> tuple[str, int]:
    _replaced[0] += 1
    return "\ufffd", exc.end  # type: ignore[attr-defined]


codecs.register_error(REPLACE_AND_COUNT, _replace_and_count)


@dataclass(frozen=True)
class ReadOptions:
    remove: tuple[str, ...] = ()
    errors: str = "strict"
    columns: tuple[str, ...] | None = None


class _FileDecodeError(Exception):
    """A file of a folder does not decode: carries which one."""

    def __init__(self, file: Path, error: UnicodeDecodeError) -> None:
        super().__init__(str(file))
        self.file, self.error = file, error


def _decode_message(file: Path, encoding: str, exc: UnicodeDecodeError) -> str:
    return (
        f"{file}: cannot decode as {encoding} ({exc.reason} at byte {exc.start}); "
        "set data.encoding to the files' encoding (e.g. latin-1), or "
        "data.encoding_errors: replace to replace such bytes"
    )


def guess_format(path: Path) -> str:
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


def _read_jsonl(path: Path, encoding: str, options: ReadOptions) -> Iterator[dict[str, Any]]:
    with path.open(encoding=encoding, errors=options.errors) as handle:
        for line_no, record in jsonl_records(handle, path):
            record.setdefault("_line", line_no)
            yield record


def jsonl_records(lines: Iterable[str], path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file; anything but
    one JSON object per line is a one-line :class:`DataError` naming the line."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
        except RecursionError as exc:
            raise DataError(
                f"{path}:{line_no}: JSON nested too deeply to read; expected one flat "
                "object per line"
            ) from exc
        if not isinstance(record, dict):
            raise DataError(f"{path}:{line_no}: expected a JSON object per line")
        yield line_no, record


def _read_csv(path: Path, encoding: str, options: ReadOptions) -> Iterator[dict[str, Any]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    columns = options.columns
    with path.open(encoding=encoding, errors=options.errors, newline="") as handle:
        # no header row: the configured names (data.columns) are the fieldnames
        reader = csv.DictReader(handle, fieldnames=columns, delimiter=delimiter)
        for line_no, row in enumerate(reader, start=1 if columns else 2):
            if columns and None in row:
                raise DataError(
                    f"{path}:{line_no}: {len(columns) + len(row[None])} values but "
                    f"data.columns names {len(columns)} ({list(columns)}); name every column"
                )
            record: dict[str, Any] = dict(row)
            record["_line"] = line_no
            yield record


def _read_folder(path: Path, encoding: str, options: ReadOptions) -> Iterator[dict[str, Any]]:
    """``path/<label>/<name>.txt``: one document per file, labelled by its folder."""
    for file in sorted(path.rglob("*.txt")):
        relative = file.relative_to(path)
        label = relative.parts[0] if len(relative.parts) > 1 else None
        before = _replaced[0]
        try:
            text = file.read_text(encoding=encoding, errors=options.errors)
        except UnicodeDecodeError as exc:  # name the one file among thousands
            raise _FileDecodeError(file, exc) from exc
        yield {
            "_id": relative.as_posix(),
            "_text": text,
            "_labels": [label] if label else [],
            "_replaced_in": relative.as_posix() if _replaced[0] > before else None,
        }


def _read_reuters(path: Path, encoding: str, options: ReadOptions) -> Iterator[dict[str, Any]]:

    return read_reuters(path, encoding=encoding)


def _read_newsgroups(path: Path, encoding: str, options: ReadOptions) -> Iterator[dict[str, Any]]:

    return read_newsgroups(path, encoding=encoding, remove=options.remove)


READERS: dict[str, Callable[[Path, str, ReadOptions], Iterator[dict[str, Any]]]] = {
    "jsonl": _read_jsonl,
    "csv": _read_csv,
    "folder": _read_folder,
    "reuters21578": _read_reuters,
    "20newsgroups": _read_newsgroups,
}


@contextmanager
def read_errors(path: Path, encoding: str) -> Iterator[None]:
    """Read and decode errors while reading ``path``, as one-line DataErrors."""
    try:
        yield
    except _FileDecodeError as exc:
        raise DataError(_decode_message(exc.file, encoding, exc.error)) from exc.error
    except UnicodeDecodeError as exc:
        raise DataError(_decode_message(path, encoding, exc)) from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_records(path: Path, fmt: str, encoding: str, options: ReadOptions) -> list[dict[str, Any]]:
    """Every record of ``path`` read as ``fmt``; read and decode errors as DataError, and
    one warning counting the bytes replaced (``encoding_errors: replace``)."""
    replaced_before = _replaced[0]
    with read_errors(path, encoding):
        records = list(READERS[fmt](path, encoding, options))
    replaced = _replaced[0] - replaced_before
    if replaced:
        files = sorted({r["_replaced_in"] for r in records if r.get("_replaced_in")})
        where = f" in {len(files)} file(s), first {files[0]}" if files else ""
        logger.warning(
            "%s: %d byte sequence(s) that do not decode as %s replaced with U+FFFD%s "
            "(data.encoding_errors: replace)",
            path,
            replaced,
            encoding,
            where,
        )
    return records
