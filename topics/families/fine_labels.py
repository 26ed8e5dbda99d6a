"""Learn the source classes, predict the target labels.

When the labels come from a finer coding through ``data.label_map`` (nyt-cap: 28
CAP major topics -> four labels or none), the "none" side is a mix of very
different topics. :class:`FineLabelLinear` therefore learns both views and
stacks them, per target label ``j``:

- ``fine_j``: a one-vs-rest linear SVM over the source classes; the margin of the
  best class mapped to ``j`` over the best class that is not;
- ``direct_j``: a binary linear SVM for ``j`` itself;
- a logistic regression on ``(fine_j, direct_j)`` fit on cross-validated
  training scores gives the probability, and the F1-optimal threshold on those
  same scores decides.

The test split is never seen. Everything learned is arrays, so
:mod:`topics.serve.predictor` reproduces it with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from topics.errors import DataError
from topics.families.calibration import fit_threshold
from topics.kernels.linear import fine_margins, sigmoid, stacked_proba


class FineLabelLinear(ClassifierMixin, BaseEstimator):
    """Multi-label classifier trained on source classes mapped to target labels.

    Parameters
    ----------
    label_map : dict
        Source class -> target label name, or None for "no label".
    label_names : list of str
        The target labels, in output column order.
    C : float
        Inverse regularisation of both linear SVMs.
    class_weight : {"balanced"} or None
    cv_folds : int
        Folds for the cross-validated training scores.
    random_state : int
    n_jobs : int or None
        Cross-validation folds fitted at once, in worker processes (-1: every
        core). The result does not depend on it.
    """

    def __init__(
        self,
        label_map: dict[str, str | None] | None = None,
        label_names: Sequence[str] | None = None,
        C: float = 0.5,
        class_weight: str | None = "balanced",
        cv_folds: int = 5,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.label_map = label_map
        self.label_names = label_names
        self.C = C
        self.class_weight = class_weight
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _svm(self) -> LinearSVC:
        return LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state)

    def fit(self, X: Any, y: Any) -> FineLabelLinear:
        """Fit on ``y``: the source class of every document (1-D)."""
        if not self.label_map or not self.label_names:
            raise ValueError(
                "The 'label_map' and 'label_names' parameters of FineLabelLinear are required."
            )
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64)
        y = np.asarray(column_or_1d(y)).astype(str)
        self.classes_ = np.unique(y)
        names = list(self.label_names)
        groups = np.zeros((len(self.classes_), len(names)), dtype=int)
        for i, source in enumerate(self.classes_):
            target = self.label_map.get(str(source))
            if target is not None:
                groups[i, names.index(target)] = 1
        empty = [names[j] for j in range(len(names)) if groups[:, j].sum() in (0, len(groups))]
        if empty:
            raise DataError(
                f"labels {empty} have no source class, or all of them, in the training data; "
                "check label_map (source class -> label)"
            )
        Y = groups[np.searchsorted(self.classes_, y)]
        folds = StratifiedKFold(self.cv_folds, shuffle=True, random_state=self.random_state)
        fine = self._svm()
        fine_cv = fine_margins(
            cross_val_predict(
                clone(fine), X, y, cv=folds, method="decision_function", n_jobs=self.n_jobs
            ),
            groups,
        )
        fine.fit(X, y)
        n_labels = len(names)
        coef, intercept = np.zeros((n_labels, X.shape[1])), np.zeros(n_labels)
        stack_w, stack_b, thresholds = (
            np.zeros((n_labels, 2)),
            np.zeros(n_labels),
            np.zeros(n_labels),
        )
        oof = np.zeros(Y.shape)
        for j in range(n_labels):
            direct_cv = cross_val_predict(
                self._svm(), X, Y[:, j], cv=folds, method="decision_function", n_jobs=self.n_jobs
            )
            direct = self._svm().fit(X, Y[:, j])
            coef[j], intercept[j] = direct.coef_.ravel(), float(direct.intercept_[0])
            features = np.column_stack([fine_cv[:, j], direct_cv])
            stack = LogisticRegression(C=1e4, max_iter=1000).fit(features, Y[:, j])
            stack_w[j], stack_b[j] = stack.coef_.ravel(), float(stack.intercept_[0])
            oof[:, j] = sigmoid(features @ stack_w[j] + stack_b[j])
            thresholds[j] = fit_threshold(oof[:, j], Y[:, j])
        self.groups_ = groups
        self.fine_coef_ = fine.coef_.copy()
        self.fine_intercept_ = fine.intercept_.copy()
        self.coef_, self.intercept_ = coef, intercept
        self.stack_w_, self.stack_b_, self.thresholds_ = stack_w, stack_b, thresholds
        self.oof_proba_ = oof  # out-of-fold probabilities per label, as in MultiLabelLinear
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each target label, ``(n_docs, n_labels)``, independent."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=np.float64)
        fine = fine_margins(np.asarray(X @ self.fine_coef_.T) + self.fine_intercept_, self.groups_)
        direct = np.asarray(X @ self.coef_.T) + self.intercept_
        return stacked_proba(fine, direct, self.stack_w_, self.stack_b_)

    def predict(self, X: Any) -> np.ndarray:
        """0/1 matrix: every label whose probability reaches its tuned threshold."""
        return self.decide(self.predict_proba(X))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """What :meth:`predict` returns, from :meth:`predict_proba`'s output."""
        return (proba >= self.thresholds_).astype(int)
