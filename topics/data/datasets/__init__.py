"""Readers for the published benchmark archives and the ``data fetch`` command.

Each reader yields plain records (``_id``, ``_text``, ``_labels``, ``_split``)
that :func:`topics.data.corpus.load_corpus` turns into a :class:`~topics.data.corpus.Corpus`,
so the benchmarks go through the same path as a user's own files.
"""

from __future__ import annotations

from topics.data.datasets.newsgroups import read_newsgroups
from topics.data.datasets.reuters import read_reuters

__all__ = ["read_newsgroups", "read_reuters"]
