"""The reference tokens of the topic-model benchmark: 20 Newsgroups train, tokenized
the way issue 4 measures every peer.

Headers, footers and quotes stripped with sklearn's rules; lowercase; tokens of >= 3
letters; sklearn's English stop words; words in >= 5 documents and <= 50% of them;
documents left empty are dropped (10,980 docs, ~15,231 words).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from sklearn.datasets._twenty_newsgroups import (
    strip_newsgroup_footer,
    strip_newsgroup_header,
    strip_newsgroup_quoting,
)
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from topics.text import TopicTokenizer

ARCHIVE = "20newsgroups/20news-bydate.tar.gz"
NO_BELOW, NO_ABOVE = 5, 0.5


def read_texts(archive: Path, subset: str = "train") -> tuple[list[str], list[str]]:
    """(texts, newsgroup labels) of the bydate ``subset``, stripped with sklearn's rules."""
    texts, groups = [], []
    prefix = f"20news-bydate-{subset}/"
    with tarfile.open(archive) as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)),
            key=lambda m: m.name,
        )
        for member in members:
            handle = tar.extractfile(member)
            assert handle is not None
            text = handle.read().decode("latin-1")
            text = strip_newsgroup_header(text)
            text = strip_newsgroup_footer(text)
            text = strip_newsgroup_quoting(text)
            texts.append(text)
            groups.append(member.name.split("/")[1])
    return texts, groups


def reference_tokens(texts: list[str]) -> tuple[list[list[str]], list[int]]:
    """Tokenized documents (filtered vocabulary) and the indices of the kept texts."""
    from gensim.corpora import Dictionary

    tokenize = TopicTokenizer(min_length=3, stop_words=ENGLISH_STOP_WORDS)
    docs = [tokenize(t) for t in texts]
    dictionary = Dictionary(docs)
    dictionary.filter_extremes(no_below=NO_BELOW, no_above=NO_ABOVE, keep_n=None)
    vocab = dictionary.token2id
    kept_docs, kept = [], []
    for i, doc in enumerate(docs):
        filtered = [t for t in doc if t in vocab]
        if filtered:
            kept_docs.append(filtered)
            kept.append(i)
    return kept_docs, kept
