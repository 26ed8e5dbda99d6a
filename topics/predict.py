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

from collections.abc import Sequence
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from topics.bundle import Bundle, load_bundle
from topics.lda_inference import DEFAULT_MAX_ITER, DEFAULT_TOL, infer_topics_flat
from topics.text import Analyzer, TopicTokenizer

__all__ = ["Predictor"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class _Sparse:
    """A batch of sparse rows in flat form: entry ``e`` is ``(docs[e], ids[e], values[e])``,
    sorted by document then feature."""

    def __init__(self, docs: np.ndarray, ids: np.ndarray, values: np.ndarray, n_docs: int) -> None:
        self.docs, self.ids, self.values, self.n_docs = docs, ids, values, n_docs

    @classmethod
    def count(cls, features: list[list[str]], index: dict[str, int]) -> _Sparse:
        """Count known features per document."""
        lengths = np.fromiter(map(len, features), dtype=np.int64, count=len(features))
        # One C-level pass over every feature of the batch; unknown ones map to -1.
        found = map(index.get, chain.from_iterable(features), repeat(-1))
        ids = np.fromiter(found, dtype=np.int64, count=int(lengths.sum()))
        docs = np.repeat(np.arange(len(features), dtype=np.int64), lengths)
        known = ids >= 0
        width = len(index) + 1
        keys, counts = np.unique(docs[known] * width + ids[known], return_counts=True)
        docs, ids = np.divmod(keys, width)
        return cls(docs, ids, counts.astype(np.float64), len(features))

    def row(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.searchsorted(self.docs, [d, d + 1])
        return self.ids[lo:hi], self.values[lo:hi]

    def dot(self, weights_t: np.ndarray) -> np.ndarray:
        """``X @ weights_t`` for ``weights_t`` of shape ``(n_features, n_out)``."""
        contributions = weights_t[self.ids] * self.values[:, None]
        return np.column_stack(
            [
                np.bincount(self.docs, weights=contributions[:, j], minlength=self.n_docs)
                for j in range(weights_t.shape[1])
            ]
        ).reshape(self.n_docs, weights_t.shape[1])


class _Tfidf:
    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.analyzer = Analyzer.from_dict(spec["analyzer"])
        self.vocabulary = spec["vocabulary"]
        self.index = {term: i for i, term in enumerate(self.vocabulary)}
        self.sublinear_tf = bool(spec["sublinear_tf"])
        self.idf = arrays["tfidf.idf"]

    def transform(self, texts: Sequence[str]) -> _Sparse:
        """TF-IDF rows, l2-normalised, as sklearn's ``TfidfVectorizer`` computes them."""
        rows = _Sparse.count([self.analyzer(text) for text in texts], self.index)
        tf = np.log(rows.values) + 1.0 if self.sublinear_tf else rows.values
        values = tf * self.idf[rows.ids]
        norms = np.sqrt(np.bincount(rows.docs, weights=values * values, minlength=rows.n_docs))
        rows.values = values / norms[rows.docs]
        return rows


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
        bows = _Sparse.count([self.tokenizer(text) for text in texts], self.index)
        return infer_topics_flat(
            bows.docs,
            bows.ids,
            bows.values,
            bows.n_docs,
            self.exp_elog_beta,
            self.alpha,
            self.max_iter,
            self.tol,
        )


class _Linear:
    """Calibrated one-vs-rest linear scores, as :class:`topics.classifiers.MultiLabelLinear`."""

    def __init__(self, name: str, features: list[str], arrays: dict[str, np.ndarray]) -> None:
        self.features = features
        prefix = f"clf.{name}."
        self.coef = arrays[prefix + "coef"]
        self.coef_t = np.ascontiguousarray(self.coef.T)  # row gathers per feature are contiguous
        self.intercept = arrays[prefix + "intercept"]
        self.platt_a = arrays[prefix + "platt_a"]
        self.platt_b = arrays[prefix + "platt_b"]
        self.thresholds = arrays[prefix + "thresholds"]

    def proba(self, raw_scores: np.ndarray) -> np.ndarray:
        return _sigmoid(self.platt_a * (raw_scores + self.intercept) + self.platt_b)


class Predictor:
    """Scores texts with every model in a bundle; labels come from the primary one."""

    def __init__(self, bundle: Bundle) -> None:
        spec, arrays = bundle.spec, bundle.arrays
        self.bundle = bundle
        self.labels: list[str] = list(spec["labels"])
        self.primary: str = spec["primary"]
        self.tfidf = _Tfidf(spec["tfidf"], arrays) if "tfidf" in spec else None
        self.lda = _Lda(spec["lda"], arrays) if "lda" in spec else None
        self.models = {
            name: _Linear(name, model["features"], arrays) for name, model in spec["models"].items()
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
        classifier = self._classifier(model)
        with_topics = self.lda is not None and (top_k > 0 or explain)
        proba, rows, theta = self._score(texts, classifier, with_topics)
        n_docs = len(texts)
        chosen = (proba >= classifier.thresholds).tolist()
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
                result["explanation"] = self._explain(classifier, picked, row, result)
            results.append(result)
        return results

    def predict_proba(self, texts: Sequence[str], model: str | None = None) -> np.ndarray:
        """Calibrated label probabilities ``(n_texts, n_labels)``, like sklearn's
        ``predict_proba`` of the trained pipeline."""
        return self._score(texts, self._classifier(model), with_topics=False)[0]

    def _classifier(self, model: str | None) -> _Linear:
        name = model or self.primary
        if name not in self.models:
            raise ValueError(f"model {name!r} is not in this bundle; it has {sorted(self.models)}")
        return self.models[name]

    def _score(
        self, texts: Sequence[str], classifier: _Linear, with_topics: bool
    ) -> tuple[np.ndarray, _Sparse | None, np.ndarray]:
        """(probabilities, TF-IDF rows or None, topic mixes (n, K) or (n, 0))."""
        n_docs = len(texts)
        rows = (
            self.tfidf.transform(texts) if self.tfidf and "tfidf" in classifier.features else None
        )
        needs_lda = self.lda is not None and (with_topics or "lda" in classifier.features)
        theta = self.lda.transform(texts) if needs_lda and self.lda else np.zeros((n_docs, 0))
        raw = np.zeros((n_docs, len(self.labels)))
        if rows is not None:
            raw += rows.dot(classifier.coef_t)
        if "lda" in classifier.features:
            raw += theta @ classifier.coef_t[classifier.coef_t.shape[0] - theta.shape[1] :]
        return classifier.proba(raw), rows, theta

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
