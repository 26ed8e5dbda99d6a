"""Reading documents for ``classify``: arguments, files and stdin, streamed.

Bad input never stops a batch: a missing, binary or unreadable file, or a bad
JSONL line, is reported by name and skipped; invalid UTF-8 is decoded with
U+FFFD replacement characters and a warning. The caller sees the problems in
:class:`Problems` and turns them into the exit code.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

Document = tuple[str | None, str]
FORMATS = ("auto", "jsonl", "csv", "text", "lines")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class Problems:
    """Collects errors (inputs skipped) and warnings, and prints each as one line."""

    def __init__(self, prog: str = "classify", stream: IO[str] | None = None) -> None:
        self.prog = prog
        self.stream = stream
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, message: str) -> None:
        self.errors.append(message)
        print(f"{self.prog}: error: {message}", file=self.stream or sys.stderr)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"{self.prog}: warning: {message}", file=self.stream or sys.stderr)


class InputError(Exception):
    """One input cannot be read; the batch goes on without it."""


def read_documents(
    texts: Sequence[str],
    files: Sequence[str],
    problems: Problems,
    stdin: Any = None,
    text_column: str = "text",
    input_format: str = "auto",
) -> Iterator[Document]:
    """``(id or None, text)`` for every readable input document, in input order.

    Text arguments come first, then each file (``-`` is stdin); with neither,
    stdin is read. ``input_format`` ``auto`` picks by suffix (``.jsonl``,
    ``.csv``, else the whole file is one text); stdin is one text unless told.
    """
    stdin = stdin if stdin is not None else sys.stdin
    for text in texts:
        yield None, _clean_argument(text, problems)
    sources = list(files) if (files or texts) else ["-"]
    for name in sources:
        try:
            yield from _read_source(name, problems, stdin, text_column, input_format)
        except InputError as exc:
            problems.error(str(exc))


def _read_source(
    name: str, problems: Problems, stdin: Any, text_column: str, input_format: str
) -> Iterator[Document]:
    if name == "-":
        # Bytes where we can get them, so invalid UTF-8 is caught and reported.
        stream = getattr(stdin, "buffer", stdin)
        fmt = "text" if input_format == "auto" else input_format
        lines = _decoded_lines(stream, "<stdin>", problems)
        yield from _parse(lines, "<stdin>", fmt, text_column, None, problems)
        return
    path = Path(name)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if not path.is_file():
        raise InputError(f"{name}: not a file (a directory?); pass files, e.g. {name}/*.txt")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
    with handle:
        if b"\x00" in handle.peek(8192)[:8192]:
            raise InputError(f"{name}: binary file (NUL bytes), not text; skipped")
        fmt = _SUFFIXES.get(path.suffix.lower(), "text") if input_format == "auto" else input_format
        lines = _decoded_lines(handle, name, problems)
        yield from _parse(lines, name, fmt, text_column, name, problems)


def _decoded_lines(stream: Iterable[Any], name: str, problems: Problems) -> Iterator[str]:
    warned = False
    for line in stream:
        if isinstance(line, str):
            yield line
            continue
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            if not warned:
                problems.warn(f"{name}: invalid UTF-8 bytes replaced with U+FFFD")
                warned = True
            yield line.decode("utf-8", errors="replace")


def _parse(
    lines: Iterator[str],
    name: str,
    fmt: str,
    text_column: str,
    text_id: str | None,
    problems: Problems,
) -> Iterator[Document]:
    if fmt == "jsonl":
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield _json_document(line, f"{name}:{line_no}")
            except InputError as exc:  # one bad line costs one document, not the file
                problems.error(str(exc))
    elif fmt == "csv":
        reader = csv.DictReader(lines)
        if reader.fieldnames is not None and text_column not in reader.fieldnames:
            raise InputError(
                f"{name}: no column '{text_column}' (has {reader.fieldnames}); pass --text-column"
            )
        for row in reader:
            yield row.get("id"), row.get(text_column) or ""
    elif fmt == "lines":  # one document per line, blank ones too: output lines match input lines
        for line_no, line in enumerate(lines, start=1):
            yield (None if text_id is None else f"{text_id}:{line_no}"), line.rstrip("\r\n")
    else:
        yield text_id, "".join(lines)


def _json_document(line: str, where: str) -> Document:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON ({exc.msg}); line skipped") from exc
    if isinstance(record, str):
        return None, record
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected an object with a 'text' field")
    return document_from_record(record)


def document_from_record(record: dict[str, Any]) -> Document:
    """``(id or None, "title. text")`` from a JSONL object or a Parquet row."""
    parts = [str(record[key]).strip() for key in ("title", "text") if record.get(key)]
    doc_id = record.get("id")
    return (None if doc_id is None else str(doc_id)), ". ".join(parts)


def _clean_argument(text: str, problems: Problems) -> str:
    """Arguments arrive with undecodable bytes as surrogates; replace them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        problems.warn("an argument had invalid UTF-8 bytes, replaced with U+FFFD")
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
