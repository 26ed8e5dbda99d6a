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

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from topics.bundle import Bundle, load_bundle
from topics.lda_inference import DEFAULT_MAX_ITER, DEFAULT_TOL, bag_of_words, infer_topics
from topics.text import TopicTokenizer, analyzer_from_dict

__all__ = ["Predictor"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class _Tfidf:
    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.analyzer = analyzer_from_dict(spec["analyzer"])
        self.vocabulary = spec["vocabulary"]
        self.index = {term: i for i, term in enumerate(self.vocabulary)}
        self.sublinear_tf = bool(spec["sublinear_tf"])
        self.idf = arrays["tfidf.idf"]

    def transform(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF row of one text: ``(feature ids, l2-normalised values)``."""
        counts = Counter(i for f in self.analyzer(text) if (i := self.index.get(f)) is not None)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[ids]
        return ids, values / np.sqrt(np.dot(values, values))


class _Lda:
    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.tokenizer = TopicTokenizer.from_dict(spec["tokenizer"])
        self.index = {term: i for i, term in enumerate(spec["vocabulary"])}
        self.top_words: list[list[str]] = spec["top_words"]
        self.max_iter = int(spec.get("max_iter", DEFAULT_MAX_ITER))
        self.tol = float(spec.get("tol", DEFAULT_TOL))
        self.exp_elog_beta = arrays["lda.exp_elog_beta"]
        self.alpha = arrays["lda.alpha"]

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        bows = [bag_of_words(self.tokenizer(text), self.index) for text in texts]
        return infer_topics(bows, self.exp_elog_beta, self.alpha, self.max_iter, self.tol)


class _Linear:
    """Calibrated one-vs-rest linear scores, as :class:`topics.classifiers.MultiLabelLinear`."""

    def __init__(self, name: str, features: list[str], arrays: dict[str, np.ndarray]) -> None:
        self.features = features
        prefix = f"clf.{name}."
        self.coef = arrays[prefix + "coef"]
        self.intercept = arrays[prefix + "intercept"]
        self.platt_a = arrays[prefix + "platt_a"]
        self.platt_b = arrays[prefix + "platt_b"]
        self.thresholds = arrays[prefix + "thresholds"]

    def raw(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self.coef[:, ids] @ values

    def proba(self, raw_scores: np.ndarray) -> np.ndarray:
        return _sigmoid(self.platt_a * (raw_scores + self.intercept) + self.platt_b)


class _FineLabels(_Linear):
    """Source-class margins stacked with per-label scores, as
    :class:`topics.fine_labels.FineLabelLinear`."""

    def __init__(self, name: str, features: list[str], arrays: dict[str, np.ndarray]) -> None:
        self.features = features
        prefix = f"clf.{name}."
        self.coef = arrays[prefix + "coef"]
        self.intercept = arrays[prefix + "intercept"]
        self.thresholds = arrays[prefix + "thresholds"]
        self.fine_coef = arrays[prefix + "fine_coef"]
        self.fine_intercept = arrays[prefix + "fine_intercept"]
        self.inside = arrays[prefix + "groups"].T == 1  # (n_labels, n_classes)
        self.stack_w = arrays[prefix + "stack_w"]
        self.stack_b = arrays[prefix + "stack_b"]

    def raw(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        fine = self.fine_coef[:, ids] @ values + self.fine_intercept
        best_in = np.where(self.inside, fine, -np.inf).max(axis=1)
        best_out = np.where(~self.inside, fine, -np.inf).max(axis=1)
        direct = self.coef[:, ids] @ values + self.intercept
        return (best_in - best_out) * self.stack_w[:, 0] + direct * self.stack_w[:, 1]

    def proba(self, raw_scores: np.ndarray) -> np.ndarray:
        return _sigmoid(raw_scores + self.stack_b)


class Predictor:
    """Scores texts with every model in a bundle; labels come from the primary one."""

    def __init__(self, bundle: Bundle) -> None:
        spec, arrays = bundle.spec, bundle.arrays
        self.bundle = bundle
        self.labels: list[str] = list(spec["labels"])
        self.primary: str = spec["primary"]
        self.single_label = bool(spec.get("single_label", False))
        self.tfidf = _Tfidf(spec["tfidf"], arrays) if "tfidf" in spec else None
        self.lda = _Lda(spec["lda"], arrays) if "lda" in spec else None
        kinds = {"linear": _Linear, "fine_labels": _FineLabels}
        self.models = {
            name: kinds[model.get("kind", "linear")](name, model["features"], arrays)
            for name, model in spec["models"].items()
        }

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
            most (weight x feature value).
        model
            Which model assigns labels; default the bundle's primary (best on test).
        """
        name = model or self.primary
        if name not in self.models:
            raise ValueError(f"model {name!r} is not in this bundle; it has {sorted(self.models)}")
        classifier = self.models[name]
        rows = [self.tfidf.transform(t) for t in texts] if self.tfidf else []
        theta = self.lda.transform(texts) if self.lda else np.zeros((len(texts), 0))
        results = []
        for i in range(len(texts)):
            raw = np.zeros(len(self.labels))
            if "tfidf" in classifier.features and self.tfidf:
                ids, values = rows[i]
                raw = raw + classifier.raw(ids, values)
            if "lda" in classifier.features:
                offset = classifier.coef.shape[1] - theta.shape[1]
                raw = raw + classifier.coef[:, offset:] @ theta[i]
            proba = classifier.proba(raw)
            if self.single_label:  # one class per document, as MultiLabelLinear on 1-D targets
                proba = proba / proba.sum()
                chosen = [int(np.argmax(proba))]
            else:
                chosen = [j for j, p in enumerate(proba) if p >= classifier.thresholds[j]]
            result: dict[str, Any] = {
                "labels": [self.labels[j] for j in chosen],
                "scores": {
                    label: round(float(p), 6) for label, p in zip(self.labels, proba, strict=True)
                },
                "topics": self._topics(theta[i], top_k) if self.lda else [],
            }
            if explain:
                result["explanation"] = self._explain(
                    classifier, chosen, rows[i] if rows else None, result
                )
            results.append(result)
        return results

    def _topics(self, weights: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        assert self.lda is not None
        order = np.argsort(-weights, kind="stable")[:top_k]
        return [
            {"topic": int(k), "weight": round(float(weights[k]), 6), "words": self.lda.top_words[k]}
            for k in order
        ]

    def _explain(
        self,
        classifier: _Linear,
        chosen: list[int],
        row: tuple[np.ndarray, np.ndarray] | None,
        result: dict[str, Any],
        n_terms: int = 8,
    ) -> dict[str, Any]:
        terms: dict[str, list[dict[str, Any]]] = {}
        for j in chosen:
            if row is None or "tfidf" not in classifier.features or self.tfidf is None:
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
        return {"terms": terms, "topics": result["topics"]}
