from __future__ import annotations

import numpy as np
import pytest

from topics.evaluate.metrics import multilabel_metrics, per_label_rows, slug

Y_TRUE = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
Y_PRED = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])


def test_metric_keys_and_values() -> None:
    metrics = multilabel_metrics(Y_TRUE, Y_PRED, ["economy", "human rights"])
    # economy: tp 2, fp 0, fn 0; human rights: tp 1, fp 1, fn 1
    assert metrics["test_f1_economy"] == 1.0
    assert metrics["test_f1_human_rights"] == pytest.approx(0.5)
    assert metrics["test_macro_f1"] == pytest.approx(0.75)
    assert metrics["test_micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert metrics["test_subset_accuracy"] == pytest.approx(0.5)


def test_per_label_rows() -> None:
    rows = per_label_rows(Y_TRUE, Y_PRED, ["economy", "human rights"])
    assert rows[1] == {
        "label": "human rights",
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "support": 2,
    }


def test_slug() -> None:
    assert slug(" Human Rights ") == "human_rights"
    assert slug("Banking/Finance") == "banking_finance"


def test_confident_errors_rank_wrong_documents_by_confidence() -> None:
    from topics.evaluate.metrics import confident_errors

    y_true = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    y_pred = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    scores = np.array([[0.9, 0.1], [0.95, 0.2], [0.3, 0.1], [0.2, 0.6]])
    rows = confident_errors(["a", "b", "c", "d"], ["ta", "tb", "tc", "td"], y_true, y_pred,
                            scores, ["economy", "defense"], n=2)  # fmt: skip
    assert [r["id"] for r in rows] == ["b", "c"]  # 0.95 wrongly in, then 1 - 0.3 missed
    assert rows[0]["true"] == "defense" and rows[0]["predicted"] == "economy"
    assert rows[1]["predicted"] == "(none)"


def test_single_label_predictions_become_one_hot_and_accuracy() -> None:
    from topics.evaluate.metrics import as_indicator, single_label_metrics

    y_pred = as_indicator(np.array([0, 2, 1]), 3)
    assert y_pred.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    y_true = as_indicator(np.array([0, 2, 2]), 3)
    assert single_label_metrics(y_true, y_pred)["test_accuracy"] == pytest.approx(2 / 3)
