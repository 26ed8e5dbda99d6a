from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB

from tests.conftest import REPO
from topics.config import load_config
from topics.errors import ConfigError
from topics.families.base import TrainingData
from topics.families.complement_nb import ComplementNBMargins
from topics.predict import Predictor
from topics.run.build import fit_families
from topics.run.cache import load_corpus_from_config
from topics.run.experiment import run
from topics.run.export import export_bundle
from topics.run.trackers import NullTracker

TEXTS = [
    "rail freight grew",
    "new rail line to the port",
    "border troops on alert",
    "troops and tanks at the border",
    "rail cargo and port fees",
    "army drills near the border",
]
Y = np.array([1, 1, 0, 0, 1, 0])


def test_margins_are_complement_nb_log_likelihood_ratios() -> None:
    X = TfidfVectorizer().fit_transform(TEXTS)
    ours = ComplementNBMargins(alpha=0.5).fit(X, Y)
    theirs = ComplementNB(alpha=0.5).fit(X, Y)
    joint = theirs.predict_joint_log_proba(X)
    np.testing.assert_allclose(ours.decision_function(X), joint[:, 1] - joint[:, 0])
    assert ((ours.decision_function(X) > 0) == theirs.predict(X).astype(bool)).all()


def test_needs_the_tfidf_family() -> None:
    with pytest.raises(ConfigError, match="model.complement_nb: needs model.tfidf enabled"):
        load_config(
            REPO / "experiments" / "quickstart.yaml",
            ["model.complement_nb.enabled=true", "model.tfidf.enabled=false"],
        )


def test_quickstart_with_complement_nb_reports_it_and_the_bundle_scores_it(
    tmp_path: Path,
) -> None:
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        [
            "model.complement_nb.enabled=true",
            "model.lda.enabled=false",
            f"output_dir={tmp_path}",
            "cache_dir=null",
            "tracking.enabled=false",
        ],
    )
    result = run(config, NullTracker())
    metrics = result.metrics
    assert 0.5 < metrics["complement_nb_test_micro_f1"] <= 1.0
    assert "complement_nb_train_cv_score" in metrics
    assert (result.artifact_dir / "plots" / "complement_nb_label_confusion.png").is_file()
    predictor = Predictor.load(result.artifact_dir / "model")
    assert predictor.bundle.spec["models"]["complement_nb"]["kind"] == "linear"


def test_the_bundle_reproduces_the_fitted_model(tmp_path: Path) -> None:
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        ["model.complement_nb.enabled=true", "model.lda.enabled=false", "cache_dir=null"],
    )
    corpus = load_corpus_from_config(config.data)
    labels = list(corpus.label_names)
    train, unseen = corpus.subset(range(180)), corpus.texts[180:]
    fitted = fit_families(config, TrainingData.from_corpus(train), labels)
    path = export_bundle(tmp_path / "model", labels, "complement_nb", fitted, provenance={})
    np.testing.assert_allclose(
        Predictor.load(path).predict_proba(unseen),
        fitted["complement_nb"].predict_proba(unseen),
        atol=1e-6,
    )
