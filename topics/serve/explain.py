"""Why a text got its labels: the TF-IDF terms that pushed each label most (weight x
feature value), from a linear model's or a few-shot student's own term weights, or,
for a model with none (encoder, ensemble), from the bundle's TF-IDF model's. A label
that a long text got from one of its passages (``passages``) is explained by that
passage, which the explanation quotes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from topics.serve.blocks import TfidfBlock
from topics.serve.scorers import FewShot, Linear, Scorer


class TermWeights(NamedTuple):
    """A model whose weights on TF-IDF terms name the terms behind its labels."""

    name: str
    coef: np.ndarray  # (labels, terms of ``tfidf``)
    tfidf: TfidfBlock


def term_weights(
    models: Mapping[str, Scorer], classifier: Scorer, tfidf: TfidfBlock | None
) -> TermWeights | None:
    """The model of ``models`` whose TF-IDF weights explain ``classifier``'s labels, if
    any: its own, or for a model with no term weights the first linear model on
    ``tfidf``, the bundle's TF-IDF block."""
    if isinstance(classifier, Linear | FewShot):
        name = next(name for name, model in models.items() if model is classifier)
        return _own_terms(name, classifier, tfidf)
    for name, model in models.items():
        if isinstance(model, Linear) and (found := _own_terms(name, model, tfidf)):
            return found
    return None


def _own_terms(name: str, model: Linear | FewShot, tfidf: TfidfBlock | None) -> TermWeights | None:
    if isinstance(model, FewShot):  # its own TF-IDF columns, then the sentence vector
        return TermWeights(name, model.coef[:, : model.tfidf.width], model.tfidf)
    if "tfidf" in model.features and tfidf is not None:  # TF-IDF columns first
        return TermWeights(name, model.coef, tfidf)
    return None


Row = tuple[np.ndarray, np.ndarray]  # a text's TF-IDF terms: (ids, values)


def passage_sources(
    tfidf: TfidfBlock, behind: list[dict[str, str]], chosen: np.ndarray, labels: Sequence[str]
) -> list[dict[int, tuple[str, Row]]]:
    """Per text, for each ``chosen`` label (a 0/1 matrix, texts x ``labels``) that a
    passage gave (``behind``: per text, the passage behind each label's score; ``{}`` for a text
    read whole), that passage and its TF-IDF row."""
    picks = [(i, j) for i, j in zip(*np.nonzero(chosen), strict=True) if behind[i]]
    wanted = sorted({behind[i][labels[j]] for i, j in picks})
    rows = tfidf.transform(wanted) if wanted else None
    index = {passage: n for n, passage in enumerate(wanted)}
    sources: list[dict[int, tuple[str, Row]]] = [{} for _ in behind]
    for i, j in picks:
        passage = behind[i][labels[j]]
        assert rows is not None
        sources[i][int(j)] = (passage, rows.row(index[passage]))
    return sources


def explanation(
    explainer: TermWeights | None,
    labels: list[str],
    chosen: list[int],
    row: Row | None,
    topics: list[dict[str, Any]],
    passages: Mapping[int, tuple[str, Row]] | None = None,
    n_terms: int = 8,
) -> dict[str, Any]:
    """The ``explanation`` of one text: for each ``chosen`` label the ``n_terms`` terms
    of its TF-IDF ``row`` (ids, values) that pushed it most, and its ``topics``. A label
    in ``passages`` (label index -> the passage that scored it, its row) is explained
    by that passage's terms, and ``passages`` quotes the passage."""
    passages = passages or {}
    terms: dict[str, list[dict[str, Any]]] = {}
    for j in chosen:
        source = passages[j][1] if j in passages else row
        if source is None or explainer is None:
            terms[labels[j]] = []
            continue
        ids, values = source
        contribution = explainer.coef[j, ids] * values
        order = np.argsort(-contribution, kind="stable")[:n_terms]
        vocabulary = explainer.tfidf.vocabulary
        terms[labels[j]] = [
            {"term": vocabulary[ids[k]], "weight": round(float(contribution[k]), 6)}
            for k in order
            if contribution[k] > 0
        ]
    name = explainer.name if explainer is not None else ""
    found: dict[str, Any] = {"terms": terms, "terms_model": name, "topics": topics}
    if passages:
        found["passages"] = {labels[j]: passages[j][0] for j in chosen if j in passages}
    return found
