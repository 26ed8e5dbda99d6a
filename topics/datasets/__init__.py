"""Readers for the published benchmark archives and the ``data fetch`` command.

Each reader yields plain records (``_id``, ``_text``, ``_labels``, ``_split``)
that :func:`topics.data.load_corpus` turns into a :class:`~topics.data.Corpus`,
so the benchmarks go through the same path as a user's own files.
"""

from __future__ import annotations

from topics.datasets.newsgroups import read_newsgroups
from topics.datasets.reuters import read_reuters

__all__ = ["read_newsgroups", "read_reuters"]
