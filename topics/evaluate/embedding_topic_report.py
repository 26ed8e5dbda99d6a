"""What a run reports about its fitted embedding topics: the LDA side's quality
metrics under ``embedding_topics_*`` keys, and a per-topic table.

Keys: ``embedding_topics_coherence_{c_v,c_npmi,u_mass}`` (the top ``top_n`` terms
against the training texts, tokenized with the LDA side's rules),
``embedding_topics_topic_diversity`` (unique terms in every topic's top 25 / 25K)
and ``embedding_topics_fit_seconds``. The table ``plots/embedding_topics_topics.csv``
has one row per topic: its prevalence, coherence and top terms.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from topics.data.corpus import Corpus
from topics.evaluate.topic_quality import coherence, topic_diversity
from topics.evaluate.topic_view import topic_view_data

COHERENCE = ("c_v", "c_npmi", "u_mass")
PREFIX = "embedding_topics"
TOPIC_TABLE = "embedding_topics_topics.csv"


def embedding_topic_metrics(
    topics: Any, train_texts: Sequence[str], table: Path | None = None
) -> dict[str, float]:
    """Coherence, diversity and fit seconds of a fitted
    :class:`topics.families.embedding_topics.EmbeddingTopics`; with ``table``, each
    topic's row is written there as CSV."""
    scores = coherence(topics.top_words_, topics.tokenize(train_texts), COHERENCE)
    metrics = {f"{PREFIX}_coherence_{m}": scores[m] for m in COHERENCE}
    metrics[f"{PREFIX}_topic_diversity"] = topic_diversity(topics.topic_term_)
    metrics[f"{PREFIX}_fit_seconds"] = float(topics.fit_seconds_)
    if table is not None:
        table.parent.mkdir(parents=True, exist_ok=True)
        with table.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["topic", "name", "prevalence", *COHERENCE, "top_words"])
            for k, name in enumerate(topics.topic_names_):
                values = [f"{scores[f'{m}_per_topic'][k]:.6g}" for m in COHERENCE]
                prevalence = f"{topics.prevalence_[k]:.6g}"
                words = " ".join(topics.top_words_[k][:10])
                writer.writerow([k, name, prevalence, *values, words])
    return metrics


def embedding_topic_view(topics: Any, train: Corpus) -> dict[str, Any]:
    """The report's topic view of fitted embedding topics (see
    :func:`topics.evaluate.topic_view.topic_view_data`): terms by their token counts in
    each topic's documents, a topic's size its share of the training documents, and its
    documents the 3 nearest its centroid."""
    documents = [
        [(f"{train.ids[i]}: {train.texts[i]}", w) for i, w in zip(docs, weights, strict=True)]
        for docs, weights in zip(
            topics.representative_docs_, topics.representative_weights_, strict=True
        )
    ]
    return topic_view_data(
        topics.topic_word_,
        topics.vocabulary_,
        topics.term_frequency_,
        topics.prevalence_,
        names=topics.topic_names_,
        documents=documents,
        model=PREFIX,
    )
