"""How much a held-out share of 20 Newsgroups' train shares threads with the rest.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/threads_20newsgroups.py [--out FILE]

Every choice on 20 Newsgroups is made on a held-out share of bydate train:
``benchmarks/peers.py``'s random 20% or the encoder's random 10%. Replies keep
their thread's Subject, and a thread's posts fall on both sides of a random cut
far more often than on both sides of the bydate split (train: the older posts
of each group, test: the newer). The first table counts, for each way of
holding posts out, the share whose Subject (lower-cased, with leading "Re:",
"Fwd:" and "[...]" tags removed) is also a Subject of the posts fitted on, and
how often the group most common under that Subject there is the post's own.
"Last 10% by number" holds out, in each group, the posts of highest message
number (the numbers rise with time within a group).

The second table tries the member that threads would flatter most: a
nearest-neighbour vote (the k fitted posts of highest TF-IDF cosine, each voting
its group with its similarity) mixed with a linear SVM, both on word 1-2-grams (a
plain sklearn stand-in for the tfidf model, fast enough to refit), scored on the
random 20% and on test. Writes ``benchmarks/results/threads_20newsgroups.md``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import load_split, validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.data.corpus import Corpus  # noqa: E402

_TAGS = re.compile(r"^((re|fwd?)\s*:\s*|\[[^\]]*\]\s*)+")
KS = (5, 20)
WEIGHTS = (0.1, 0.2, 0.3)


def subject(post: str) -> str:
    """The post's Subject header, lower-cased, without reply and forward tags.

    Examples
    --------
    >>> subject("From: a@b\\nSubject: Re: [ANN] Re: Clipper chip\\n\\nbody")
    'clipper chip'
    """
    head, _blank, _body = post.partition("\n\n")
    for line in head.splitlines():
        if line.lower().startswith("subject:"):
            return _TAGS.sub("", line[len("subject:") :].strip().lower()).strip()
    return ""


def overlap(fit: Corpus, scored: Corpus) -> tuple[float, float]:
    """Share of ``scored`` whose subject occurs in ``fit``; of those, share whose group
    is the one most common under that subject in ``fit``."""
    groups: dict[str, Counter[str]] = {}
    for text, labels in zip(fit.texts, fit.labels, strict=True):
        groups.setdefault(subject(text), Counter())[labels[0]] += 1
    seen = same = 0
    for text, labels in zip(scored.texts, scored.labels, strict=True):
        key = subject(text)
        if key and key in groups:
            seen += 1
            same += groups[key].most_common(1)[0][0] == labels[0]
    return seen / len(scored), same / max(seen, 1)


def last_by_number(train: Corpus, share: float = 0.1) -> tuple[Corpus, Corpus]:
    """Hold out, in each group, the ``share`` of posts of highest message number."""
    by_group: dict[str, list[tuple[int, int]]] = {}
    for i, (doc_id, labels) in enumerate(zip(train.ids, train.labels, strict=True)):
        by_group.setdefault(labels[0], []).append((int(doc_id.rsplit("/", 1)[1]), i))
    held: list[int] = []
    for posts in by_group.values():
        posts.sort()
        held += [i for _n, i in posts[len(posts) - int(share * len(posts)) :]]
    rest = sorted(set(range(len(train))) - set(held))
    return train.subset(rest), train.subset(sorted(held))


def neighbour_mixes(fit: Corpus, scored: Corpus) -> dict[str, float]:
    """Accuracy of the SVM, of each k's neighbour vote, and of their mixes."""
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=3, ngram_range=(1, 2))
    x_fit = vectorizer.fit_transform(fit.texts)
    x_scored = vectorizer.transform(scored.texts)
    classes = sorted({labels[0] for labels in fit.labels})
    index = {c: i for i, c in enumerate(classes)}
    y_fit = np.array([index[labels[0]] for labels in fit.labels])
    y_scored = np.array([index.get(labels[0], -1) for labels in scored.labels])
    margins = LinearSVC(C=1.0).fit(x_fit, y_fit).decision_function(x_scored)
    svm = np.exp(3 * (margins - margins.max(axis=1, keepdims=True)))
    svm /= svm.sum(axis=1, keepdims=True)
    similarity = (x_scored @ x_fit.T).toarray()
    row = {"svm": float((svm.argmax(axis=1) == y_scored).mean())}
    for k in KS:
        nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
        votes = np.zeros_like(svm)
        for i, neighbours in enumerate(nearest):
            np.add.at(votes[i], y_fit[neighbours], similarity[i, neighbours])
        votes /= np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)
        row[f"k {k}"] = float((votes.argmax(axis=1) == y_scored).mean())
        for w in WEIGHTS:
            mix = (1 - w) * svm + w * votes
            row[f"k {k}, w {w}"] = float((mix.argmax(axis=1) == y_scored).mean())
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/threads_20newsgroups.md"
    )
    args = parser.parse_args(argv)
    started = time.time()
    config, train, test = load_split("experiments/20newsgroups.yaml")
    slice_fit, slice_held = validation_slice(config, train)
    order = np.random.default_rng(0).permutation(len(train))
    k = len(train) - int(0.1 * len(train))
    ten_fit, ten_held = train.subset(np.sort(order[:k])), train.subset(np.sort(order[k:]))
    last_fit, last_held = last_by_number(train)
    lines = [
        "# 20 Newsgroups: threads across a held-out share",
        "",
        "    TOPICS_DATA_DIR=../shared/data python benchmarks/threads_20newsgroups.py",
        "",
        f"Commit {provenance.commit()}, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} (UTC).",
        "",
        "| posts scored | fitted on | scored | Subject also fitted on | of those, its group the most common there |",
        "|---|---|---:|---:|---:|",
    ]
    for name, fit, held in [
        ("test (bydate)", train, test),
        ("random 20% of train (peers.py's slice)", slice_fit, slice_held),
        ("random 10% of train (the encoder's share size)", ten_fit, ten_held),
        ("last 10% by number, each group", last_fit, last_held),
    ]:
        seen, same = overlap(fit, held)
        lines.append(
            f"| {name} | {'train' if held is test else 'the rest of train'} | {len(held):,} | {seen:.3f} | {same:.3f} |"
        )
        print(lines[-1], flush=True)
    rows = {"random 20% of train": neighbour_mixes(slice_fit, slice_held)}
    print(rows, flush=True)
    rows["test"] = neighbour_mixes(train, test)
    columns = list(rows["test"])
    lines += [
        "",
        "Accuracy: the SVM, the neighbour vote alone (k), and mixes (weight w on the vote).",
        "",
        "| scored on | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    lines += [
        f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |"
        for name, row in rows.items()
    ]
    lines += ["", f"{time.time() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    provenance.write(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
