from __future__ import annotations

from pathlib import Path

import numpy as np

from topics.evaluate.plots import label_cooccurrence, plot_label_confusion, plot_top_words


def test_cooccurrence_counts_none_row_and_column() -> None:
    y_true = np.array([[1, 0], [0, 0], [1, 1]])
    y_pred = np.array([[1, 0], [0, 1], [0, 0]])
    matrix = label_cooccurrence(y_true, y_pred, ["a", "b"])
    assert matrix.tolist() == [[1, 0, 1], [0, 0, 1], [0, 1, 0]]


def test_plots_are_written_as_png(tmp_path: Path) -> None:
    y = np.array([[1, 0], [0, 1], [1, 1]])
    confusion = plot_label_confusion(y, y, ["a", "b"], tmp_path / "c.png", title="t")
    words = plot_top_words(
        np.random.default_rng(0).random((5, 12)), list("abcdefghijkl"), tmp_path / "w.png"
    )
    for path in (confusion, words):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
