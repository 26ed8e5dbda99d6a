from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from topics.errors import DataError
from topics.families.calibration import f1_at, fit_threshold
from topics.families.linear import MultiLabelLinear, NBScaled, sigmoid

# Checks that contradict a documented design choice, with the reason.
EXPECTED_FAILED = {
    "check_classifiers_train": "binary predict applies the F1-tuned threshold, not argmax at 0.5",
    "check_class_weight_classifiers": "class_weight applies to each one-vs-rest column",
}


@parametrize_with_checks(
    [MultiLabelLinear(cv_folds=2), MultiLabelLinear(cv_folds=2, nb_alpha=1.0)],
    expected_failed_checks=lambda estimator: (
        EXPECTED_FAILED
        | (
            {"check_classifier_multioutput": "predict applies the F1-tuned cuts, not 0.5"}
            if estimator.nb_alpha  # the plain model's tuned cuts happen to agree with 0.5 there
            else {}
        )
    ),
)
def test_sklearn_estimator_contract(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def separable_multilabel(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, 2, size=(120, 3))
    X = Y * 2.0 + rng.normal(scale=0.4, size=Y.shape)
    return np.hstack([X, rng.normal(size=(120, 2))]), Y


@pytest.mark.parametrize("classifier", ["linear_svc", "logreg"])
def test_multilabel_fit_predict(classifier: str) -> None:
    X, Y = separable_multilabel()
    model = MultiLabelLinear(classifier=classifier, cv_folds=3).fit(X, Y)
    proba = model.predict_proba(X)
    assert proba.shape == Y.shape
    assert ((proba >= 0) & (proba <= 1)).all()
    assert (model.predict(X) == Y).mean() > 0.95
    assert model.coef_.shape == (3, 5) and model.thresholds_.shape == (3,)
    assert ((model.decision_function(X) > 0) == (model.predict(X) == 1)).all()


def test_nb_scaling_weighs_columns_by_how_well_they_split_the_classes() -> None:
    # column 0: in every positive only; 1: in every document; 2: in negatives only
    X = sparse.csr_matrix([[1, 1, 0], [1, 1, 0], [1, 1, 0], [0, 1, 1], [0, 1, 1], [0, 1, 1.0]])
    y = np.array([1, 1, 1, 0, 0, 0])
    model = NBScaled(LinearSVC(random_state=0), alpha=1.0).fit(X, y)
    np.testing.assert_allclose(model.ratio_, [np.log(4), 0.0, -np.log(4)])
    # the scaling folds into coef_: unscaled columns score as the scaled fit does
    scaled = X.multiply(model.ratio_).tocsr()
    np.testing.assert_allclose(
        model.decision_function(X), model.estimator_.decision_function(scaled)
    )
    assert model.predict(X).tolist() == y.tolist()


def test_nb_scaling_reads_a_read_only_matrix_with_unsorted_indices() -> None:
    # what a joblib worker process gets: a memmap it may not write, as TF-IDF left it
    X = sparse.csr_matrix(
        (np.array([1.0, 2.0, 1.0, 3.0]), np.array([2, 0, 1, 0]), np.array([0, 2, 3, 4])),
        shape=(3, 3),
    )
    assert not X.has_sorted_indices
    for array in (X.data, X.indices, X.indptr):
        array.flags.writeable = False
    model = NBScaled(LinearSVC(random_state=0)).fit(X, np.array([1, 0, 1]))
    assert model.coef_.shape == (1, 3)


def test_nb_scaled_model_keeps_the_plain_state_the_bundle_scores() -> None:
    # term counts: each label's own term in 90% of its documents, four noise terms
    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, size=(120, 3))
    own = Y * (rng.random(Y.shape) < 0.9)
    X = sparse.csr_matrix(np.hstack([own, rng.random((120, 4)) < 0.3]).astype(float))
    model = MultiLabelLinear(cv_folds=3, nb_alpha=1.0).fit(X, Y)
    plain = MultiLabelLinear(cv_folds=3).fit(X, Y)
    assert model.coef_.shape == plain.coef_.shape
    assert not np.allclose(model.coef_, plain.coef_)
    margins = X @ model.coef_.T + model.intercept_
    np.testing.assert_allclose(
        model.predict_proba(X), 1 / (1 + np.exp(-(model.platt_a_ * margins + model.platt_b_)))
    )
    assert (model.predict(X) == Y).mean() > 0.9


def test_weights_kept_in_half_precision_score_as_stored() -> None:
    X, Y = separable_multilabel()
    model = MultiLabelLinear(cv_folds=3, coef_dtype="float16").fit(X, Y)
    full = MultiLabelLinear(cv_folds=3).fit(X, Y)
    assert model.coef_.dtype == np.float16
    np.testing.assert_array_equal(model.coef_, full.coef_.astype(np.float16))
    assert not np.array_equal(model.coef_.astype(np.float64), full.coef_)  # rounded
    margins = X @ model.coef_.astype(np.float64).T + model.intercept_
    np.testing.assert_allclose(
        model.predict_proba(X), sigmoid(model.platt_a_ * margins + model.platt_b_)
    )
    with pytest.raises(ValueError, match="coef_dtype.*float64, float32, float16"):
        MultiLabelLinear(coef_dtype="int8").fit(X, Y)


def test_shared_calibration_ranks_the_classes_as_their_margins() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, size=300)
    X = np.eye(4)[y] * rng.uniform(0.5, 2.0, size=4) + rng.normal(scale=0.9, size=(300, 4))
    shared = MultiLabelLinear(cv_folds=3, calibration="shared").fit(X, y)
    per_label = MultiLabelLinear(cv_folds=3).fit(X, y)
    np.testing.assert_array_equal(shared.coef_, per_label.coef_)  # the same models
    assert np.ptp(shared.platt_a_) == 0 and np.ptp(shared.platt_b_) == 0
    assert np.ptp(per_label.platt_a_) > 0
    margins = X @ shared.coef_.T + shared.intercept_
    np.testing.assert_array_equal(shared.predict(X), margins.argmax(axis=1))
    np.testing.assert_allclose(shared.predict_proba(X).sum(axis=1), 1.0)


def test_shared_calibration_still_tunes_each_labels_threshold() -> None:
    X, Y = separable_multilabel()
    model = MultiLabelLinear(cv_folds=3, calibration="shared").fit(X, Y)
    margins = X @ model.coef_.T + model.intercept_
    np.testing.assert_allclose(
        model.predict_proba(X), sigmoid(model.platt_a_[0] * margins + model.platt_b_[0])
    )
    own_cut = sigmoid(np.array(model.platt_b_[0]))
    assert not np.allclose(model.thresholds_, own_cut)  # tuned, each its own
    assert (model.predict(X) == Y).mean() > 0.9
    with pytest.raises(ValueError, match="calibration.*per_label, shared"):
        MultiLabelLinear(calibration="isotonic").fit(X, Y)


def test_sparse_input_matches_dense() -> None:
    X, Y = separable_multilabel()
    dense = MultiLabelLinear(cv_folds=3).fit(X, Y).predict_proba(X)
    sparse_proba = MultiLabelLinear(cv_folds=3).fit(sparse.csr_matrix(X), Y).predict_proba(X)
    np.testing.assert_allclose(dense, sparse_proba, atol=1e-6)


def test_multiclass_probabilities_sum_to_one() -> None:
    X, Y = separable_multilabel()
    y = np.array(["a", "b", "c"])[np.argmax(Y * np.arange(1, 4), axis=1)]
    model = MultiLabelLinear(cv_folds=3).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)
    assert set(model.predict(X)) <= {"a", "b", "c"}


def test_label_without_positives_is_refused() -> None:
    X, Y = separable_multilabel()
    Y[:, 1] = 0
    with pytest.raises(DataError, match="label 'defense' has 0 positive"):
        MultiLabelLinear(cv_folds=3, label_names=["economy", "defense", "transport"]).fit(X, Y)


def test_label_with_one_positive_uses_the_svm_margin() -> None:
    # Reuters ModApte has categories with a single training document.
    X, Y = separable_multilabel()
    Y[:, 1] = 0
    Y[0, 1] = 1
    model = MultiLabelLinear(cv_folds=3).fit(X, Y)
    assert model.thresholds_[1] == 0.5 and model.platt_a_[1] == 1.0
    assert model.predict(X)[0, 1] == int(model.decision_function(X)[0, 1] >= 0)


def test_fit_threshold_maximises_f1() -> None:
    proba = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0])
    threshold = fit_threshold(proba, y)
    assert 0.3 < threshold < 0.4  # keeps the top four: F1 = 6/7, the best cut


def test_sigmoid_is_stable_for_large_inputs() -> None:
    values = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0])


def test_rare_labels_keep_the_models_own_cut() -> None:
    X, Y = separable_multilabel()
    model = MultiLabelLinear(cv_folds=3, threshold_min_positives=10_000).fit(X, Y)
    # Every label is "rare": predicted exactly when the raw margin is >= 0.
    np.testing.assert_allclose(model.thresholds_, sigmoid(model.platt_b_))
    raw = np.asarray(X @ model.coef_.T) + model.intercept_
    np.testing.assert_array_equal(model.predict(X), (raw >= 0).astype(int))


def test_labels_whose_tuned_threshold_scores_poorly_keep_the_models_own_cut() -> None:
    X, Y = separable_multilabel()
    rng = np.random.default_rng(3)
    Y[:, 2] = (rng.random(len(Y)) < 0.2).astype(int)  # rare and unpredictable
    plain = MultiLabelLinear(cv_folds=3).fit(X, Y)
    fbr = MultiLabelLinear(cv_folds=3, threshold_min_f1=0.6).fit(X, Y)
    own_cut = sigmoid(fbr.platt_b_)
    # The learnable labels reach F1 ~1 out of fold and keep their tuned thresholds.
    np.testing.assert_allclose(fbr.thresholds_[:2], plain.thresholds_[:2])
    assert f1_at(plain.oof_proba_[:, 2], Y[:, 2], plain.thresholds_[2]) < 0.6
    assert fbr.thresholds_[2] == pytest.approx(own_cut[2])
    assert plain.thresholds_[2] != pytest.approx(own_cut[2])


def test_f1_at_counts_predictions_at_or_above_the_threshold() -> None:
    proba = np.array([0.9, 0.6, 0.4, 0.1])
    y = np.array([1, 0, 1, 0])
    assert f1_at(proba, y, 0.5) == pytest.approx(0.5)  # tp 1, fp 1, fn 1
    assert f1_at(proba, y, 0.4) == pytest.approx(0.8)  # tp 2, fp 1
    assert f1_at(proba, np.zeros(4, dtype=int), 0.95) == 0.0


def test_out_of_fold_probabilities_come_from_unseen_folds() -> None:
    X, Y = separable_multilabel()
    Y[:, 2] = np.random.default_rng(1).integers(0, 2, size=len(Y))  # a label with no signal
    model = MultiLabelLinear(cv_folds=3).fit(X, Y)
    assert model.oof_proba_.shape == Y.shape
    in_sample = model.predict_proba(X)
    # Learnable labels are predicted out of fold about as well as in sample...
    assert ((model.oof_proba_[:, 0] >= 0.5) == Y[:, 0]).mean() > 0.9
    # ...while the noise label is not: out-of-fold is worse than the memorised fit.
    oof_acc = ((model.oof_proba_[:, 2] >= 0.5) == Y[:, 2]).mean()
    in_acc = ((in_sample[:, 2] >= 0.5) == Y[:, 2]).mean()
    assert oof_acc < in_acc


def test_labels_fitted_in_parallel_give_the_same_model() -> None:
    X, Y = separable_multilabel()
    serial = MultiLabelLinear(cv_folds=3).fit(X, Y)
    parallel = MultiLabelLinear(cv_folds=3, n_jobs=2).fit(X, Y)
    for name in ("coef_", "intercept_", "platt_a_", "platt_b_", "thresholds_", "oof_proba_"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))
