"""k-fold cross-validation for small datasets (``data.split.kind: kfold``).

Every document is predicted once by a model that did not see it; the metrics
are computed on those pooled out-of-fold predictions (``cv_micro_f1``,
``cv_macro_f1``, ``cv_f1_<label>`` ... and ``cv_accuracy`` for single-label data).
"""

from __future__ import annotations

import numpy as np

from topics.config import ExperimentConfig
from topics.data.corpus import Corpus
from topics.data.splits import fold_indices
from topics.evaluate.metrics import as_indicator, multilabel_metrics, single_label_metrics
from topics.families.base import TrainingData
from topics.run.build import fit_family


def cross_validate(
    config: ExperimentConfig, corpus: Corpus, name: str = "tfidf"
) -> dict[str, float]:
    """Pooled out-of-fold metrics of family ``name`` over ``data.split.folds`` folds."""
    labels = list(corpus.label_names)
    y_true = corpus.label_matrix()
    y_pred = np.zeros_like(y_true)
    folds = fold_indices(corpus, folds=config.data.split.folds, seed=config.split_seed())
    for train_idx, test_idx in folds:
        train = TrainingData.from_corpus(corpus.subset(train_idx))
        model = fit_family(config, name, train, labels)
        predicted = model.predict([corpus.texts[i] for i in test_idx])
        y_pred[test_idx] = as_indicator(predicted, len(labels))
    metrics = multilabel_metrics(y_true, y_pred, labels, prefix="cv_")
    if config.data.single_label:
        metrics.update(single_label_metrics(y_true, y_pred, prefix="cv_"))
    return metrics
