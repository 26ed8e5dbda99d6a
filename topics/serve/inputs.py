"""Reading documents for ``classify``: arguments, files and stdin, streamed.

Bad input never stops a batch: a missing, binary or unreadable file, or a bad
JSONL line, is reported by name and skipped; invalid UTF-8 is decoded with
U+FFFD replacement characters and a warning. The caller sees the problems in
:class:`Problems` and turns them into the exit code.

A document longer than :data:`MAX_DOCUMENT_CHARS` is cut to its first
``MAX_DOCUMENT_CHARS`` characters, with a warning: scoring holds every token of
a document at once, so one unbounded document would take memory in proportion
(a 50 MB text needed 1.6 GB). A whole-file text document is read only up to the
limit, so its size does not matter.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

Document = tuple[str | None, str]
FORMATS = ("auto", "jsonl", "csv", "text", "lines")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
# The per-document limit, in characters: far above any news article (a long
# feature is ~50,000), low enough that scoring one stays within tens of MB.
MAX_DOCUMENT_CHARS = 1_000_000
_UTF8_MAX_BYTES = 4  # bytes a character can take in UTF-8
_BLOCK = 1 << 20


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

    Text arguments come first, then each file; ``-``, as a text argument or a
    file, is stdin; with neither, stdin is read. ``input_format`` ``auto`` picks by
    suffix (``.jsonl``, ``.csv``, else the whole file is one text); stdin is one
    text unless told.
    """
    stdin = stdin if stdin is not None else sys.stdin

    def read(name: str) -> Iterator[Document]:
        try:
            yield from _read_source(name, problems, stdin, text_column, input_format)
        except InputError as exc:
            problems.error(str(exc))

    for number, text in enumerate(texts, start=1):
        if text == "-":  # `echo ... | classify -`: stdin, as everywhere on Unix
            yield from read("-")
            continue
        if _names_a_file(text):
            problems.warn(
                f"argument {number} names a file, {text!r}; classified as text, "
                f"not read: to read it, pass -f {text}"
            )
        yield None, clip_text(_clean_argument(text, problems), f"argument {number}", problems)
    for name in list(files) if (files or texts) else ["-"]:
        yield from read(name)


def clip_text(text: str, where: str, problems: Problems | None = None) -> str:
    """``text`` cut to :data:`MAX_DOCUMENT_CHARS` characters, with a warning when it was longer."""
    if len(text) <= MAX_DOCUMENT_CHARS:
        return text
    if problems is not None:
        problems.warn(over_limit(where, len(text)))
    return text[:MAX_DOCUMENT_CHARS]


def over_limit(where: str, size: int, unit: str = "characters") -> str:
    """The warning for a document cut to :data:`MAX_DOCUMENT_CHARS`."""
    return (
        f"{where}: document of {size:,} {unit} is over the {MAX_DOCUMENT_CHARS:,}-character "
        "limit; only its start is classified"
    )


def _read_source(
    name: str, problems: Problems, stdin: Any, text_column: str, input_format: str
) -> Iterator[Document]:
    if name == "-":
        if stdin is None:  # started with stdin closed (`classify <&-`): Python sets it to None
            raise InputError("<stdin>: closed, nothing to read; pass TEXT or -f FILE")
        # Bytes where we can get them, so invalid UTF-8 is caught and reported.
        stream = getattr(stdin, "buffer", stdin)
        fmt = "text" if input_format == "auto" else input_format
        if fmt == "text":
            yield None, _read_text(stream, "<stdin>", problems)
            return
        lines = _decoded_lines(stream, "<stdin>", problems)
        yield from _parse(lines, "<stdin>", fmt, text_column, problems)
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
        if fmt == "text":
            yield name, _read_text(handle, name, problems)
            return
        lines = _decoded_lines(handle, name, problems)
        yield from _parse(lines, name, fmt, text_column, problems)


def _read_text(stream: Any, name: str, problems: Problems) -> str:
    """The whole stream as one document, read only up to the per-document limit.

    The rest is read in blocks and dropped (counted for the warning), so a
    file of any size costs the same memory.
    """
    head = stream.read(MAX_DOCUMENT_CHARS * _UTF8_MAX_BYTES + _UTF8_MAX_BYTES)
    rest = 0
    while block := stream.read(_BLOCK):
        rest += len(block)
    if isinstance(head, str):
        text = head
    else:
        # Not final when more follows: a character cut at the boundary is dropped, not "invalid".
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            text = decoder.decode(head, final=not rest)
        except UnicodeDecodeError:
            problems.warn(f"{name}: invalid UTF-8 bytes replaced with U+FFFD")
            text = head.decode("utf-8", errors="replace")
    if rest or len(text) > MAX_DOCUMENT_CHARS:
        unit = "characters" if isinstance(head, str) else "bytes"
        problems.warn(over_limit(name, len(head) + rest, unit))
    return text[:MAX_DOCUMENT_CHARS]


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
    problems: Problems,
) -> Iterator[Document]:
    """JSONL or CSV records, or plain lines, as documents."""
    if fmt == "jsonl":
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{name}:{line_no}"
            try:
                doc_id, text = _json_document(line, where)
            except InputError as exc:  # one bad line costs one document, not the file
                problems.error(str(exc))
                continue
            yield doc_id, clip_text(text, where, problems)
        return
    if fmt == "lines":  # one document per line, blank ones too: output lines match input lines
        for line_no, line in enumerate(lines, start=1):
            where = f"{name}:{line_no}"
            text_id = None if name == "<stdin>" else where
            yield text_id, clip_text(line.rstrip("\r\n"), where, problems)
        return
    reader = csv.DictReader(lines)
    try:
        if reader.fieldnames is not None and text_column not in reader.fieldnames:
            raise InputError(
                f"{name}: no column '{text_column}' (has {reader.fieldnames}); pass --text-column"
            )
        for row in reader:
            text = row.get(text_column) or ""
            yield row.get("id"), clip_text(text, f"{name}:{reader.line_num}", problems)
    except csv.Error as exc:  # e.g. a field over csv's own 128 KB limit
        failed = reader.line_num + 1  # the line that failed was not counted
        raise InputError(f"{name}:{failed}: unreadable CSV ({exc}); rest skipped") from exc


def _json_document(line: str, where: str) -> Document:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON ({exc.msg}); line skipped") from exc
    except RecursionError as exc:  # "[[[[...": the parser's stack, not the machine, gives out
        raise InputError(f"{where}: JSON nested too deeply to read; line skipped") from exc
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


def _names_a_file(text: str) -> bool:
    """A one-word argument that is an existing file's path (``classify data.jsonl``)."""
    try:
        return bool(text) and len(text.split()) == 1 and os.path.isfile(text)
    except (OSError, ValueError):  # NUL bytes, too long a name
        return False


def _clean_argument(text: str, problems: Problems) -> str:
    """Arguments arrive with undecodable bytes as surrogates; replace them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        problems.warn("an argument had invalid UTF-8 bytes, replaced with U+FFFD")
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
