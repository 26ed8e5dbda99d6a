"""Embedding topics (``model.embedding_topics``): BERTopic-style topics from sentence vectors.

The estimator is in :mod:`~topics.families.embedding_topics.model`, its settings and
family in :mod:`~topics.families.embedding_topics.family`.

Documents are embedded by a sentence encoder (the packaged all-MiniLM-L6-v2:
mean pooling, unit length), optionally reduced with PCA, and clustered into K
topics by k-means on the unit vectors (spherical k-means). Each topic's terms
are ranked over its documents, with the LDA side's tokenization and vocabulary
rules, so coherence compares with LDA's: by BERTopic's class-based TF-IDF
(``term_score="ctfidf"``), or by each term's share of the topic's KL divergence
from the corpus over the documents holding it (``"kl"``, the default: on
20 Newsgroups train it gives more coherent and more diverse top terms). A
one-vs-rest logistic regression assigns labels from the topic proportions.

Topic proportions are the softmax of a document's cosine similarity to every
topic centroid over a temperature fitted on train
(:mod:`topics.kernels.embedding_topics`). The bundle keeps the encoder's float32
weights, its tokenizer JSON, the centroids and the temperature; the predictor
embeds with the numpy forward pass of :mod:`topics.kernels.transformer`, so
scoring imports no torch. Training needs ``pip install 'topics[encoder]'``.

>>> topics = EmbeddingTopics(num_topics=20).fit(texts)          # doctest: +SKIP
>>> topics.top_words_[0]                                         # doctest: +SKIP
['god', 'jesus', 'bible', ...]
>>> topics.transform(["a new graphics card"]).shape              # doctest: +SKIP
(1, 20)
"""

from topics.families.embedding_topics.family import (
    EmbeddingTopicsFamily,
    EmbeddingTopicsSettings,
)
from topics.families.embedding_topics.model import EmbeddingTopics

__all__ = ["EmbeddingTopics", "EmbeddingTopicsFamily", "EmbeddingTopicsSettings"]
