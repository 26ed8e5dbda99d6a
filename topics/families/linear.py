"""Multi-label linear classifier with calibrated scores and tuned thresholds.

For every label, :class:`MultiLabelLinear`

1. scores the training documents by cross-validation (each document scored by a
   model that did not see it),
2. fits a sigmoid (Platt scaling) from those scores to probabilities (one per
   label, or one shared by every label),
3. picks the probability threshold that maximises F1 on them,
4. fits the linear model on the whole training split.

The sigmoids and cuts are fit by :mod:`topics.families.calibration`.

Everything it learns is plain arrays (``coef_``, ``intercept_``, ``platt_a_``,
``platt_b_``, ``thresholds_``), so :mod:`topics.serve.predictor` reproduces its scores
with numpy alone. The test split is never seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from topics.errors import DataError
from topics.families.calibration import f1_at, fit_threshold, platt_params
from topics.kernels.linear import platt_proba, sigmoid
from topics.progress import progress

COEF_DTYPES = ("float64", "float32", "float16")
CALIBRATIONS = ("per_label", "shared")


class MultiLabelLinear(ClassifierMixin, BaseEstimator):
    """One-vs-rest linear classifier with Platt-calibrated probabilities and
    per-label F1-optimal thresholds, both fit on cross-validated training scores.

    Parameters
    ----------
    classifier : {"linear_svc", "logreg"} or estimator
        The base linear model for each label: a name, or a binary estimator with
        ``decision_function`` and ``coef_`` / ``intercept_`` (cloned per label;
        ``C`` and ``class_weight`` then apply only to the named ones).
    C : float
        Inverse regularisation strength.
    class_weight : {"balanced"} or None
        Passed to the base model.
    cv_folds : int
        Folds used to score the training split for calibration and thresholds.
    random_state : int
        Seed for the fold shuffling and the base model.
    label_names : list of str or None
        Names for the columns of ``Y``; used in progress and error messages.
    threshold_min_positives : int
        Labels with fewer training positives keep the base model's own cut
        (score 0) instead of a tuned threshold: tuned on a handful of examples
        it overfits and costs precision (Reuters' rare categories).
    threshold_min_f1 : float
        SCut.FBR (Yang, 2001): a label whose tuned threshold reaches an
        out-of-fold F1 below this keeps the base model's own cut instead. A
        threshold that finds few positives is usually a low one that buys its
        recall with many false positives on new documents. 0 turns it off.
    n_jobs : int or None
        Labels fitted at once in worker processes (joblib; None: one, -1:
        every core). The result does not depend on it.
    nb_alpha : float or None
        Scale each label's columns by their Naive Bayes log-count ratio before
        its model is fit (:class:`NBScaled`, NBSVM), the counts smoothed by this;
        None: unscaled. The scaling folds into ``coef_``: scoring is unchanged.
    coef_dtype : {"float64", "float32", "float16"}
        The precision ``coef_`` is kept in once fit: rounded weights score (here
        and in a bundle) as stored, and a bundle's largest array shrinks 2-4x.
        Calibration and thresholds are fit on the unrounded models' scores.
    calibration : {"per_label", "shared"}
        One Platt sigmoid per label, or one fit on every label's out-of-fold
        scores together: the labels then rank as their margins do (single-label
        data: the class of the largest margin), where per-label sigmoids can
        reorder them. Thresholds are tuned on the calibrated scores either way.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.0], [0.0, 1.0], [0.1, 0.9], [0.0, 0.8]])
    >>> Y = np.array([[1], [1], [1], [0], [0], [0]])
    >>> MultiLabelLinear(cv_folds=3).fit(X, Y).predict(X).ravel().tolist()
    [1, 1, 1, 0, 0, 0]
    """

    def __init__(
        self,
        classifier: str | BaseEstimator = "linear_svc",
        C: float = 1.0,
        class_weight: str | None = "balanced",
        cv_folds: int = 5,
        random_state: int = 0,
        label_names: list[str] | None = None,
        threshold_min_positives: int = 2,
        threshold_min_f1: float = 0.0,
        n_jobs: int | None = None,
        nb_alpha: float | None = None,
        coef_dtype: str = "float64",
        calibration: str = "per_label",
    ) -> None:
        self.classifier = classifier
        self.C = C
        self.class_weight = class_weight
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.label_names = label_names
        self.threshold_min_positives = threshold_min_positives
        self.threshold_min_f1 = threshold_min_f1
        self.n_jobs = n_jobs
        self.nb_alpha = nb_alpha
        self.coef_dtype = coef_dtype
        self.calibration = calibration

    def _base(self) -> BaseEstimator:
        base = self._unscaled_base()
        return base if self.nb_alpha is None else NBScaled(base, alpha=self.nb_alpha)

    def _unscaled_base(self) -> BaseEstimator:
        if not isinstance(self.classifier, str):  # an estimator with decision_function, coef_
            return clone(self.classifier)
        if self.classifier == "linear_svc":
            return LinearSVC(
                C=self.C, class_weight=self.class_weight, random_state=self.random_state
            )
        if self.classifier == "logreg":
            return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=5000)
        raise ValueError(
            f"The 'classifier' parameter of MultiLabelLinear must be 'linear_svc', 'logreg' or "
            f"a binary linear estimator. Got {self.classifier!r} instead."
        )

    def fit(self, X: Any, y: Any) -> MultiLabelLinear:
        """Fit on ``y``: a 0/1 indicator matrix (multi-label) or 1-D class labels."""
        if self.coef_dtype not in COEF_DTYPES:
            raise ValueError(
                f"The 'coef_dtype' parameter of MultiLabelLinear must be one of "
                f"{', '.join(COEF_DTYPES)}. Got {self.coef_dtype!r} instead."
            )
        if self.calibration not in CALIBRATIONS:
            raise ValueError(
                f"The 'calibration' parameter of MultiLabelLinear must be one of "
                f"{', '.join(CALIBRATIONS)}. Got {self.calibration!r} instead."
            )
        X, y = validate_data(self, X, y, accept_sparse="csr", multi_output=True, dtype=np.float64)
        check_classification_targets(y)
        Y = self._encode_targets(np.asarray(y))
        n_labels = Y.shape[1]
        names = self.label_names or [str(c) for c in self.classes_]
        for j in range(n_labels):
            positives = int(Y[:, j].sum())
            if positives < 1 or positives > len(Y) - 1:
                raise DataError(
                    f"label '{names[j]}' has {positives} positive(s) among {len(Y)} training "
                    "documents; need at least 1 positive and 1 negative"
                )
        # Labels are independent. Worker processes, not threads: liblinear's random
        # state is global, so threads would make the result depend on scheduling.
        fitted = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(self._fit_label)(X, Y[:, j]) for j in range(n_labels)
        )
        base = self.classifier
        desc = f"fit {base if isinstance(base, str) else type(base).__name__}"
        columns = progress(fitted, desc=desc, unit="label", total=n_labels)
        coef, intercept, scores = zip(*columns, strict=True)
        self.coef_ = np.vstack(coef).astype(self.coef_dtype)
        self.intercept_ = np.array(intercept)
        # Out-of-fold scores of the training documents (in-sample for a label too
        # rare to cross-validate): how the model does on data it did not see,
        # measured without the test split. Calibration and thresholds are fit on them.
        self.oof_scores_ = np.column_stack(scores)
        return self.calibrate(Y)

    def calibrate(self, Y: np.ndarray) -> MultiLabelLinear:
        """Fit ``platt_a_``, ``platt_b_``, ``oof_proba_`` and ``thresholds_`` from
        ``oof_scores_`` and the 0/1 targets ``Y`` as ``calibration`` says: what
        :meth:`fit` ends with, and all a change of ``calibration`` needs."""
        self.platt_a_, self.platt_b_ = platt_params(self.oof_scores_, Y, self.calibration)
        self.oof_proba_ = platt_proba(self.oof_scores_, self.platt_a_, self.platt_b_)
        self.thresholds_ = np.array(
            [self._threshold(self.oof_proba_[:, j], Y[:, j], j) for j in range(Y.shape[1])]
        )
        return self

    def _threshold(self, oof: np.ndarray, y_j: np.ndarray, j: int) -> float:
        """Label ``j``'s cut: F1-optimal on its out-of-fold probabilities, else (too
        few positives, or an F1 under ``threshold_min_f1``) the probability at
        score 0, the model's own cut."""
        own = float(sigmoid(np.array(self.platt_b_[j])))
        positives = int(y_j.sum())
        if positives < 2 or positives > len(y_j) - 2 or positives < self.threshold_min_positives:
            return own
        tuned = fit_threshold(oof, y_j)
        return tuned if f1_at(oof, y_j, tuned) >= self.threshold_min_f1 else own

    def _fit_label(self, X: Any, y_j: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """One label: ``(coef, intercept, out-of-fold scores)``."""
        base = self._base()
        positives = int(y_j.sum())
        if positives < 2 or positives > len(y_j) - 2:
            # Too few to cross-validate (Reuters has single-example categories):
            # the model's own scores, calibrated to sigmoid(score) (platt_params).
            model = clone(base).fit(X, y_j)
            coef, intercept = model.coef_.ravel(), float(np.ravel(model.intercept_)[0])
            return coef, intercept, np.asarray(X @ coef).ravel() + intercept
        folds = StratifiedKFold(
            n_splits=min(self.cv_folds, positives, len(y_j) - positives),
            shuffle=True,
            random_state=self.random_state,
        )
        scores = cross_val_predict(clone(base), X, y_j, cv=folds, method="decision_function")
        model = clone(base).fit(X, y_j)
        return model.coef_.ravel(), float(np.ravel(model.intercept_)[0]), scores

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        """Set ``target_type_`` and ``classes_``; return one 0/1 column per scored label."""
        self.target_type_ = type_of_target(y)
        if self.target_type_ == "multilabel-indicator":
            self.classes_ = np.arange(y.shape[1])
            return y.astype(int)
        y = column_or_1d(y, warn=True)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "MultiLabelLinear needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {self.classes_[0]!r}"
            )
        one_hot = np.eye(len(self.classes_), dtype=int)[encoded]
        return one_hot[:, 1:] if len(self.classes_) == 2 else one_hot

    def _margins(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=np.float64)
        return np.asarray(X @ self.coef_.T.astype(np.float64, copy=False)) + self.intercept_

    def _label_proba(self, X: Any) -> np.ndarray:
        """Calibrated probability of each scored label column, ``(n_samples, n_columns)``."""
        return platt_proba(self._margins(X), self.platt_a_, self.platt_b_)

    def decision_function(self, X: Any) -> np.ndarray:
        """Calibrated log-odds, shifted by the tuned threshold where one applies:
        positive exactly when the label (binary: the positive class) is predicted.
        Multiclass: the calibrated log-odds of each class."""
        margins = self._margins(X)  # checks the model is fitted first
        logits = self.platt_a_ * margins + self.platt_b_
        if self.target_type_ == "multiclass":
            return logits
        shifted = logits - np.log(self.thresholds_ / (1.0 - self.thresholds_))
        return shifted.ravel() if self.target_type_ == "binary" else shifted

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities: per label for multi-label targets (each in
        [0, 1], independent); per class, rows summing to 1, for 1-D targets."""
        proba = self._label_proba(X)
        if self.target_type_ == "binary":
            return np.column_stack([1.0 - proba[:, 0], proba[:, 0]])
        if self.target_type_ == "multiclass":
            return proba / proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Multi-label: every label over its threshold. Binary: the positive class
        over its threshold. Multiclass: the most probable class."""
        return self.decide(self.predict_proba(X))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """What :meth:`predict` returns, from :meth:`predict_proba`'s output."""
        check_is_fitted(self, "thresholds_")
        if self.target_type_ == "multilabel-indicator":
            return (proba >= self.thresholds_).astype(int)
        if self.target_type_ == "binary":
            return self.classes_[(proba[:, 1] >= self.thresholds_[0]).astype(int)]
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags


class NBScaled(ClassifierMixin, BaseEstimator):
    """A binary linear model fit on columns scaled by their Naive Bayes log-count
    ratio (NBSVM: Wang and Manning, 2012, "Baselines and bigrams").

    ``r = log((p / |p|_1) / (q / |q|_1))``, where ``p`` and ``q`` count the positive
    and the negative documents in which each column is non-zero, plus ``alpha``. A
    column that tells the classes apart is scaled up and costs the model less
    regularisation than one that does not. ``coef_`` is the model's weights times
    ``r``, so ``X @ coef_.T + intercept_`` scores unscaled columns: a scorer of
    plain linear models needs nothing new.

    Parameters
    ----------
    estimator : estimator
        A binary linear model with ``coef_`` and ``intercept_`` (cloned).
    alpha : float
        Smoothing of the counts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import LinearSVC
    >>> X = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    >>> NBScaled(LinearSVC()).fit(X, [1, 1, 0, 0]).predict(X).tolist()
    [1, 1, 0, 0]
    """

    def __init__(self, estimator: BaseEstimator | None = None, alpha: float = 1.0) -> None:
        self.estimator = estimator
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> NBScaled:
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"NBScaled needs two classes, got {len(self.classes_)}")
        positive = y == self.classes_[1]
        if sp.issparse(X):  # not X != 0: that sorts X's indices in place, and a worker
            present = X.copy()  # process may hold X as a read-only memmap
            present.data = (present.data != 0).astype(np.float64)
        else:
            present = (X != 0) * 1.0
        p = self.alpha + np.asarray(present[positive].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(present[~positive].sum(axis=0)).ravel()
        self.ratio_ = np.log((p / p.sum()) / (q / q.sum()))
        scaled = X.multiply(self.ratio_).tocsr() if sp.issparse(X) else X * self.ratio_
        base = LinearSVC() if self.estimator is None else self.estimator
        self.estimator_ = clone(base).fit(scaled, y)
        self.coef_ = np.atleast_2d(self.estimator_.coef_) * self.ratio_
        self.intercept_ = np.ravel(self.estimator_.intercept_)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=np.float64)
        return np.asarray(X @ self.coef_.T).ravel() + self.intercept_[0]

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
