"""20 Newsgroups "bydate", read straight from ``20news-bydate.tar.gz``.

The label is the newsgroup folder; the split is the ``20news-bydate-train`` /
``20news-bydate-test`` folder. ``remove`` strips headers, signature footers and
quoted replies with the same rules as ``sklearn.datasets.fetch_20newsgroups``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from topics.data.datasets.archive import iter_members

REMOVABLE = ("headers", "footers", "quotes")
_SPLIT_FOLDERS = {"20news-bydate-train": "train", "20news-bydate-test": "test"}
_QUOTE = re.compile(r"(writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>)")


def read_newsgroups(
    path: Path, encoding: str = "latin-1", remove: Iterable[str] = ()
) -> Iterator[dict[str, Any]]:
    """Yield every post: ``_id`` (``train/<group>/<n>``), ``_text``, ``_labels``
    (its newsgroup), ``_split`` (train/test)."""
    remove = tuple(remove)
    for member, content in iter_members(path):
        parts = member.parts
        if len(parts) != 3 or parts[0] not in _SPLIT_FOLDERS:
            continue
        split = _SPLIT_FOLDERS[parts[0]]
        yield {
            "_id": f"{split}/{parts[1]}/{parts[2]}",
            "_text": clean_post(content.decode(encoding), remove),
            "_labels": [parts[1]],
            "_split": split,
            "_line": member.as_posix(),
        }


def clean_post(text: str, remove: Iterable[str] = ()) -> str:
    """Apply sklearn's header / footer / quote stripping rules, in sklearn's order."""
    remove = set(remove)
    if "headers" in remove:
        text = strip_header(text)
    if "footers" in remove:
        text = strip_footer(text)
    if "quotes" in remove:
        text = strip_quoting(text)
    return text


def strip_header(text: str) -> str:
    """Everything after the first blank line."""
    _before, _blank, after = text.partition("\n\n")
    return after


def strip_quoting(text: str) -> str:
    """Drop lines that quote another post or introduce a quote ("... writes:")."""
    return "\n".join(line for line in text.split("\n") if not _QUOTE.search(line))


def strip_footer(text: str) -> str:
    """Drop the signature: everything after the last line made of dashes or blanks."""
    lines = text.strip().split("\n")
    for line_num in range(len(lines) - 1, -1, -1):
        if lines[line_num].strip().strip("-") == "":
            break
    else:
        return text
    return "\n".join(lines[:line_num]) if line_num > 0 else text
