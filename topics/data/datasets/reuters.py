"""Reuters-21578 (Distribution 1.0) SGML, read straight from ``reuters21578.tar.gz``.

ModApte split (README.txt section VIII.B): train = ``LEWISSPLIT="TRAIN"`` and
``TOPICS="YES"``, test = ``LEWISSPLIT="TEST"`` and ``TOPICS="YES"``; every other
document is not part of the split and is skipped. :func:`read_unused` reads the
stories of the training years that are not (``LEWISSPLIT="TRAIN"`` without
``TOPICS="YES"``, and ``"NOT-USED"``): unlabelled news for a model that learns from it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from topics.data.datasets.archive import iter_members

_DOC = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.S)
_D = re.compile(r"<D>(.*?)</D>", re.S)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)
_TEXT = re.compile(r"<TEXT\b[^>]*>(.*?)</TEXT>", re.S)
_TAG = re.compile(r"<[^>]+>")
_SPLITS = {"TRAIN": "train", "TEST": "test"}


def read_reuters(path: Path, encoding: str = "latin-1") -> Iterator[dict[str, Any]]:
    """Yield the ModApte documents of ``path``: ``_id`` (NEWID), ``_text`` (title
    and body), ``_labels`` (TOPICS categories), ``_split`` (train/test)."""
    for member, content in iter_members(path):
        if not (member.name.startswith("reut2-") and member.suffix == ".sgm"):
            continue
        yield from parse_sgml(content.decode(encoding), source=member.name)


def read_unused(path: Path, encoding: str = "latin-1") -> list[str]:
    """The texts of the stories outside ModApte and outside its test period: those
    of ``LEWISSPLIT="TRAIN"`` with ``TOPICS`` "NO" or "BYPASS", and "NOT-USED" ones
    (their categories, where they have any, are not read)."""
    return [
        document["_text"]
        for member, content in iter_members(path)
        if member.name.startswith("reut2-") and member.suffix == ".sgm"
        for document in parse_sgml(content.decode(encoding), member.name, unused=True)
    ]


def parse_sgml(text: str, source: str = "", unused: bool = False) -> Iterator[dict[str, Any]]:
    """The ModApte documents of one ``reut2-NNN.sgm`` file, or with ``unused`` the
    training years' others (``_split`` "unused")."""
    for match in _DOC.finditer(text):
        attrs = dict(_ATTR.findall(match.group(1)))
        split = _SPLITS.get(attrs.get("LEWISSPLIT", ""))
        in_split = split is not None and attrs.get("TOPICS") == "YES"
        if unused:
            if in_split or split == "test":
                continue
            split = "unused"
        elif not in_split:
            continue
        body = match.group(2)
        topics = _TOPICS.search(body)
        labels = _D.findall(topics.group(1)) if topics else []
        yield {
            "_id": attrs["NEWID"],
            "_text": _document_text(body),
            "_labels": labels,
            "_split": split,
            "_line": f"{source} NEWID={attrs['NEWID']}",
        }


def _document_text(body: str) -> str:
    text_match = _TEXT.search(body)
    text = text_match.group(1) if text_match else ""
    title = _TITLE.search(text)
    main = _BODY.search(text)
    if main is None:  # TYPE="BRIEF"/"UNPROC": no BODY element, use whatever text there is
        parts = [_TAG.sub(" ", text)]
    else:
        parts = [title.group(1) if title else "", main.group(1)]
    cleaned = [" ".join(html.unescape(part).replace("\x03", " ").split()) for part in parts]
    return ". ".join(part for part in cleaned if part)
