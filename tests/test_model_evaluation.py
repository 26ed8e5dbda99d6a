"""Scoring a bundle for ``topics evaluate``: every model, chunk by chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from topics.evaluate import model_evaluation
from topics.serve.predictor import Predictor


def test_scores_in_chunks_are_each_models_predict_proba(
    quickstart_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, result = quickstart_run
    predictor = Predictor.load(result.artifact_dir / "model")
    texts = [f"Rail cargo and troops at the border, report {i}" for i in range(7)]
    texts += ["Inflation and the budget", ""]
    monkeypatch.setattr(model_evaluation, "CHUNK", 4)  # three chunks, the last short
    scored = model_evaluation.score_models(predictor, texts)
    assert set(scored) == set(predictor.models)
    for name, proba in scored.items():
        # equal up to float summation order: BLAS may block a chunk's products
        # differently from the whole batch's
        np.testing.assert_allclose(
            proba, predictor.predict_proba(texts, model=name), rtol=1e-12, atol=1e-15
        )


def test_truth_of_the_wrong_shape_is_refused(quickstart_run: Any, tmp_path: Path) -> None:
    _, result = quickstart_run
    predictor = Predictor.load(result.artifact_dir / "model")
    with pytest.raises(ValueError, match=r"y_true must have shape \(2, 4\)"):
        model_evaluation.evaluate_bundle(
            predictor, ["a", "b"], ["x", "y"], np.zeros((2, 3)), tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()
