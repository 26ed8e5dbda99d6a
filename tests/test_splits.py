from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO
from topics.config import SplitConfig
from topics.data.corpus import Corpus
from topics.data.splits import (
    describe,
    draw_train_sample,
    fold_indices,
    split_field,
    split_indices,
)
from topics.errors import DataError

LABELS = ("economy", "defense", "human rights", "transport")


def corpus(n: int = 80, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    labels = []
    for i in range(n):
        chosen = tuple(label for label in LABELS if rng.random() < 0.3)
        labels.append(chosen or (LABELS[i % 4],))
    labels[0] = ("transport",)  # a rare label with two carriers only
    labels[1] = ("transport",)
    return Corpus(
        ids=[str(i) for i in range(n)],
        texts=[f"doc {i}" for i in range(n)],
        labels=labels,
        label_names=LABELS,
        meta={
            "year": [1996 + i % 11 for i in range(n)],
            "split": ["test" if i % 5 == 0 else "train" for i in range(n)],
        },
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "random", "test_size": 0.25},
        {"kind": "predefined"},
        {"kind": "temporal", "train_until": 2003},
        {"kind": "kfold", "folds": 4},
    ],
    ids=["random", "predefined", "temporal", "kfold"],
)
def test_no_document_on_both_sides(kwargs: dict[str, object]) -> None:
    data = corpus()
    train, test = split_indices(data, **kwargs, seed=3)  # type: ignore[arg-type]
    assert set(train).isdisjoint(test)
    assert len(train) + len(test) == len(data)


def test_temporal_boundary_is_inclusive() -> None:
    data = corpus()
    train, test = split_indices(data, kind="temporal", train_until=2003)
    years = np.array(data.meta["year"])
    assert years[train].max() == 2003 and years[test].min() == 2004


def test_temporal_split_with_nothing_after_the_boundary_is_an_error() -> None:
    with pytest.raises(DataError, match="0 test documents"):
        split_indices(corpus(), kind="temporal", train_until=2020)


def test_temporal_needs_a_boundary() -> None:
    with pytest.raises(ValueError, match="train_until"):
        SplitConfig(kind="temporal")
    with pytest.raises(ValueError, match="The 'train_until' parameter of split_indices"):
        split_indices(corpus(), kind="temporal")


def test_unknown_kind_names_the_parameter() -> None:
    with pytest.raises(ValueError, match="The 'kind' parameter of split_indices"):
        split_indices(corpus(), kind="stratified")


@pytest.mark.parametrize(
    ("kind", "field", "expected"),
    [
        ("predefined", None, "split"),
        ("temporal", None, "year"),
        ("temporal", "published", "published"),
        ("random", "year", None),
        ("kfold", None, None),
    ],
    ids=["predefined-default", "temporal-default", "temporal-named", "random", "kfold"],
)
def test_split_field_is_the_column_the_split_reads(
    kind: str, field: str | None, expected: str | None
) -> None:
    assert split_field(kind, field) == expected


def test_describe_names_the_split() -> None:
    assert describe("temporal", train_until=2003) == "temporal: year <= 2003 trains"
    assert describe("random", test_size=0.3) == "random stratified, test_size=0.3"
    assert describe("kfold", folds=4) == "4-fold stratified cross-validation"
    assert describe("predefined", field="part") == "predefined (part)"


def test_predefined_follows_the_split_column() -> None:
    data = corpus()
    train, test = split_indices(data, kind="predefined")
    assert all(data.meta["split"][i] == "test" for i in test)
    assert list(test) == list(range(0, 80, 5))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_stratification_keeps_every_label_in_train(seed: int) -> None:
    data = corpus(seed=seed)
    train, test = split_indices(data, kind="random", test_size=0.3, seed=seed)
    matrix = data.label_matrix()
    assert (matrix[train].sum(axis=0) > 0).all()
    share = matrix[test].sum(axis=0) / matrix.sum(axis=0)
    assert np.all(np.abs(share - 0.3) < 0.25)


def test_random_split_is_reproducible_with_its_seed() -> None:
    data = corpus()
    first = split_indices(data, test_size=0.25, seed=7)
    again = split_indices(data, test_size=0.25, seed=7)
    other = split_indices(data, test_size=0.25, seed=8)
    assert np.array_equal(first[1], again[1]) and not np.array_equal(first[1], other[1])


def test_kfold_tests_every_document_exactly_once() -> None:
    data = corpus()
    folds = list(fold_indices(data, folds=4, seed=0))
    assert len(folds) == 4
    tested = np.concatenate([test for _train, test in folds])
    assert sorted(tested.tolist()) == list(range(len(data)))
    matrix = data.label_matrix()
    for train, _test in folds:
        assert (matrix[train].sum(axis=0) > 0).all()


def test_kfold_experiment_reports_pooled_cv_metrics(tmp_path: Path) -> None:
    from tests.conftest import RecordingTracker
    from topics.config import load_config
    from topics.run.experiment import run

    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [
            "model.lda.enabled=false",
            "data.split.kind=kfold",
            "data.split.folds=3",
            "model.tfidf.cv_folds=2",
            f"output_dir={tmp_path}",
            "cache_dir=null",
        ],
    )
    metrics = run(config, RecordingTracker()).metrics
    assert 0.5 < metrics["cv_micro_f1"] <= 1.0
    assert {"cv_macro_f1", "cv_f1_transport", "test_micro_f1"} <= set(metrics)


def test_join_parts_marks_each_file_and_keeps_ids_unique() -> None:
    from topics.data.splits import join_parts, validation_indices

    def part(ids: list[str]) -> Corpus:
        return Corpus(
            ids=ids, texts=ids, labels=[("economy",)] * len(ids), label_names=("economy",)
        )

    joined = join_parts({"train": part(["0", "1"]), "test": part(["0"]), "validation": part(["9"])})
    assert joined.ids == ["0", "1", "test/0", "validation/9"]
    assert joined.meta["split"] == ["train", "train", "test", "validation"]
    train, test = split_indices(joined, kind="predefined")
    assert train.tolist() == [0, 1] and test.tolist() == [2]  # validation: neither side
    assert validation_indices(joined).tolist() == [3]


def test_test_path_gives_a_predefined_split_from_separate_files(tmp_path: Path) -> None:
    from tests.conftest import tiny_config, write_tiny_jsonl
    from topics.config import validate_config
    from topics.errors import ConfigError
    from topics.run.prepare import prepare

    test_file = write_tiny_jsonl(tmp_path / "test.jsonl", copies=1)
    validation_file = write_tiny_jsonl(tmp_path / "validation.jsonl", copies=1)
    raw = tiny_config(tmp_path)
    train_file = Path(raw["data"]["path"])
    raw["data"] |= {"test_path": str(test_file), "validation_path": str(validation_file)}
    config = validate_config(raw)
    assert config.data.split.kind == "predefined"  # implied by test_path
    prepared = prepare(config)
    n_train = sum(1 for _ in train_file.open())
    n_test = sum(1 for _ in test_file.open())
    assert len(prepared.train) == n_train and len(prepared.test) == n_test
    expected = ["News. " + json.loads(line)["text"] for line in test_file.open()]
    assert prepared.test.texts == expected
    assert prepared.validation is not None and len(prepared.validation) == n_test
    assert set(prepared.train.ids).isdisjoint(prepared.test.ids)
    with pytest.raises(ConfigError, match="split.kind must be predefined"):
        validate_config({**raw, "data": {**raw["data"], "split": {"kind": "random"}}})
    without_test = {k: v for k, v in raw["data"].items() if k != "test_path"}
    with pytest.raises(ConfigError, match="validation_path needs test_path"):
        validate_config({**raw, "data": without_test})


def test_validation_path_documents_score_the_sweep_val_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import topics.run.sweep
    from tests.conftest import tiny_config, write_tiny_jsonl
    from topics.config import validate_config
    from topics.run.sweep import expand_trials, run_trial

    raw = tiny_config(
        tmp_path, model={"lda": {"enabled": False}}, sweep={"grid": {"model.tfidf.C": [0.5]}}
    )
    raw["data"] |= {
        "test_path": str(write_tiny_jsonl(tmp_path / "test.jsonl", copies=1)),
        "validation_path": str(write_tiny_jsonl(tmp_path / "validation.jsonl", copies=2)),
    }
    scored_on: list[tuple[int, list[str]]] = []
    real = topics.run.sweep.train_and_evaluate

    def recording(config: Any, train: Corpus, test: Corpus, *rest: Any) -> Any:
        scored_on.append((len(train), test.ids))
        return real(config, train, test, *rest)

    monkeypatch.setattr(topics.run.sweep, "train_and_evaluate", recording)
    result = run_trial(expand_trials(validate_config(raw))[0], validation_size=0.25)
    assert result.error is None and "val_micro_f1" in result.metrics
    (fit_size, validation_ids), (train_size, test_ids) = scored_on
    assert fit_size == train_size  # all of train fits; the validation file scores
    assert all(i.startswith("validation/") for i in validation_ids)
    assert len(validation_ids) == 2 * len(test_ids)


def sample_matrix() -> np.ndarray:
    """60 documents: 20 economy, 15 defense (5 of them also economy), 10 human
    rights, 5 transport, 15 with no label."""
    y = np.zeros((60, 4), dtype=int)
    y[0:20, 0] = 1
    y[15:30, 1] = 1
    y[30:40, 2] = 1
    y[40:45, 3] = 1
    return y


def test_train_sample_draws_exact_counts_per_label_and_none() -> None:
    y = sample_matrix()
    drawn = draw_train_sample(y, LABELS, per_label=4, none=3, seed=0)
    assert {name: len(docs) for name, docs in drawn.groups.items()} == {
        "economy": 4,
        "defense": 4,
        "human rights": 4,
        "transport": 4,
        "none": 3,
    }
    assert len(drawn.indices) == 19 == len(set(drawn.indices.tolist()))
    for j, label in enumerate(LABELS):
        assert y[drawn.groups[label], j].all()  # drawn for a label: carries it
    assert not y[drawn.groups["none"]].any()
    assert drawn.short == []


def test_train_sample_is_deterministic_by_seed_and_seeds_differ() -> None:
    y = sample_matrix()
    first = draw_train_sample(y, LABELS, per_label=3, none=3, seed=7)
    again = draw_train_sample(y, LABELS, per_label=3, none=3, seed=7)
    other = draw_train_sample(y, LABELS, per_label=3, none=3, seed=8)
    assert first.indices.tolist() == again.indices.tolist()
    assert first.indices.tolist() != other.indices.tolist()


def test_train_sample_draws_without_replacement_across_labels() -> None:
    # defense: 15 carriers, 5 shared with economy; economy drawn first takes all 20
    y = sample_matrix()
    drawn = draw_train_sample(y, LABELS, per_label=20, none=0, seed=0)
    assert len(drawn.groups["economy"]) == 20
    assert len(drawn.groups["defense"]) == 10  # the 5 shared ones went to economy
    assert ("defense", 10, 20) in drawn.short
    assert len(set(drawn.indices.tolist())) == len(drawn.indices)


def test_train_sample_short_label_takes_all_and_is_listed() -> None:
    drawn = draw_train_sample(sample_matrix(), LABELS, per_label=8, none=20, seed=0)
    assert len(drawn.groups["transport"]) == 5
    assert drawn.short == [("transport", 5, 8), ("none", 15, 20)]


def test_train_sample_of_zero_draws_nothing() -> None:
    drawn = draw_train_sample(sample_matrix(), LABELS, per_label=0, none=0, seed=0)
    assert len(drawn.indices) == 0 and drawn.short == []
