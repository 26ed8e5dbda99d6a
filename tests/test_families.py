"""The family registry (topics/families/__init__.py, topics/families/base.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from tests.conftest import REPO
from topics.config import load_config
from topics.errors import ConfigError
from topics.families import FAMILIES
from topics.families.base import FittedModel, Section
from topics.run.build import describe_run, enabled_families


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_family_comes_after_the_families_it_requires(name: str) -> None:
    order = list(FAMILIES)
    assert all(order.index(required) < order.index(name) for required in FAMILIES[name].requires)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_family_section_rejects_unknown_keys(name: str) -> None:
    settings = FAMILIES[name].Settings
    assert issubclass(settings, Section) and FAMILIES[name].name == name
    with pytest.raises(ValidationError, match="extra"):
        settings.model_validate({"no_such_key": 1})


def test_the_config_has_one_section_per_family_and_checks_primary() -> None:
    config = load_config(REPO / "experiments" / "quickstart.yaml")
    assert all(isinstance(getattr(config.model, name), Section) for name in FAMILIES)
    assert enabled_families(config) == ["tfidf", "lda"]
    with pytest.raises(ConfigError, match=r"model.primary: 'bert' is not a model; expected one"):
        load_config(REPO / "experiments" / "quickstart.yaml", ["model.primary=bert"])
    with pytest.raises(ConfigError, match="model.primary: hybrid is not enabled"):
        load_config(REPO / "experiments" / "quickstart.yaml", ["model.primary=hybrid"])


def test_the_run_description_names_every_enabled_family() -> None:
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        ["model.hybrid.enabled=true", "model.complement_nb.enabled=true"],
    )
    described = describe_run(config)
    for part in ("tfidf linear_svc", "lda K=", "hybrid linear_svc", "complement_nb alpha=1"):
        assert part in described


class Counting(BaseEstimator):
    """A classifier step that counts the texts it scores."""

    scored = 0

    def fit(self, X: list[str], y: object = None) -> Counting:
        self.fitted_ = True
        return self

    def predict_proba(self, X: list[str]) -> np.ndarray:
        self.scored += len(X)
        return np.array([[len(text) / 10.0] for text in X])


def test_a_fitted_model_scores_the_same_texts_once() -> None:
    counting = Counting()
    model = FittedModel("m", Pipeline([("clf", counting)]).fit(["x"]), [])
    first = model.predict_proba(["a b", "cde"])
    again = model.predict_proba(("a b", "cde"))  # equal texts, another sequence
    assert counting.scored == 2
    assert again is first and not first.flags.writeable
    other = model.predict_proba(["a b", "cdef"])
    assert counting.scored == 4
    np.testing.assert_allclose(other[:, 0], [0.3, 0.4])
    np.testing.assert_allclose(model.predict_proba(["a b", "cde"])[:, 0], [0.3, 0.3])
