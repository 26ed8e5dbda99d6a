"""Embedding topics: the kernel, the estimator on real small vectors, the bundle
round trip through the numpy scorer, the run metrics, and the packaged MiniLM
end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from tests.conftest import LABELS, RecordingTracker, needs_encoder_extra
from topics.errors import DependencyError
from topics.evaluate.embedding_topic_report import embedding_topic_metrics
from topics.evaluate.topic_quality import topic_diversity
from topics.evaluate.topic_view import read_topic_view
from topics.families import FAMILIES
from topics.families.base import FittedModel
from topics.families.embedding_topics import EmbeddingTopics
from topics.families.encoder import resolve_pretrained
from topics.families.lda.model import LdaTopics
from topics.families.linear import MultiLabelLinear
from topics.families.sentence_encoder import NumpyBertEmbedder, TorchBertEmbedder
from topics.kernels.embedding_topics import (
    class_tfidf,
    distinctive_terms,
    fit_temperature,
    topic_proportions,
    unit_rows,
)
from topics.predict import Predictor
from topics.run.cache import FitCache
from topics.run.export import export_bundle
from topics.run.train import TOPIC_REPORTS

HIDDEN, HEADS = 8, 2
THEMES = {
    "transport": ["railway", "freight", "train", "station", "cargo"],
    "economy": ["inflation", "bank", "rates", "budget", "prices"],
    "defense": ["army", "missile", "tanks", "soldiers", "navy"],
}
TEXTS = [
    f"the {a} and {b} near {c}"
    for words in THEMES.values()
    for a, b, c in zip(words, words[1:] + words[:1], words[2:] + words[:2], strict=True)
]
THEME_OF = [name for name in THEMES for _ in range(5)]


def packaged_tokenizer_json() -> str:
    """The packaged MiniLM's tokenizer (its JSON file; read without torch)."""
    path = Path(resolve_pretrained("sentence-transformers/all-MiniLM-L6-v2")) / "tokenizer.json"
    if not path.is_file():
        needs_encoder_extra()  # skips (fails under CI=true) without the encoder extra
        pytest.skip(f"the packaged MiniLM is not installed ({path} missing)")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tokenizer_json() -> str:
    return packaged_tokenizer_json()


def tiny_bert(tokenizer_json: str) -> NumpyBertEmbedder:
    """A one-layer BERT whose word vectors point along one axis per theme: the
    attention and feed-forward weights are zero, so a text's vector is the mean of
    its (layer-normalised) word vectors."""
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_str(tokenizer_json).get_vocab()
    rng = np.random.default_rng(0)
    words = rng.normal(0, 0.05, (len(vocab), HIDDEN))
    for axis, theme in enumerate(THEMES.values()):
        for word in theme:
            words[vocab[word], axis] += 1.0
    weights = {
        "embeddings.word_embeddings.weight": words,
        "embeddings.position_embeddings.weight": np.zeros((64, HIDDEN)),
        "embeddings.token_type_embeddings.weight": np.zeros((2, HIDDEN)),
        "embeddings.LayerNorm.weight": np.ones(HIDDEN),
        "embeddings.LayerNorm.bias": np.zeros(HIDDEN),
    }
    p = "encoder.layer.0."
    for part in ("attention.self.query", "attention.self.key", "attention.self.value"):
        weights[p + part + ".weight"] = np.zeros((HIDDEN, HIDDEN))
        weights[p + part + ".bias"] = np.zeros(HIDDEN)
    weights[p + "attention.output.dense.weight"] = np.zeros((HIDDEN, HIDDEN))
    weights[p + "attention.output.dense.bias"] = np.zeros(HIDDEN)
    weights[p + "intermediate.dense.weight"] = np.zeros((16, HIDDEN))
    weights[p + "intermediate.dense.bias"] = np.zeros(16)
    weights[p + "output.dense.weight"] = np.zeros((HIDDEN, 16))
    weights[p + "output.dense.bias"] = np.zeros(HIDDEN)
    for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
        weights[p + norm + ".weight"] = np.ones(HIDDEN)
        weights[p + norm + ".bias"] = np.zeros(HIDDEN)
    return NumpyBertEmbedder(weights, tokenizer_json, max_length=32, num_layers=1, num_heads=HEADS)


def fitted_topics(tokenizer_json: str, **params: object) -> EmbeddingTopics:
    settings = {"num_topics": 3, "no_below": 1, "no_above": 0.5, "top_n": 5, **params}
    return EmbeddingTopics(embedder=tiny_bert(tokenizer_json), **settings).fit(TEXTS)


# -- the kernel ------------------------------------------------------------------
def test_topic_proportions_sum_to_one_and_favour_the_nearest_centroid() -> None:
    centroids = unit_rows(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    proportions = topic_proportions(np.array([[3.0, 1.0], [0.1, 2.0]]), centroids, 0.2)
    np.testing.assert_allclose(proportions.sum(axis=1), 1.0)
    assert proportions.argmax(axis=1).tolist() == [0, 1]
    # a lower temperature sharpens the same ranking
    sharper = topic_proportions(np.array([[3.0, 1.0]]), centroids, 0.05)
    assert sharper[0, 0] > proportions[0, 0]


def test_fit_temperature_is_softer_when_clusters_overlap() -> None:
    rng = np.random.default_rng(0)
    centroids = unit_rows(np.eye(2, 4))
    assignments = np.repeat([0, 1], 50)
    tight = centroids[assignments] + rng.normal(0, 0.05, (100, 4))
    loose = centroids[assignments] + rng.normal(0, 0.6, (100, 4))
    assert fit_temperature(loose, centroids, assignments) > fit_temperature(
        tight, centroids, assignments
    )


def test_class_tfidf_ranks_a_topics_own_terms_above_shared_ones() -> None:
    # terms: "rail" only in topic 0, "bank" only in topic 1, "news" in both equally
    counts = np.array([[5.0, 0.0, 5.0], [0.0, 5.0, 5.0]])
    scores = class_tfidf(counts)
    assert scores[0].argmax() == 0 and scores[1].argmax() == 1
    assert scores[0, 2] < scores[0, 0]


def test_distinctive_terms_rank_a_topics_own_terms_and_score_shared_ones_zero() -> None:
    # documents holding each term: "rail" in topic 0 only, "bank" in topic 1, "news" in both
    holding = np.array([[4.0, 0.0, 4.0], [0.0, 4.0, 4.0]])
    scores = distinctive_terms(holding)
    assert scores[0].argmax() == 0 and scores[1].argmax() == 1
    np.testing.assert_allclose(scores[:, 2], 0.0, atol=1e-12)  # as frequent everywhere
    assert scores[0, 1] == 0.0  # absent from the topic


# -- the estimator ---------------------------------------------------------------
def test_embedding_topics_cluster_the_themes_and_name_them_by_their_terms(
    tokenizer_json: str,
) -> None:
    topics = fitted_topics(tokenizer_json)
    # each theme is one cluster
    for theme, words in THEMES.items():
        rows = [i for i, name in enumerate(THEME_OF) if name == theme]
        assert len(set(topics.labels_[rows])) == 1
        k = int(topics.labels_[rows[0]])
        assert set(topics.top_words_[k]) == set(words)
    assert sorted(topics.prevalence_.round(3)) == [0.333] * 3
    assert topics.topic_term_.shape == (3, len(topics.vocabulary_))
    assert topics.term_frequency_.sum() == sum(len(topics.tokenize([t])[0]) for t in TEXTS)
    for k, docs in enumerate(topics.representative_docs_):
        assert len(docs) == 3 and all(topics.labels_[i] == k for i in docs)
    for k, docs in enumerate(topics.representative_docs_):
        head = topics.topic_names_[k].split(" · ")[0]
        assert head in THEMES[THEME_OF[docs[0]]]  # named by its own terms, not "topic k"
    assert len(set(topics.topic_names_)) == 3
    np.testing.assert_allclose(topics.topic_word_.sum(axis=1), 1.0)
    proportions = topics.transform(["freight train to the station"])
    np.testing.assert_allclose(proportions.sum(), 1.0)
    rail = int(topics.labels_[THEME_OF.index("transport")])
    assert proportions.argmax() == rail and proportions[0, rail] > 0.5


def test_embedding_topic_names_can_be_given_in_the_config(tokenizer_json: str) -> None:
    topics = fitted_topics(tokenizer_json, topic_names={1: "my own"})
    assert topics.topic_names_[1] == "my own"
    assert "my own" not in (topics.topic_names_[0], topics.topic_names_[2])
    with pytest.raises(ValueError, match="topic index 5 is out of range"):
        fitted_topics(tokenizer_json, topic_names={5: "nope"})
    family = FAMILIES["embedding_topics"]
    with pytest.raises(ValueError, match="expected 3 names"):
        family.Settings(num_topics=3, topic_names=["a", "b"])


@pytest.mark.parametrize("term_score", ["kl", "ctfidf"])
def test_both_term_scores_name_each_theme_by_its_own_words(
    tokenizer_json: str, term_score: str
) -> None:
    topics = fitted_topics(tokenizer_json, term_score=term_score)
    assert sorted(sorted(words) for words in topics.top_words_) == sorted(
        sorted(words) for words in THEMES.values()
    )


def test_an_unknown_term_score_is_refused(tokenizer_json: str) -> None:
    with pytest.raises(ValueError, match="'term_score' parameter of EmbeddingTopics"):
        fitted_topics(tokenizer_json, term_score="tfidf")


def test_fit_transform_embeds_the_training_texts_once(tokenizer_json: str) -> None:
    class CountingEmbedder(NumpyBertEmbedder):
        calls = 0

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            CountingEmbedder.calls += 1
            return super().embed(texts)

        @classmethod
        def like(cls, other: NumpyBertEmbedder) -> CountingEmbedder:
            settings = {k: v for k, v in other.spec.items() if k != "tokenizer"}
            return cls(other.weights, other.spec["tokenizer"], **settings)

    embedder = CountingEmbedder.like(tiny_bert(tokenizer_json))
    topics = EmbeddingTopics(num_topics=3, embedder=embedder, no_below=1)
    proportions = topics.fit_transform(TEXTS)
    assert CountingEmbedder.calls == 1
    np.testing.assert_allclose(proportions, topics.transform(TEXTS), atol=1e-6)


def test_a_fit_sample_embeds_only_the_sample_and_assigns_the_rest_by_terms(
    tokenizer_json: str,
) -> None:
    rng = np.random.default_rng(1)
    themes = list(THEMES.values())
    texts = [" ".join(rng.choice(themes[i % 3], 3, replace=False)) for i in range(60)]
    theme = np.arange(60) % 3
    embedded: list[str] = []

    class Recording(NumpyBertEmbedder):
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            embedded.extend(texts)
            return super().embed(texts)

    tiny = tiny_bert(tokenizer_json)
    settings = {k: v for k, v in tiny.spec.items() if k != "tokenizer"}
    embedder = Recording(tiny.weights, tiny.spec["tokenizer"], **settings)
    topics = EmbeddingTopics(num_topics=3, embedder=embedder, fit_sample=24, no_below=1)
    proportions = topics.fit_transform(texts)
    assert len(topics.sample_) == 24 and len(embedded) == 60  # the sample, then the rest once
    assert embedded[:24] == [texts[i] for i in topics.sample_]
    # every theme is one topic, in the sample and out of it
    assert len(set(zip(theme.tolist(), topics.labels_.tolist(), strict=True))) == 3
    assert sorted(sorted(words) for words in topics.top_words(5)) == sorted(
        sorted(words) for words in themes
    )
    assert sorted(topics.prevalence_.round(3)) == [0.333] * 3  # over all 60 texts
    for docs in topics.representative_docs_:
        assert set(docs) <= set(topics.sample_.tolist())
    np.testing.assert_allclose(proportions, topics.transform(texts), atol=1e-6)
    with pytest.raises(ValueError, match="fit_sample=2 is fewer texts than num_topics=3"):
        EmbeddingTopics(num_topics=3, embedder=embedder, fit_sample=2).fit(texts)


def test_embedding_topics_reduce_dims_clusters_the_same_themes(tokenizer_json: str) -> None:
    full = fitted_topics(tokenizer_json)
    reduced = fitted_topics(tokenizer_json, reduce_dims=3)
    pairs = set(zip(full.labels_.tolist(), reduced.labels_.tolist(), strict=True))
    assert len(pairs) == 3  # the same partition, whatever the topic numbers


def test_texts_without_terms_are_left_out_of_the_topics(tokenizer_json: str) -> None:
    texts = [*TEXTS, "", "2024 12 31", "ok"]
    topics = EmbeddingTopics(
        num_topics=3, embedder=tiny_bert(tokenizer_json), no_below=1, no_above=0.5, top_n=5
    ).fit(texts)
    assert topics.labels_[-3:].tolist() == [-1, -1, -1]
    assert sorted(sorted(words) for words in topics.top_words_) == sorted(
        sorted(words) for words in THEMES.values()
    )
    np.testing.assert_allclose(topics.prevalence_.sum(), 1.0)
    np.testing.assert_allclose(topics.transform([""]).sum(), 1.0)  # still proportions


def test_embedding_topics_refuse_fewer_texts_than_topics(tokenizer_json: str) -> None:
    with pytest.raises(ValueError, match="at least one text per topic"):
        EmbeddingTopics(num_topics=30, embedder=tiny_bert(tokenizer_json)).fit(TEXTS)


def test_training_embedding_topics_without_torch_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as if the extra were not installed
    with pytest.raises(DependencyError, match=r"pip install 'topics\[encoder\]'"):
        EmbeddingTopics(num_topics=2).fit(TEXTS)


# -- bundle and scorer -------------------------------------------------------------
def theme_targets() -> np.ndarray:
    y = np.zeros((len(TEXTS), len(LABELS)), dtype=int)
    for i, theme in enumerate(THEME_OF):
        y[i, LABELS.index(theme)] = 1
    y[::5, LABELS.index("human rights")] = 1  # every label needs positives to fit
    return y


def theme_classifier() -> MultiLabelLinear:
    return MultiLabelLinear(classifier="logreg", C=10.0, cv_folds=2, label_names=LABELS)


def fitted_model(tokenizer_json: str) -> FittedModel:
    pipeline = Pipeline(
        [
            ("embedding_topics", EmbeddingTopics(3, embedder=tiny_bert(tokenizer_json), top_n=5)),
            ("classifier", theme_classifier()),
        ]
    )
    pipeline.named_steps["embedding_topics"].set_params(no_below=1)
    pipeline.fit(TEXTS, theme_targets())
    return FittedModel("embedding_topics", pipeline, ["embedding_topics"])


def both_topic_models_bundle(directory: Path) -> Path:
    """A bundle holding both topic models, LDA (the primary; 4 topics) and embedding
    topics (3), fitted on the themes, with a training summary for drift; built without
    torch (the tiny BERT is numpy)."""
    lda = LdaTopics(
        num_topics=4, passes=5, iterations=100, no_below=1, no_above=0.5, top_n=5, random_state=0
    )
    pipeline = Pipeline([("lda", lda), ("classifier", theme_classifier())])
    pipeline.fit(TEXTS, theme_targets())
    models = {
        "lda": FittedModel("lda", pipeline, ["lda"]),
        "embedding_topics": fitted_model(packaged_tokenizer_json()),
    }
    return export_bundle(directory, LABELS, "lda", models, {}, held_out_texts=TEXTS)


def test_the_bundle_scores_embedding_topics_as_training_does(
    tokenizer_json: str, tmp_path: Path
) -> None:
    model = fitted_model(tokenizer_json)
    export_bundle(tmp_path / "model", LABELS, "embedding_topics", {"embedding_topics": model}, {})
    predictor = Predictor.load(tmp_path / "model")
    new = ["a missile and the navy", "bank rates and budget prices", "cargo by railway"]
    topics = model.pipeline.named_steps["embedding_topics"]
    block = predictor.blocks["embedding_topics"]
    np.testing.assert_allclose(block.transform(new), topics.transform(new), atol=1e-5)
    assert block.top_words == topics.top_words_
    np.testing.assert_allclose(predictor.predict_proba(new), model.predict_proba(new), atol=1e-5)
    assert predictor.predict(new)[0]["labels"] == ["defense"]
    # classify lists the embedding topics, named, when the bundle has no LDA
    [listed] = predictor.predict(new[2], top_k=1)[0]["topics"]
    rail = int(np.argmax(topics.transform([new[2]])))
    assert (listed["topic"], listed["name"]) == (rail, topics.topic_names_[rail])
    assert listed["words"] == topics.top_words_[rail]


def test_a_bundle_with_a_wrong_centroid_width_is_refused(
    tokenizer_json: str, tmp_path: Path
) -> None:
    from topics.serve.blocks import ArrayError, EmbeddingTopicsBlock

    spec, arrays = fitted_model(tokenizer_json).pipeline.named_steps["embedding_topics"].export()
    arrays["centroids"] = arrays["centroids"][:, :4]
    with pytest.raises(ArrayError, match="centroids"):
        EmbeddingTopicsBlock(spec, arrays)


# -- the run's metrics -------------------------------------------------------------
def test_both_topic_families_report_their_run_metrics() -> None:
    assert set(TOPIC_REPORTS) == {"lda", "embedding_topics"} <= set(FAMILIES)


def test_embedding_topic_metrics_use_the_lda_keys_and_write_a_topic_table(
    tokenizer_json: str, tmp_path: Path
) -> None:
    topics = fitted_topics(tokenizer_json)
    metrics = embedding_topic_metrics(topics, TEXTS, tmp_path / "topics.csv")
    assert {
        "embedding_topics_coherence_c_npmi",
        "embedding_topics_coherence_c_v",
        "embedding_topics_topic_diversity",
        "embedding_topics_fit_seconds",
    } <= set(metrics)
    assert metrics["embedding_topics_topic_diversity"] == topic_diversity(topics.topic_term_)
    assert metrics["embedding_topics_fit_seconds"] == topics.fit_seconds_ > 0
    rows = (tmp_path / "topics.csv").read_text().splitlines()
    assert rows[0].startswith("topic,name,prevalence,c_v") and len(rows) == 4


def test_cached_embeddings_follow_the_weights_not_the_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_encoder_extra()
    from tests.test_encoder import make_tiny_bert, train_again

    folder, cache = make_tiny_bert(tmp_path / "bert"), FitCache(tmp_path / "cache")

    def embedded() -> np.ndarray:
        topics = EmbeddingTopics(pretrained=str(folder), max_length=16, cache=cache)
        topics.embedder_ = TorchBertEmbedder(str(folder), 16)
        return topics._embed_cached(TEXTS[:4])

    first = embedded()
    with monkeypatch.context() as patch:  # read back, no pass
        patch.setattr(TorchBertEmbedder, "embed", None)
        np.testing.assert_array_equal(embedded(), first)
    train_again(folder)
    vectors = embedded()
    np.testing.assert_allclose(vectors, TorchBertEmbedder(str(folder), 16).embed(TEXTS[:4]))
    assert not np.allclose(vectors, first)


# -- the packaged MiniLM, end to end ---------------------------------------------------
def test_packaged_minilm_topics_score_in_a_process_without_torch(tmp_path: Path) -> None:
    needs_encoder_extra()
    texts = [t.replace("the ", "") for t in TEXTS[:10]] * 2
    cache = FitCache(tmp_path / "cache")
    started = time.perf_counter()
    topics = EmbeddingTopics(num_topics=2, no_below=1, cache=cache).fit(texts)
    assert list((tmp_path / "cache" / "embeddings").iterdir())  # vectors kept as .npz
    again = EmbeddingTopics(num_topics=2, no_below=1, cache=cache).fit(texts)
    np.testing.assert_array_equal(again.centroids_, topics.centroids_)
    y = np.zeros((len(texts), len(LABELS)), dtype=int)
    y[:, 0] = [i % 2 for i in range(len(texts))]
    y[:, 1:] = 1 - y[:, :1]
    classifier = MultiLabelLinear(classifier="logreg", cv_folds=2, label_names=LABELS)
    pipeline = Pipeline([("embedding_topics", topics), ("classifier", classifier)])
    pipeline.steps[1][1].fit(topics.transform(texts), y)
    model = FittedModel("embedding_topics", pipeline, ["embedding_topics"])
    export_bundle(tmp_path / "model", LABELS, "embedding_topics", {"embedding_topics": model}, {})
    code = (
        "import sys, json, topics.predict\n"
        f"p = topics.predict.Predictor.load({str(tmp_path / 'model')!r})\n"
        f"theta = p.blocks['embedding_topics'].transform({texts[:3]!r})\n"
        "print(json.dumps([theta.tolist(), 'torch' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    theta, torch_loaded = json.loads(out.stdout)
    assert torch_loaded is False
    np.testing.assert_allclose(theta, topics.transform(texts[:3]), atol=1e-4)
    assert time.perf_counter() - started < 30


def test_the_run_side_report_of_embedding_topics_writes_its_table(
    tokenizer_json: str, tmp_path: Path
) -> None:
    from topics.data.corpus import Corpus

    labels = [(theme,) for theme in THEME_OF]
    train = Corpus(
        ids=[str(i) for i in range(len(TEXTS))],
        texts=TEXTS,
        labels=labels,
        label_names=tuple(LABELS),
        meta={},
    )
    report = TOPIC_REPORTS["embedding_topics"]
    fitted = fitted_model(tokenizer_json)
    tracker = RecordingTracker()
    metrics = report(None, fitted, train, train, tmp_path, tracker)  # type: ignore[arg-type]
    assert set(metrics) >= {"embedding_topics_coherence_c_npmi", "embedding_topics_fit_seconds"}
    assert (tmp_path / "plots" / "embedding_topics_topics.csv").is_file()
    view = read_topic_view(tmp_path / "plots" / "embedding_topics_topic_view.json")
    model = fitted.pipeline.named_steps["embedding_topics"]
    assert [t["name"] for t in view["topics"]] == model.topic_names_
    assert tracker.tags == {
        f"topics.embedding_topics.topic.{k}.name": name for k, name in enumerate(model.topic_names_)
    }
    for topic in view["topics"]:
        assert len(topic["documents"]) == 3
        assert all(0.0 < doc["weight"] <= 1.0 for doc in topic["documents"])
