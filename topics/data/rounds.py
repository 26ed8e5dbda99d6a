"""Labelled rounds: files an editor filled in, taken back into training.

A round file is JSONL, one record per article, as ``topics suggest`` writes it::

    {"id": "can-0042", "text": "...", "labels": ["economy"], "reviewed": true, ...}

- ``id`` and ``text`` (and ``title``, joined before ``text`` with ". " as the
  corpus readers do) are required; other fields (``guess``, ``scores``, ``why``)
  are ignored;
- ``labels``: the editor's labels, each one of ``data.labels``;
- ``"labels": []`` with ``"reviewed": false`` is a record the editor has not
  labelled yet: it is skipped (and counted); ``"labels": []`` otherwise
  (``"reviewed": true``, or no ``reviewed`` field) means "none of the labels".

:func:`read_rounds` reads the files in order (a later record wins over an earlier
one with the same id, across files too); :func:`merge_rounds` adds the result to
the train part of a split: a round document whose id is also in the corpus
replaces it, wherever it was (train, test, or the unlabelled pool).

>>> import json, tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> rows = [{"id": "a", "text": "Rail cargo", "labels": ["transport"]},
...         {"id": "b", "text": "Tenge", "labels": [], "reviewed": False}]
>>> _ = (folder / "round1.jsonl").write_text("\\n".join(json.dumps(r) for r in rows))
>>> rounds = read_rounds([folder / "round1.jsonl"], labels=["economy", "transport"])
>>> rounds.corpus.ids, rounds.corpus.labels, rounds.unreviewed
(['a'], [('transport',)], {'round1.jsonl': 1})
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topics.data.corpus import Corpus
from topics.data.readers import jsonl_records
from topics.errors import DataError

__all__ = ["MergedRounds", "Rounds", "merge_rounds", "read_rounds"]


@dataclass(frozen=True)
class Rounds:
    """The documents of the round files, a later record winning for an id.

    ``unreviewed``: records left unlabelled per file (by file name), skipped;
    ``digest``: sha256 over the files' bytes, in order (changes whenever one does).
    """

    corpus: Corpus
    unreviewed: dict[str, int] = field(default_factory=dict)
    digest: str = ""


@dataclass(frozen=True)
class MergedRounds:
    """The split with the round documents in train, and how many each part lost."""

    train: Corpus
    test: Corpus
    unlabelled: Corpus | None
    replaced_train: int = 0
    moved_from_test: int = 0
    left_unlabelled: int = 0


def read_rounds(
    paths: Sequence[str | Path], *, labels: Sequence[str], single_label: bool = False
) -> Rounds:
    """Read labelled round files (JSONL) into one corpus over ``labels``.

    Raises
    ------
    DataError
        A file is missing or not JSONL, a record has no id or text, a label is not one
        of ``labels`` (``file:line`` named), or, with ``single_label``, a labelled
        record does not carry exactly one label.
    """
    wanted = tuple(labels)
    by_id: dict[str, tuple[str, tuple[str, ...]]] = {}
    unreviewed: dict[str, int] = {}
    digest = hashlib.sha256()
    for given in paths:
        path = Path(given)
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise DataError(f"data.extra_train: {path}: no such file; check the path") from exc
        except OSError as exc:
            raise DataError(f"data.extra_train: {path}: cannot read ({exc.strerror})") from exc
        digest.update(hashlib.sha256(raw).digest())
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
        for line_no, record in jsonl_records(lines, path):
            where = f"{path}:{line_no}"
            doc_labels = _labels(record, where, wanted)
            if not doc_labels and record.get("reviewed") is False:
                unreviewed[path.name] = unreviewed.get(path.name, 0) + 1
                continue
            if single_label and len(doc_labels) != 1:
                raise DataError(
                    f"{where}: data.single_label is set; expected exactly one label, found "
                    f"{list(doc_labels)}"
                )
            doc_id = _id(record, where)
            by_id.pop(doc_id, None)  # a later record wins, and takes the later place
            by_id[doc_id] = (_text(record, where), doc_labels)
    corpus = Corpus(
        ids=list(by_id),
        texts=[text for text, _ in by_id.values()],
        labels=[doc_labels for _, doc_labels in by_id.values()],
        label_names=wanted,
    )
    return Rounds(corpus=corpus, unreviewed=unreviewed, digest=digest.hexdigest())


def merge_rounds(
    train: Corpus, test: Corpus, unlabelled: Corpus | None, rounds: Corpus
) -> MergedRounds:
    """``rounds`` appended to ``train``; a corpus document with a round document's id
    leaves train, test and the unlabelled pool (the round's version replaces it)."""
    ids = set(rounds.ids)

    def without(corpus: Corpus) -> Corpus:
        return corpus.subset(i for i, doc_id in enumerate(corpus.ids) if doc_id not in ids)

    kept_train, kept_test = without(train), without(test)
    kept_unlabelled = None if unlabelled is None else without(unlabelled)
    return MergedRounds(
        train=_concat(kept_train, rounds),
        test=kept_test,
        unlabelled=kept_unlabelled,
        replaced_train=len(train) - len(kept_train),
        moved_from_test=len(test) - len(kept_test),
        left_unlabelled=0 if unlabelled is None else len(unlabelled) - len(kept_unlabelled or ()),
    )


def _concat(first: Corpus, second: Corpus) -> Corpus:
    """``first`` then ``second``; meta ``second`` lacks is None for its documents."""
    meta = {
        key: values + list(second.meta.get(key, [None] * len(second)))
        for key, values in first.meta.items()
    }
    return Corpus(
        ids=first.ids + second.ids,
        texts=first.texts + second.texts,
        labels=first.labels + second.labels,
        label_names=first.label_names,
        meta=meta,
    )


def _id(record: dict[str, Any], where: str) -> str:
    value = record.get("id")
    if value is None or isinstance(value, dict | list) or str(value).strip() == "":
        raise DataError(f"{where}: expected an 'id' (the article's id in the archive)")
    return str(value)


def _text(record: dict[str, Any], where: str) -> str:
    parts = [str(record[key]).strip() for key in ("title", "text") if record.get(key)]
    text = ". ".join(part for part in parts if part)
    if not text:
        raise DataError(f"{where}: expected a 'text' (and optionally a 'title'), found none")
    return text


def _labels(record: dict[str, Any], where: str, wanted: tuple[str, ...]) -> tuple[str, ...]:
    value = record.get("labels")
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise DataError(
            f"{where}: expected 'labels' as a list of label names (e.g. [\"economy\"], or [] "
            "for none of them)"
        )
    for label in value:
        if label.strip() not in wanted:
            raise DataError(
                f"{where}: label {label!r} is not one of data.labels {list(wanted)}; fix the "
                "label in the file"
            )
    return tuple(dict.fromkeys(label.strip() for label in value))
