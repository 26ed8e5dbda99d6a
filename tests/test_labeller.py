from __future__ import annotations

import numpy as np

from topics.families.lda.labeller import label_by_topics, seeded_columns, tune_thresholds


def test_labels_follow_seeded_topic_weights() -> None:
    columns = seeded_columns(["economy", "defense", "topic 2"], ["economy", "defense", "transport"])
    assert columns == [0, 1, None]
    theta = np.array([[0.6, 0.1, 0.3], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]])
    y = label_by_topics(theta, columns, 0.3)
    np.testing.assert_array_equal(y, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_tuned_threshold_maximises_f1() -> None:
    theta = np.array([[0.9, 0.1], [0.4, 0.6], [0.35, 0.65], [0.1, 0.9]])
    y = np.array([[1], [1], [1], [0]])
    (threshold,) = tune_thresholds(theta, y, [0], default=0.5)
    assert threshold == 0.35
    np.testing.assert_array_equal(label_by_topics(theta, [0], [threshold]), y)
