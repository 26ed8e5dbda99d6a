"""Static vectors: the kernel, the distilled token vectors, and the ``static`` family's
bundle scored by numpy as training scored it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import needs_encoder_extra
from topics.config import load_config
from topics.data.splits import split_indices
from topics.families.base import TrainingData
from topics.families.fine_labels import FineLabelLinear
from topics.families.linear import MultiLabelLinear
from topics.families.sentence_encoder import TorchBertEmbedder
from topics.families.static import StaticVectors, fit_to_sentences
from topics.kernels import static as kernel
from topics.kernels.transformer import load_tokenizer
from topics.predict import Predictor
from topics.run.build import fit_family
from topics.run.cache import FitCache, load_corpus_from_config, split_kwargs
from topics.run.export import export_bundle
from topics.serve.blocks import ArrayError, StaticBlock

REPO = Path(__file__).resolve().parent.parent


# -- the kernel ------------------------------------------------------------------
@pytest.mark.parametrize("block", [1, 3, 512])
def test_text_vectors_are_unit_sums_of_known_token_vectors(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(kernel, "BLOCK", block)
    rng = np.random.default_rng(0)
    table = rng.normal(size=(6, 4)).astype(np.float32)
    rows = np.array([-1, 0, 1, 2, -1, 3, 4, 5])  # tokens 0 and 4 have no vector
    lengths = np.array([3, 0, 2, 1, 4])
    ids = np.array([1, 2, 1, 0, 4, 0, 7, 6, 5, 3])
    got = kernel.text_vectors(ids, lengths, rows, table)
    expected, first = np.zeros((5, 4)), 0
    for d, n in enumerate(lengths):
        for token in ids[first : first + n]:
            if rows[token] >= 0:
                expected[d] += table[rows[token]]
        first += n
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    expected = np.divide(expected, norms, out=np.zeros_like(expected), where=norms > 0)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not got[1].any() and not got[2].any()  # empty, and only tokens without vectors


# -- the family ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_encoder_extra()
    from tests.test_encoder import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_token_vectors_are_each_token_alone_through_the_encoder(tiny_bert: Path) -> None:
    embedder = TorchBertEmbedder(str(tiny_bert), max_length=8)
    vocabulary = load_tokenizer(embedder.tokenizer_json, 8).get_vocab()
    words = sorted(w for w in vocabulary if w.isalpha() and len(w) > 3)[:5]  # whole words
    ids = np.array([vocabulary[w] for w in words])
    np.testing.assert_allclose(embedder.token_vectors(ids), embedder.embed(words), atol=1e-5)


def test_token_means_average_a_tokens_outputs_over_its_occurrences(tiny_bert: Path) -> None:
    import torch

    from topics.kernels.transformer import encode

    embedder = TorchBertEmbedder(str(tiny_bert), max_length=16)
    texts = ["bank rates rose", "the army and the bank"]
    means, counts = embedder.token_means(texts)
    bank = embedder.tokenizer.token_to_id("bank")
    assert counts[bank] == 2 and counts[embedder.tokenizer.token_to_id("[CLS]")] == 0
    outputs = []
    for text in texts:
        ids, mask = encode(embedder.tokenizer, [text])
        states = embedder._hidden(torch.as_tensor(ids), torch.as_tensor(mask)).numpy()[0]
        outputs.append(states[list(ids[0]).index(bank)])
    np.testing.assert_allclose(means[bank], np.mean(outputs, axis=0), atol=1e-5)
    # a contextual static model keeps a vector for every token of the training texts
    vectors = StaticVectors(str(tiny_bert), contextual=16).fit(texts)
    assert bank in vectors.ids_ and vectors.transform(["bank"]).shape == (1, 32)


def test_token_vectors_are_distilled_once_per_cache(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["bank rates rose", "the army and the bank"]
    cache = FitCache(tmp_path)
    first = StaticVectors(str(tiny_bert), cache=cache).fit(texts)

    def distil(*args: object) -> None:
        raise AssertionError("the token vectors were distilled again")

    monkeypatch.setattr(TorchBertEmbedder, "token_vectors", distil)
    again = StaticVectors(str(tiny_bert), cache=cache).fit(texts)
    np.testing.assert_array_equal(again.vectors_, first.vectors_)
    with pytest.raises(AssertionError, match="distilled again"):  # other tokens: not cached
        StaticVectors(str(tiny_bert), cache=cache).fit(["the navy"])
    # the same folder with other weights (trained again): not cached either
    monkeypatch.setattr(TorchBertEmbedder, "digest", lambda self: "other weights")
    with pytest.raises(AssertionError, match="distilled again"):
        StaticVectors(str(tiny_bert), cache=cache).fit(texts)


def test_fit_to_sentences_solves_the_ridge_problem() -> None:
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    counts = sp.random(40, 12, density=0.3, random_state=0, format="csr")
    counts.data[:] = rng.integers(1, 4, size=counts.nnz)
    start, targets = rng.normal(size=(12, 5)), rng.normal(size=(40, 5))
    got = fit_to_sentences(counts, start, targets, ridge=0.5)
    # the closed form: (A'A + ridge I) E = A' targets + ridge E0, A the rows over their norms
    norms = np.linalg.norm(counts @ start, axis=1)
    a = counts.toarray() / np.where(norms == 0, 1, norms)[:, None]
    expected = np.linalg.solve(a.T @ a + 0.5 * np.eye(12), a.T @ targets + 0.5 * start)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # a large ridge keeps the start
    np.testing.assert_allclose(fit_to_sentences(counts, start, targets, 1e9), start, atol=1e-6)


def test_regressed_vectors_come_nearer_the_encoders_sentence_vectors(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["bank rates rose", "the army and the bank", "rates of the army rose", "bank"] * 3
    sentences = TorchBertEmbedder(str(tiny_bert), max_length=128).embed(texts)
    sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)

    def cosine(vectors: StaticVectors) -> float:
        return float((vectors.transform(texts) * sentences).sum(axis=1).mean())

    cache = FitCache(tmp_path)
    plain = StaticVectors(str(tiny_bert)).fit(texts)
    fitted = StaticVectors(str(tiny_bert), regress=1e-3, cache=cache).fit(texts)
    assert cosine(fitted) > max(cosine(plain), 0.99) and fitted.vectors_.dtype == np.float16
    # the sentence vectors come from the cache the second time
    monkeypatch.setattr(TorchBertEmbedder, "embed", lambda *a: pytest.fail("embedded again"))
    again = StaticVectors(str(tiny_bert), regress=1e-3, cache=cache).fit(texts)
    np.testing.assert_array_equal(again.vectors_, fitted.vectors_)


def quickstart_split(*overrides: str) -> tuple[object, TrainingData, list[str], list[str]]:
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        ["model.lda.enabled=false", "cache_dir=null", *overrides],
    )
    # the texts and labels as the sample file has them (label_map only maps the sources below)
    corpus = load_corpus_from_config(load_config(REPO / "experiments" / "quickstart.yaml").data)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    # source classes for fine labels: the first label, split in two by position, or none
    sources = np.array(
        [f"{doc[0]}-{'ab'[i % 2]}" if doc else "none" for i, doc in enumerate(train.labels)]
    )
    data = TrainingData(train.texts, train.label_matrix(), sources)
    return config, data, list(corpus.label_names), list(test.texts)


@pytest.mark.parametrize("fine_labels", [False, True])
def test_the_bundle_scores_the_static_model_as_training_does(
    tiny_bert: Path, tmp_path: Path, fine_labels: bool
) -> None:
    overrides = ["model.static.enabled=true", f"model.static.pretrained={tiny_bert}"]
    if fine_labels:
        labels = ["economy", "defense", "human rights", "transport"]
        label_map = {f"{label}-{half}": label for label in labels for half in "ab"}
        label_map["none"] = None
        overrides += ["model.tfidf.fine_labels=true", f"data.label_map={json.dumps(label_map)}"]
    config, data, labels, unseen = quickstart_split(*overrides, "model.static.scale=2.0")
    tfidf = fit_family(config, "tfidf", data, labels)  # type: ignore[arg-type]
    static = fit_family(config, "static", data, labels, {"tfidf": tfidf})  # type: ignore[arg-type]
    learner = FineLabelLinear if fine_labels else MultiLabelLinear
    assert isinstance(static.classifier, learner)
    vectors = static.pipeline.named_steps["features"].transformer_list[1][1]
    assert vectors.vectors_.dtype == np.float16 and vectors.vectors_.shape[1] == 32
    path = export_bundle(
        tmp_path / "model",
        labels=labels,
        primary="static",
        models={"tfidf": tfidf, "static": static},
        provenance={},
    )
    predictor = Predictor.load(path)
    np.testing.assert_allclose(
        predictor.blocks["static"].transform(unseen), vectors.transform(unseen), atol=1e-6
    )
    np.testing.assert_allclose(
        predictor.predict_proba(unseen), static.predict_proba(unseen), atol=1e-6
    )
    decided = [r["labels"] for r in predictor.predict(unseen)]
    assert decided == [
        [labels[j] for j in np.flatnonzero(row)]
        for row in static.classifier.decide(static.predict_proba(unseen))
    ]
    # the TF-IDF columns still name the terms behind a label
    [result] = predictor.predict(unseen[:1], explain=True)
    assert result["explanation"]["terms_model"] == "static"
    # model.bundle: primary keeps the static model and the blocks it reads, not tfidf's model
    alone = export_bundle(
        tmp_path / "alone",
        labels=labels,
        primary="static",
        models={"tfidf": tfidf, "static": static},
        provenance={},
        keep=["static"],
    )
    smaller = Predictor.load(alone)
    assert list(smaller.models) == ["static"] and set(smaller.blocks) == {"tfidf", "static"}
    assert smaller.bundle.arrays["clf.static.coef"].dtype == np.float32
    np.testing.assert_array_equal(smaller.predict_proba(unseen), predictor.predict_proba(unseen))


def test_a_static_block_with_foreign_token_ids_is_refused(tiny_bert: Path) -> None:
    tokenizer_json = (tiny_bert / "tokenizer.json").read_text(encoding="utf-8")
    vectors = np.zeros((2, 4), dtype=np.float16)
    for ids in ([0, 0], [0, 10_000]):
        with pytest.raises(ArrayError, match="ids"):
            StaticBlock({"tokenizer": tokenizer_json}, {"ids": np.array(ids), "vectors": vectors})


def test_nb_scaling_stays_with_the_tfidf_model_and_its_bundle(
    tiny_bert: Path, tmp_path: Path
) -> None:
    config, data, labels, unseen = quickstart_split(
        "model.tfidf.nb_alpha=1",
        "model.static.enabled=true",
        f"model.static.pretrained={tiny_bert}",
    )
    tfidf = fit_family(config, "tfidf", data, labels)  # type: ignore[arg-type]
    static = fit_family(config, "static", data, labels, {"tfidf": tfidf})  # type: ignore[arg-type]
    assert tfidf.classifier.nb_alpha == 1 and static.classifier.nb_alpha is None
    path = export_bundle(
        tmp_path / "model", labels=labels, primary="tfidf", models={"tfidf": tfidf}, provenance={}
    )
    np.testing.assert_allclose(
        Predictor.load(path).predict_proba(unseen), tfidf.predict_proba(unseen), atol=1e-6
    )
