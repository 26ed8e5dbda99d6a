from __future__ import annotations

from pathlib import Path

import numpy as np

from topics.evaluate.plots import label_confusion, plot_label_confusion, plot_top_words


def test_multi_label_confusion_is_per_label_and_a_right_answer_is_on_the_diagonal() -> None:
    # the third document has both labels and both are predicted: right twice, wrong nowhere
    y_true = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    y_pred = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    matrices = label_confusion(y_true, y_pred)
    # [[tn, fp], [fn, tp]] per label
    assert matrices.tolist() == [[[2, 0], [0, 2]], [[1, 1], [1, 1]]]
    perfect = label_confusion(y_true, y_true)
    assert all(m[0, 1] == m[1, 0] == 0 for m in perfect)  # nothing off the diagonal


def test_plots_are_written_as_png(tmp_path: Path) -> None:
    y = np.array([[1, 0], [0, 1], [1, 1]])
    confusion = plot_label_confusion(y, y, ["a", "b"], tmp_path / "c.png", title="t")
    words = plot_top_words(
        np.random.default_rng(0).random((5, 12)), list("abcdefghijkl"), tmp_path / "w.png"
    )
    for path in (confusion, words):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
