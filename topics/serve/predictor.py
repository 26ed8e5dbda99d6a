"""Tag new text with a saved bundle, using numpy alone.

This is the everyday path (``classify``, web hooks, batch jobs), so it imports
neither sklearn, gensim, mlflow, pandas, matplotlib nor joblib, and never
unpickles anything: the bundle is plain JSON and ``.npz``. It reproduces the
trained pipelines' scores (tested to 1e-6).

>>> from topics.predict import Predictor                        # doctest: +SKIP
>>> Predictor.load("artifacts/latest").predict(["Rail freight via Aktau grew"])  # doctest: +SKIP
[{'labels': ['transport'], 'scores': {...}, 'topics': [...]}]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from topics import __version__
from topics.errors import BundleError
from topics.kernels.linear import decide, normalise_rows
from topics.serve.bundle import ARRAYS, SPEC, Bundle, load_bundle
from topics.serve.scorers import (
    FEATURE_BLOCKS,
    SCORERS,
    ArrayError,
    Batch,
    LdaBlock,
    Linear,
    Scorer,
    TfidfBlock,
)
from topics.text import field_error, required, required_bool, required_strings

__all__ = ["Predictor"]


class Predictor:
    """Scores texts with every model in a bundle; labels come from the primary one."""

    def __init__(self, bundle: Bundle) -> None:
        spec, arrays = bundle.spec, bundle.arrays
        self.bundle = bundle
        with _invalid(bundle, ""):
            self.labels: list[str] = _labels(spec)
            features, models = _sections(spec)
            self.primary: str = required(spec, "primary")
            if not isinstance(self.primary, str) or self.primary not in models:
                raise field_error("primary", f"one of the models {sorted(models)}", self.primary)
            self.single_label = (
                required_bool(spec, "single_label") if "single_label" in spec else False
            )
            kinds = [_kind(name, model) for name, model in models.items()]
        _check_known(bundle, "feature block", list(features), FEATURE_BLOCKS)
        _check_known(bundle, "scorer kind", kinds, SCORERS)
        self.blocks = {}
        for name, block in features.items():
            with _invalid(bundle, f"features.{name}", f"{name}."):
                self.blocks[name] = FEATURE_BLOCKS[name](block, _prefixed(arrays, f"{name}."))
        self.tfidf: TfidfBlock | None = self.blocks.get("tfidf")
        self.lda: LdaBlock | None = self.blocks.get("lda")
        self.models: dict[str, Scorer] = {}
        for name, model in models.items():
            with _invalid(bundle, f"models.{name}", f"clf.{name}."):
                self.models[name] = SCORERS[model["kind"]](model, _prefixed(arrays, f"clf.{name}."))
        for name, scorer in self.models.items():
            with _invalid(bundle, f"models.{name}", f"clf.{name}."):
                scorer.check(self.blocks, self.models, len(self.labels))

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        """Load and verify a bundle folder (or the ``artifacts/latest`` link)."""
        return cls(load_bundle(path))

    def predict(
        self,
        texts: Sequence[str],
        top_k: int = 3,
        explain: bool = False,
        model: str | None = None,
    ) -> list[dict[str, Any]]:
        """Labels, calibrated scores and dominant topics for each text.

        Parameters
        ----------
        texts
            Raw article texts; empty text is valid and gets no labels.
        top_k
            How many dominant topics to list per document.
        explain
            Add ``explanation``: for each predicted label the terms that pushed it
            most (weight x feature value). An encoder or ensemble has no per-term
            weights: the bundle's TF-IDF model explains its labels (``terms_model``).
        model
            Which model assigns labels; default the bundle's primary (best on train).
        """
        classifier = self._classifier(model)
        batch = Batch(texts, self.blocks)
        proba = self._score(batch, classifier)
        with_topics = self.lda is not None and (top_k > 0 or explain)
        theta = batch.features("lda") if with_topics else np.zeros((len(texts), 0))
        explainer = self._explainer(classifier) if explain else None
        rows = batch.features("tfidf") if explainer is not None else None
        n_docs = len(texts)
        # every label at its threshold; single-label data: exactly the most probable one
        chosen = decide(proba, classifier.thresholds, self.single_label).astype(bool).tolist()
        rounded = np.round(proba, 6).tolist()  # one conversion per batch, not per value
        labels = self.labels
        results = []
        for i in range(n_docs):
            picked = [j for j, keep in enumerate(chosen[i]) if keep]
            result: dict[str, Any] = {
                "labels": [labels[j] for j in picked],
                "scores": dict(zip(labels, rounded[i], strict=True)),
                "topics": self._topics(theta[i], top_k) if theta.shape[1] else [],
            }
            if explain:
                row = rows.row(i) if rows is not None else None
                result["explanation"] = self._explain(explainer, picked, row, result)
            results.append(result)
        return results

    def predict_proba(self, texts: Sequence[str], model: str | None = None) -> np.ndarray:
        """Calibrated label probabilities ``(n_texts, n_labels)``, like sklearn's
        ``predict_proba`` of the trained pipeline."""
        return self._score(Batch(texts, self.blocks), self._classifier(model))

    def _classifier(self, model: str | None) -> Scorer:
        name = model or self.primary
        if name not in self.models:
            raise ValueError(f"model {name!r} is not in this bundle; it has {sorted(self.models)}")
        return self.models[name]

    def _score(self, batch: Batch, scorer: Scorer) -> np.ndarray:
        """Probabilities of one model; single-label data: over the classes."""
        proba = scorer.scores(batch, lambda member, same: self._score(same, self.models[member]))
        return normalise_rows(proba) if self.single_label else proba

    def _topics(self, weights: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        assert self.lda is not None
        order = np.argsort(-weights, kind="stable")[:top_k]
        return [
            {"topic": int(k), "weight": round(float(weights[k]), 6), "words": self.lda.top_words[k]}
            for k in order
        ]

    def _explainer(self, classifier: Scorer) -> tuple[str, Linear] | None:
        """(name, model) whose TF-IDF weights name the terms behind a label, if any."""
        if isinstance(classifier, Linear):
            name = next(name for name, model in self.models.items() if model is classifier)
            return (name, classifier) if "tfidf" in classifier.features else None
        for name, model in self.models.items():  # otherwise: the bundle's TF-IDF model
            if isinstance(model, Linear) and "tfidf" in model.features:
                return name, model
        return None

    def _explain(
        self,
        explainer: tuple[str, Linear] | None,
        chosen: list[int],
        row: tuple[np.ndarray, np.ndarray] | None,
        result: dict[str, Any],
        n_terms: int = 8,
    ) -> dict[str, Any]:
        terms: dict[str, list[dict[str, Any]]] = {}
        name, classifier = explainer or ("", None)
        for j in chosen:
            if row is None or classifier is None or self.tfidf is None:
                terms[self.labels[j]] = []
                continue
            ids, values = row
            contribution = classifier.coef[j, ids] * values
            order = np.argsort(-contribution, kind="stable")[:n_terms]
            terms[self.labels[j]] = [
                {"term": self.tfidf.vocabulary[ids[k]], "weight": round(float(contribution[k]), 6)}
                for k in order
                if contribution[k] > 0
            ]
        return {"terms": terms, "terms_model": name, "topics": result["topics"]}


def _labels(spec: dict[str, Any]) -> list[str]:
    labels = required_strings(spec, "labels")
    if not labels or len(set(labels)) != len(labels) or not all(labels):
        raise field_error("labels", "distinct non-empty label names", labels)
    return labels


def _sections(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``features`` and ``models`` objects of the spec, each an object of objects."""
    sections = []
    for section in ("features", "models"):
        value = required(spec, section)
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise field_error(section, "an object of objects", value)
        sections.append(value)
    return sections[0], sections[1]


def _kind(name: str, model: dict[str, Any]) -> str:
    kind = model.get("kind")
    if not isinstance(kind, str):
        raise field_error(f"models.{name}.kind", "a scorer kind", kind)
    return kind


@contextmanager
def _invalid(bundle: Bundle, section: str, array_prefix: str = "") -> Iterator[None]:
    """Any problem with the bundle's content inside becomes one line naming the file
    and the field: the bundle is untrusted data, so no traceback for a bad one."""
    fix = "the bundle is invalid: copy it again, or retrain the model"
    try:
        yield
    except ArrayError as exc:
        raise BundleError(f"{bundle.path / ARRAYS}: {array_prefix}{exc}; {fix}") from exc
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        where = f"{section}.{detail}" if section else detail
        raise BundleError(f"{bundle.path / SPEC}: {where}; {fix}") from exc


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays under ``prefix``, keyed without it."""
    return {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}


def _check_known(bundle: Bundle, what: str, names: list[str], known: dict[str, Any]) -> None:
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise BundleError(
            f"{bundle.path}: {what} {unknown[0]!r} is not one this topics {__version__} scores "
            f"(it knows {sorted(known)}); upgrade topics, or retrain the model"
        )
