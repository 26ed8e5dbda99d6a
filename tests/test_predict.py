from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import HEAVY, REPO, modules_loaded_by_predict
from tests.test_embedding_topics import both_topic_models_bundle
from topics.config import load_config
from topics.data.splits import split_indices
from topics.errors import BundleError
from topics.families import FAMILIES
from topics.families.base import TrainingData
from topics.kernels.passages import by_passage
from topics.run.build import fit_context, fit_families, fit_family
from topics.run.cache import load_corpus_from_config, split_kwargs
from topics.run.export import export_bundle
from topics.serve.bundle import load_bundle, save_bundle
from topics.serve.predictor import Predictor
from topics.serve.scorers import Linear

# ``tokenizers`` is imported only by bundles with an encoder model
LINEAR_ONLY = (*HEAVY, "transformers", "tokenizers")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The quickstart models fit on the sample train split, and their bundle."""
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [
            "model.lda.iterations=100",
            "model.lda.phrases=true",  # the bundle must merge the same phrases
            "model.lda.phrase_min_count=3",
            "model.lda.phrase_threshold=5",
            "model.hybrid.enabled=true",
            "model.hybrid.lda_weight=0.5",
        ],
    )
    corpus = load_corpus_from_config(config.data)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    labels = list(corpus.label_names)
    fitted = fit_families(config, TrainingData.from_corpus(train), labels)
    path = export_bundle(
        tmp_path_factory.mktemp("bundle") / "model",
        labels=labels,
        primary="tfidf",
        models=fitted,
        provenance={},
    )
    return {**fitted, "test": test, "path": path}


@pytest.mark.parametrize("model", ["tfidf", "lda", "hybrid"])
def test_bundle_scores_equal_the_sklearn_pipeline(trained: dict[str, Any], model: str) -> None:
    texts = trained["test"].texts
    expected = trained[model].predict_proba(texts)
    results = Predictor.load(trained["path"]).predict(texts, model=model)
    labels = list(results[0]["scores"])
    ours = np.array([[r["scores"][label] for label in labels] for r in results])
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    predicted = np.array([[label in r["labels"] for label in labels] for r in results])
    np.testing.assert_array_equal(predicted, trained[model].predict(texts).astype(bool))


def test_a_linear_models_weights_are_held_once(trained: dict[str, Any]) -> None:
    scorer = Predictor.load(trained["path"]).models["tfidf"]
    assert isinstance(scorer, Linear)
    assert scorer.coef.flags.c_contiguous  # each label's weights one contiguous row
    assert np.shares_memory(scorer.coef_t, scorer.coef)  # not a second copy


def test_topics_equal_the_lda_transform(trained: dict[str, Any]) -> None:
    texts = trained["test"].texts[:20]
    theta = trained["lda"].topics.transform(texts)
    results = Predictor.load(trained["path"]).predict(texts, top_k=theta.shape[1])
    for row, result in zip(theta, results, strict=True):
        weights = {t["topic"]: t["weight"] for t in result["topics"]}
        np.testing.assert_allclose([weights[k] for k in range(len(row))], row, atol=1e-6)


def test_topic_names_travel_in_the_bundle_and_show_in_classify_output(
    trained: dict[str, Any],
) -> None:
    names = trained["lda"].topics.topic_names_
    assert not any(name.startswith("topic ") for name in names)  # every topic is named
    [result] = Predictor.load(trained["path"]).predict(["Rail cargo through the port"], top_k=2)
    for topic in result["topics"]:
        assert set(topic) == {"topic", "name", "weight", "words"}
        assert topic["name"] == names[topic["topic"]]


def test_a_bundle_without_topic_names_names_its_topics_by_number(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    bundle = load_bundle(trained["path"])
    spec = json.loads(json.dumps(bundle.spec))
    del spec["features"]["lda"]["topic_names"]  # as bundles written before names
    old = save_bundle(tmp_path / "old", spec, bundle.arrays, {})
    [result] = Predictor.load(old).predict(["Rail cargo through the port"], top_k=1)
    assert result["topics"][0]["name"] == f"topic {result['topics'][0]['topic']}"


def test_phrases_travel_in_the_bundle(trained: dict[str, Any]) -> None:
    tokenizer = trained["lda"].topics.tokenizer_
    assert tokenizer.phrases, "the sample corpus should yield some phrases"
    assert any("_" in word for word in trained["lda"].topics.vocabulary_)
    assert Predictor.load(trained["path"]).lda.tokenizer.phrases == tokenizer.phrases


def test_empty_text_gets_no_labels(trained: dict[str, Any]) -> None:
    result = Predictor.load(trained["path"]).predict(["", "   "])
    assert [r["labels"] for r in result] == [[], []]


def test_texts_without_known_terms_between_others_score_like_sklearn(
    trained: dict[str, Any],
) -> None:
    real = trained["test"].texts[:3]
    texts = ["", real[0], "zzzz qqqq", "", real[1], real[2], "   "]
    expected = trained["tfidf"].predict_proba(texts)
    np.testing.assert_allclose(
        Predictor.load(trained["path"]).predict_proba(texts, model="tfidf"), expected, atol=1e-6
    )


def test_explanation_names_terms_that_pushed_each_label(trained: dict[str, Any]) -> None:
    text = "The railway cargo corridor and the new port terminal for container trains"
    (result,) = Predictor.load(trained["path"]).predict([text], explain=True)
    assert "transport" in result["labels"]
    terms = result["explanation"]["terms"]["transport"]
    assert terms and all(t["weight"] > 0 for t in terms)
    assert {t["term"] for t in terms} & {"railway", "cargo", "port", "trains", "container"}


def test_a_label_scored_by_a_passage_is_explained_by_that_passage(
    trained: dict[str, Any],
) -> None:
    defense = "The army and its troops held military exercises with tanks near the border all week."
    transport = "The railway cargo corridor and the new port terminal for container trains opened."
    predictor = Predictor.load(trained["path"])
    (result,) = predictor.predict([f"{defense} {transport}"], explain=True, passages=10)
    assert {"defense", "transport"} <= set(result["labels"])
    explained = result["explanation"]
    assert explained["passages"] == {"defense": defense, "transport": transport}
    for label, passage in explained["passages"].items():  # as if the passage were the text
        (alone,) = predictor.predict([passage], explain=True, passages=0)
        assert explained["terms"][label] == alone["explanation"]["terms"][label]
        assert result["scores"][label] == alone["scores"][label]
    (whole,) = predictor.predict([f"{defense} {transport}"], explain=True, passages=0)
    assert "passages" not in whole["explanation"]  # scored whole: the whole text's terms


def test_best_passages_names_each_labels_passage_and_none_for_a_whole_text(
    trained: dict[str, Any],
) -> None:
    predictor = Predictor.load(trained["path"])
    long = " ".join(trained["test"].texts[:4])  # four articles in one
    short = "Rail cargo grew."
    found = predictor.best_passages([short, long], passages=20)
    assert found[0] == {}
    assert set(found[1]) == set(predictor.labels)
    scores = predictor.predict_proba([long], passages=20)[0]
    for j, label in enumerate(predictor.labels):  # the passage's own score is the text's
        assert " ".join(found[1][label].split()) in " ".join(long.split())
        alone = predictor.predict_proba([found[1][label]], passages=0)[0]
        assert alone[j] == pytest.approx(scores[j], abs=1e-9)


def test_unknown_model_name(trained: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not in this bundle"):
        Predictor.load(trained["path"]).predict(["x"], model="bert")


@pytest.fixture(scope="module")
def both_topics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle with an LDA and an embedding-topics model (primary: lda)."""
    return both_topic_models_bundle(tmp_path_factory.mktemp("both") / "model")


def test_a_bundle_with_both_topic_models_lists_either_one(both_topics: Path) -> None:
    predictor = Predictor.load(both_topics)
    assert predictor.topic_models == ["lda", "embedding_topics"]
    assert predictor.topic_model == "lda"
    text = "cargo by railway to the station"
    for topic_model, default in [("lda", True), ("embedding_topics", False)]:
        block = predictor.blocks[topic_model]
        theta = block.transform([text])[0]
        [result] = predictor.predict(text, top_k=3, topic_model=topic_model)
        assert [t["topic"] for t in result["topics"]] == list(np.argsort(-theta, kind="stable")[:3])
        for topic in result["topics"]:
            k = topic["topic"]
            assert topic["name"] == block.topic_names[k]
            assert topic["words"] == block.top_words[k]
            assert topic["weight"] == pytest.approx(theta[k], abs=1e-6)
        if default:  # LDA lists topics when none is named
            assert predictor.predict(text, top_k=3) == [result]
        else:  # the topics change, the labels and scores do not
            [lda] = predictor.predict(text, top_k=3)
            assert (result["labels"], result["scores"]) == (lda["labels"], lda["scores"])
            assert result["topics"] != lda["topics"]
    [explained] = predictor.predict(text, explain=True, topic_model="embedding_topics")
    assert explained["explanation"]["topics"] == explained["topics"]


def tfidf_only(path: Path, target: Path) -> Path:
    """The bundle at ``path`` cut down to its TF-IDF model (no topic model), at ``target``."""
    bundle = load_bundle(path)
    spec = json.loads(json.dumps(bundle.spec))
    spec["features"] = {"tfidf": spec["features"]["tfidf"]}
    spec["models"] = {"tfidf": spec["models"]["tfidf"]}
    spec.pop("training_summary", None)
    kept = ("tfidf.", "clf.tfidf.")
    arrays = {key: value for key, value in bundle.arrays.items() if key.startswith(kept)}
    return save_bundle(target, spec, arrays, {})


@pytest.mark.parametrize(
    ("bundle", "has"),
    [
        ("both", "it has ['lda', 'embedding_topics']"),
        ("lda-only", "it has ['lda']"),
        ("no-topic-model", "it has none"),
    ],
    ids=["both-topic-models", "lda-only", "no-topic-model"],
)
def test_an_unknown_topic_model_is_one_line_naming_the_bundles(
    trained: dict[str, Any], both_topics: Path, bundle: str, has: str, tmp_path: Path
) -> None:
    paths = {"both": both_topics, "lda-only": trained["path"]}
    predictor = Predictor.load(paths.get(bundle) or tfidf_only(trained["path"], tmp_path / "m"))
    with pytest.raises(ValueError) as raised:
        predictor.predict(["rail"], topic_model="bertopic")
    assert str(raised.value) == f"topic model 'bertopic' is not in this bundle; {has}"
    if bundle == "no-topic-model":  # and by default: no topics, as before
        assert predictor.topic_models == [] and predictor.predict("rail")[0]["topics"] == []


def test_a_scorer_kind_this_topics_does_not_know_is_refused_in_one_line(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    bundle = load_bundle(trained["path"])
    spec = json.loads(json.dumps(bundle.spec))
    spec["models"]["tfidf"]["kind"] = "mystery"
    path = save_bundle(tmp_path / "model", spec, bundle.arrays, {})
    with pytest.raises(BundleError, match="scorer kind 'mystery' is not one this topics"):
        Predictor.load(path)


def test_a_single_string_is_one_text_not_a_list_of_characters(trained: dict[str, Any]) -> None:
    predictor = Predictor.load(trained["path"])
    one = predictor.predict("Rail freight")
    assert len(one) == 1
    assert one == predictor.predict(["Rail freight"])
    assert predictor("Rail freight", top_k=1) == predictor.predict(["Rail freight"], top_k=1)
    assert predictor.predict_proba("Rail freight").shape == (1, len(predictor.labels))


@pytest.mark.parametrize(
    "texts",
    [b"Rail freight", 42, ["Rail freight", None], None],
    ids=["bytes", "int", "list-with-none", "none"],
)
def test_input_that_is_not_text_raises_type_error(trained: dict[str, Any], texts: Any) -> None:
    with pytest.raises(TypeError, match="expected a str"):
        Predictor.load(trained["path"]).predict(texts)


def test_threshold_and_max_labels_at_predict_time(trained: dict[str, Any]) -> None:
    predictor = Predictor.load(trained["path"])
    texts = trained["test"].texts[:20]
    proba = predictor.predict_proba(texts)
    everything = predictor.predict(texts, threshold=0.0)
    assert all(len(r["labels"]) == len(predictor.labels) for r in everything)
    nothing = predictor.predict(texts, threshold=1.0)
    assert all(r["labels"] == [] for r in nothing if max(r["scores"].values()) < 1.0)
    top_one = predictor.predict(texts, threshold=0.0, max_labels=1)
    best = [predictor.labels[j] for j in proba.argmax(axis=1)]
    assert [r["labels"] for r in top_one] == [[label] for label in best]
    # one label's threshold at 0: every text carries it; the others keep the bundle's
    only = predictor.predict(texts, threshold={"defense": 0.0})
    default = predictor.predict(texts)
    for mine, theirs in zip(only, default, strict=True):
        assert "defense" in mine["labels"]
        assert set(mine["labels"]) - {"defense"} == set(theirs["labels"]) - {"defense"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": 1.5}, "must be in \\[0, 1\\]"),
        ({"threshold": {"sport": 0.3}}, "no such label"),
        ({"max_labels": 0}, "max_labels must be an int >= 1"),
    ],
    ids=["threshold-above-1", "unknown-label", "max-labels-0"],
)
def test_bad_threshold_or_max_labels_is_one_clear_error(
    trained: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Predictor.load(trained["path"]).predict(["rail"], **options)


def test_a_bundle_with_passages_scores_long_texts_as_training_evaluated_them(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    sample = trained["test"].texts
    long = [" ".join(sample[i : i + 6]) for i in range(0, 30, 6)]  # six articles each
    short = [" ".join(text.split()[:30]) for text in sample[:5]]  # under 2 x 20 words
    texts = [*long, *short]
    model = trained["tfidf"]
    labels = Predictor.load(trained["path"]).labels
    path = export_bundle(tmp_path / "model", labels, "tfidf", {"tfidf": model}, {}, passages=20)
    predictor = Predictor.load(path)
    assert predictor.passages == 20
    expected = by_passage(model.predict_proba, texts, 20)  # what the run's evaluation scores
    np.testing.assert_allclose(predictor.predict_proba(texts), expected, atol=1e-6)
    results = predictor.predict(texts, top_k=1)
    ours = np.array([[r["scores"][label] for label in predictor.labels] for r in results])
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    whole = model.predict_proba(texts)
    assert not np.allclose(expected[:5], whole[:5])  # the long texts: scored by passage
    np.testing.assert_allclose(expected[5:], whole[5:])  # the short ones: whole
    np.testing.assert_allclose(predictor.predict_proba(texts, passages=0), whole, atol=1e-6)
    with pytest.raises(ValueError, match="passages must be a whole number of words >= 0"):
        predictor.predict(texts, passages=-1)
    spec = json.loads(json.dumps(load_bundle(path).spec))
    spec["passages"] = "many"
    with pytest.raises(BundleError, match="passages: expected a whole number >= 0"):
        Predictor.load(save_bundle(tmp_path / "bad", spec, load_bundle(path).arrays, {}))


def test_a_bundle_with_passage_support_scores_a_label_by_its_kth_best_passage(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    sample = trained["test"].texts
    texts = [" ".join(sample[i : i + 6]) for i in range(0, 30, 6)]  # six articles each
    model = trained["tfidf"]
    labels = Predictor.load(trained["path"]).labels
    path = export_bundle(
        tmp_path / "model", labels, "tfidf", {"tfidf": model}, {}, passages=20, passage_support=3
    )
    predictor = Predictor.load(path)
    assert predictor.passage_support == 3
    expected = by_passage(model.predict_proba, texts, 20, 3)  # what the run's evaluation scores
    np.testing.assert_allclose(predictor.predict_proba(texts), expected, atol=1e-6)
    assert (expected < by_passage(model.predict_proba, texts, 20) - 1e-6).any()
    found = predictor.best_passages(texts)
    for i, text in enumerate(texts):  # the passage named is the one behind the score
        for j, label in enumerate(labels):
            assert " ".join(found[i][label].split()) in " ".join(text.split())
            alone = predictor.predict_proba([found[i][label]], passages=0)[0]
            assert alone[j] == pytest.approx(expected[i, j], abs=1e-6)
    spec = json.loads(json.dumps(load_bundle(path).spec))
    spec["passage_support"] = -1
    with pytest.raises(BundleError, match="passage_support: expected a whole number >= 0"):
        Predictor.load(save_bundle(tmp_path / "bad", spec, load_bundle(path).arrays, {}))


def test_a_bundle_with_a_relative_cut_keeps_each_texts_labels_near_its_best(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    texts = list(trained["test"].texts[:60])
    model = trained["tfidf"]
    labels = Predictor.load(trained["path"]).labels
    path = export_bundle(
        tmp_path / "model", labels, "tfidf", {"tfidf": model}, {}, relative_cut=0.9
    )
    predictor = Predictor.load(path)
    assert predictor.relative_cut == 0.9
    proba = predictor.predict_proba(texts)
    plain = [r["labels"] for r in predictor.predict(texts, top_k=0, threshold=0.0, relative_cut=0)]
    cut = [r["labels"] for r in predictor.predict(texts, top_k=0, threshold=0.0)]
    assert sum(map(len, cut)) < sum(map(len, plain))  # some side labels dropped
    for row, before, after in zip(proba, plain, cut, strict=True):
        best = row.max()
        kept = [label for label in before if row[labels.index(label)] >= 0.9 * best]
        assert after == kept  # the rest of the decision is the thresholds'
    with pytest.raises(ValueError, match="relative_cut must be a number in \\[0, 1\\]"):
        predictor.predict(texts, relative_cut=1.5)
    spec = json.loads(json.dumps(load_bundle(path).spec))
    spec["relative_cut"] = "high"
    with pytest.raises(BundleError, match="relative_cut: expected a number in \\[0, 1\\]"):
        Predictor.load(save_bundle(tmp_path / "bad", spec, load_bundle(path).arrays, {}))


def test_load_takes_models_and_runs_uris(
    trained: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import sys
    import types

    from topics.serve import predictor as predictor_module

    fetched: list[tuple[str, str | None]] = []

    def fetch_bundle(uri: str, dst: str, tracking_uri: str | None = None) -> Path:
        fetched.append((uri, tracking_uri))
        return Path(shutil.copytree(trained["path"], Path(dst) / "bundle"))

    store = types.ModuleType("fake_store")
    store.fetch_bundle = fetch_bundle  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_store", store)
    # the real source: topics.tracking.fetch_bundle, imported only for such a URI
    assert predictor_module.REMOTE_SOURCES == {
        "models:/": "topics.tracking",
        "runs:/": "topics.tracking",
    }
    assert "def fetch_bundle(" in (REPO / "topics" / "tracking" / "registry.py").read_text()
    for scheme in predictor_module.REMOTE_SOURCES:
        monkeypatch.setitem(predictor_module.REMOTE_SOURCES, scheme, "fake_store")
    by_alias = Predictor.load("models:/topics-news@champion", tracking_uri="sqlite:///x.db")
    by_run = Predictor.load("runs:/abc123/model")
    assert fetched == [
        ("models:/topics-news@champion", "sqlite:///x.db"),
        ("runs:/abc123/model", None),
    ]
    expected = Predictor.load(trained["path"]).predict(["rail cargo"])
    assert by_alias.predict(["rail cargo"]) == by_run.predict(["rail cargo"]) == expected


def test_predict_path_imports_no_heavy_library(trained: dict[str, Any]) -> None:
    assert modules_loaded_by_predict(trained["path"], LINEAR_ONLY) == []


NEWS_WORDS = st.sampled_from(
    [
        "railway",
        "cargo",
        "port",
        "bank",
        "inflation",
        "army",
        "troops",
        "border",
        "court",
        "journalist",
        "rights",
        "investment",
        "trade",
        "tariff",
        "metro",
        "airport",
        "police",
        "protest",
        "drills",
        "budget",
    ]
)
NEWS_TEXT = st.lists(st.one_of(NEWS_WORDS, st.text(max_size=8)), max_size=40).map(" ".join)


@given(text=st.one_of(st.text(max_size=400), NEWS_TEXT))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_text_classifies_and_agrees_with_sklearn(trained: dict[str, Any], text: str) -> None:
    predictor = Predictor.load(trained["path"])
    (result,) = predictor.predict([text])
    scores = np.array(list(result["scores"].values()))
    assert ((scores >= 0) & (scores <= 1)).all()
    expected = trained["tfidf"].predict_proba([text])[0]
    np.testing.assert_allclose(scores, expected, atol=1e-6)


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fine-label model and a single-label model on the sample corpus, and their bundles."""
    labels = ["economy", "defense", "human rights", "transport"]
    label_map = {f"{label}-{half}": label for label in labels for half in "ab"}
    base = ["model.lda.enabled=false", "cache_dir=null"]
    plain = load_config(REPO / "experiments" / "quickstart.yaml", base)
    fine_config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [*base, "model.tfidf.fine_labels=true", f"data.label_map={json.dumps(label_map)}"],
    )
    corpus = load_corpus_from_config(plain.data)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(plain.data.split, plain.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    # Source classes: the first label, split in two halves by position, or "none".
    sources = np.array(
        [f"{doc[0]}-{'ab'[i % 2]}" if doc else "none" for i, doc in enumerate(train.labels)]
    )
    data = TrainingData(train.texts, train.label_matrix(), sources)
    fine = fit_family(fine_config, "tfidf", data, labels)
    single_label = replace(fit_context(plain, labels), single_label=True)
    single = FAMILIES["tfidf"].fit(plain.model.tfidf, single_label, data, {})
    char_config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [*base, "features.tfidf.analyzer=char_wb", "features.tfidf.ngram_range=[2,4]"],
    )
    char = fit_family(char_config, "tfidf", data, labels)
    union_config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [
            *base,
            "features.tfidf.analyzer=word+char_wb",
            "features.tfidf.char_ngram_range=[3,4]",
            "model.tfidf.coef_dtype=float16",  # scored as stored, in the run and the bundle
            "model.tfidf.calibration=shared",  # one sigmoid for every label, in both
        ],
    )
    union = fit_family(union_config, "tfidf", data, labels)
    paths = {}
    for name, model, single_label in (
        ("fine", fine, False),
        ("single", single, True),
        ("char", char, False),
        ("union", union, False),
    ):
        paths[name] = export_bundle(
            tmp_path_factory.mktemp(name) / "model",
            labels=labels,
            primary="tfidf",
            models={"tfidf": model},
            provenance={},
            single_label=single_label,
        )
    return {
        "fine": fine,
        "single": single,
        "char": char,
        "union": union,
        "paths": paths,
        "test": test,
        "train_y": train.label_matrix(),
    }


@pytest.mark.parametrize("kind", ["fine", "single", "char", "union"])
def test_bundle_reproduces_fine_label_and_single_label_models(
    variants: dict[str, Any], kind: str
) -> None:
    texts = variants["test"].texts
    model = variants[kind]
    results = Predictor.load(variants["paths"][kind]).predict(texts)
    labels = list(results[0]["scores"])
    ours = np.array([[r["scores"][label] for label in labels] for r in results])
    np.testing.assert_allclose(ours, model.predict_proba(texts), atol=1e-6)
    predicted = model.predict(texts)
    if kind == "single":
        assert all(len(r["labels"]) == 1 for r in results)
        assert [labels.index(r["labels"][0]) for r in results] == list(predicted)
    else:
        chosen = np.array([[label in r["labels"] for label in labels] for r in results])
        np.testing.assert_array_equal(chosen, predicted.astype(bool))
        assert predicted.sum() > 0


def test_half_precision_weights_are_what_the_bundle_stores(variants: dict[str, Any]) -> None:
    assert variants["union"].classifier.coef_.dtype == np.float16
    scorer = Predictor.load(variants["paths"]["union"]).models["tfidf"]
    assert isinstance(scorer, Linear)
    assert scorer.coef.dtype == np.float16
    assert np.shares_memory(scorer.coef_t, scorer.coef)


@pytest.mark.parametrize("kind", ["fine", "single"])
def test_every_classifier_kind_reports_out_of_fold_scores(
    variants: dict[str, Any], kind: str
) -> None:
    from topics.evaluate.metrics import out_of_fold_score

    classifier = variants[kind].classifier
    n_labels = 4
    assert classifier.oof_proba_.shape[1] == n_labels
    train = variants["train_y"]
    score = out_of_fold_score(classifier, train, single_label=kind == "single")
    assert 0.5 < score <= 1.0
