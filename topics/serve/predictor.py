"""Tag new text with a saved bundle, using numpy alone.

This is the everyday path (``classify``, web hooks, batch jobs), so it imports
neither sklearn, gensim, mlflow, pandas, matplotlib nor joblib, and never
unpickles anything: the bundle is plain JSON and ``.npz``. It reproduces the
trained pipelines' scores (tested to 1e-6).

>>> from topics.serve.predictor import Predictor                        # doctest: +SKIP
>>> Predictor.load("artifacts/latest").predict(["Rail freight via Aktau grew"])  # doctest: +SKIP
[{'labels': ['transport'], 'scores': {...}, 'topics': [...]}]
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from topics.kernels.lda import DEFAULT_MAX_ITER, DEFAULT_TOL, infer_topics_flat
from topics.kernels.transformer import NumpyEncoder, encode_by_length, head_proba, load_tokenizer
from topics.serve.bundle import Bundle, load_bundle
from topics.text import TopicTokenizer, analyzer_from_dict

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
        out = np.zeros((self.n_docs, weights_t.shape[1]))
        if len(self.ids):  # entries are sorted by document: sum each document's run of rows
            starts = np.flatnonzero(np.r_[True, self.docs[1:] != self.docs[:-1]])
            contributions = weights_t[self.ids] * self.values[:, None]
            out[self.docs[starts]] = np.add.reduceat(contributions, starts, axis=0)
        return out


class _Tfidf:
    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.analyzer = analyzer_from_dict(spec["analyzer"])
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
    """Calibrated one-vs-rest linear scores, as :class:`topics.families.linear.MultiLabelLinear`."""

    def __init__(self, name: str, features: list[str], arrays: dict[str, np.ndarray]) -> None:
        self.features = features
        prefix = f"clf.{name}."
        self.coef = arrays[prefix + "coef"]
        self.coef_t = np.ascontiguousarray(self.coef.T)  # row gathers per feature are contiguous
        self.intercept = arrays[prefix + "intercept"]
        self.platt_a = arrays[prefix + "platt_a"]
        self.platt_b = arrays[prefix + "platt_b"]
        self.thresholds = arrays[prefix + "thresholds"]

    def margins(self, rows: _Sparse | None, theta: np.ndarray) -> np.ndarray:
        """``X @ coef.T + intercept`` with X = [TF-IDF columns, topic columns]."""
        raw = np.zeros((len(theta), self.coef.shape[0])) + self.intercept
        if rows is not None and "tfidf" in self.features:
            raw += rows.dot(self.coef_t)
        if "lda" in self.features:
            raw += theta @ self.coef_t[self.coef_t.shape[0] - theta.shape[1] :]
        return raw

    def scores(self, rows: _Sparse | None, theta: np.ndarray) -> np.ndarray:
        return _sigmoid(self.platt_a * self.margins(rows, theta) + self.platt_b)


class _FineLabels(_Linear):
    """Source-class margins stacked with per-label scores, as
    :class:`topics.families.fine_labels.FineLabelLinear` (TF-IDF features only)."""

    def __init__(self, name: str, features: list[str], arrays: dict[str, np.ndarray]) -> None:
        self.features = features
        prefix = f"clf.{name}."
        self.coef = arrays[prefix + "coef"]
        self.coef_t = np.ascontiguousarray(self.coef.T)
        self.intercept = arrays[prefix + "intercept"]
        self.thresholds = arrays[prefix + "thresholds"]
        self.fine_coef_t = np.ascontiguousarray(arrays[prefix + "fine_coef"].T)
        self.fine_intercept = arrays[prefix + "fine_intercept"]
        self.inside = arrays[prefix + "groups"].T == 1  # (n_labels, n_classes)
        self.stack_w = arrays[prefix + "stack_w"]
        self.stack_b = arrays[prefix + "stack_b"]

    def scores(self, rows: _Sparse | None, theta: np.ndarray) -> np.ndarray:
        n_docs = len(theta)
        fine = np.zeros((n_docs, len(self.fine_intercept))) + self.fine_intercept
        if rows is not None:
            fine += rows.dot(self.fine_coef_t)
        spread = fine[:, None, :]  # (docs, labels, classes) against inside (labels, classes)
        best_in = np.where(self.inside, spread, -np.inf).max(axis=2)
        best_out = np.where(~self.inside, spread, -np.inf).max(axis=2)
        direct = self.margins(rows, theta)
        stacked = (best_in - best_out) * self.stack_w[:, 0] + direct * self.stack_w[:, 1]
        return _sigmoid(stacked + self.stack_b)


class _Encoder:
    """A fine-tuned transformer, as :class:`topics.families.encoder.EncoderClassifier`; reads
    the texts itself (no TF-IDF or topic features)."""

    features: list[str] = ["encoder"]
    batch_size = 64

    def __init__(self, name: str, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        prefix, bert = f"clf.{name}.", f"clf.{name}.bert."
        weights = {key[len(bert) :]: value for key, value in arrays.items() if key.startswith(bert)}
        self.encoder = NumpyEncoder(
            weights, spec["num_layers"], spec["num_heads"], spec["layer_norm_eps"]
        )
        self.tokenizer = load_tokenizer(spec["tokenizer"], spec["max_length"])
        self.softmax = bool(spec["softmax"])
        self.coef = arrays[prefix + "coef"]
        self.intercept = arrays[prefix + "intercept"]
        self.groups = arrays[prefix + "groups"]
        self.thresholds = arrays[prefix + "thresholds"]

    def scores_texts(self, texts: Sequence[str]) -> np.ndarray:
        pooled = np.zeros((len(texts), self.coef.shape[1]), dtype=np.float32)
        for batch, ids, mask in encode_by_length(self.tokenizer, texts, self.batch_size):
            pooled[batch] = self.encoder(ids, mask)
        return head_proba(pooled, self.coef, self.intercept, self.groups, self.softmax)


class _Ensemble:
    """A weighted mean of other models' probabilities, as
    :class:`topics.families.ensemble.ProbabilityEnsemble`."""

    features: list[str] = []

    def __init__(self, name: str, members: dict[str, float], arrays: dict[str, np.ndarray]):
        self.members: dict[str, float | np.ndarray] = dict(members)
        shares = arrays.get(f"clf.{name}.label_weights")  # the first member's, per label
        if shares is not None:
            first, second = members
            self.members = {first: shares, second: 1.0 - shares}
        self.thresholds = arrays[f"clf.{name}.thresholds"]


Model = _Linear | _Encoder | _Ensemble


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
        self.models: dict[str, Model] = {}
        for name, model in spec["models"].items():
            kind = model.get("kind", "linear")
            if kind == "encoder":
                self.models[name] = _Encoder(name, model["encoder"], arrays)
            elif kind == "ensemble":
                self.models[name] = _Ensemble(name, model["members"], arrays)
            else:
                self.models[name] = kinds[kind](name, model["features"], arrays)

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
        with_topics = self.lda is not None and (top_k > 0 or explain)
        proba, rows, theta = self._score(texts, classifier, with_topics)
        explainer = self._explainer(classifier) if explain else None
        if explainer is not None and rows is None and self.tfidf is not None:
            rows = self.tfidf.transform(texts)
        n_docs = len(texts)
        if self.single_label:  # exactly the most probable class
            chosen = np.eye(len(self.labels), dtype=bool)[proba.argmax(axis=1)].tolist()
        else:
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
                result["explanation"] = self._explain(explainer, picked, row, result)
            results.append(result)
        return results

    def predict_proba(self, texts: Sequence[str], model: str | None = None) -> np.ndarray:
        """Calibrated label probabilities ``(n_texts, n_labels)``, like sklearn's
        ``predict_proba`` of the trained pipeline."""
        return self._score(texts, self._classifier(model), with_topics=False)[0]

    def _classifier(self, model: str | None) -> Model:
        name = model or self.primary
        if name not in self.models:
            raise ValueError(f"model {name!r} is not in this bundle; it has {sorted(self.models)}")
        return self.models[name]

    def _score(
        self, texts: Sequence[str], classifier: Model, with_topics: bool
    ) -> tuple[np.ndarray, _Sparse | None, np.ndarray]:
        """(probabilities, TF-IDF rows or None, topic mixes (n, K) or (n, 0))."""
        n_docs = len(texts)
        rows = (
            self.tfidf.transform(texts) if self.tfidf and "tfidf" in classifier.features else None
        )
        needs_lda = self.lda is not None and (with_topics or "lda" in classifier.features)
        theta = self.lda.transform(texts) if needs_lda and self.lda else np.zeros((n_docs, 0))
        if isinstance(classifier, _Ensemble):  # each member scored (and normalised) alone
            parts = [
                (weight, self._score(texts, self.models[member], False))
                for member, weight in classifier.members.items()
            ]
            proba = np.sum([weight * part[0] for weight, part in parts], axis=0)
            rows = next((part[1] for _, part in parts if part[1] is not None), rows)
        elif isinstance(classifier, _Encoder):
            proba = classifier.scores_texts(texts)
        else:
            proba = classifier.scores(rows, theta)
        if self.single_label:  # one class per document: probabilities over the classes
            proba = proba / proba.sum(axis=1, keepdims=True)
        return proba, rows, theta

    def _topics(self, weights: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        assert self.lda is not None
        order = np.argsort(-weights, kind="stable")[:top_k]
        return [
            {"topic": int(k), "weight": round(float(weights[k]), 6), "words": self.lda.top_words[k]}
            for k in order
        ]

    def _explainer(self, classifier: Model) -> tuple[str, _Linear] | None:
        """(name, model) whose TF-IDF weights name the terms behind a label, if any."""
        if isinstance(classifier, _Linear):
            name = next(name for name, model in self.models.items() if model is classifier)
            return (name, classifier) if "tfidf" in classifier.features else None
        for name, model in self.models.items():  # otherwise: the bundle's TF-IDF model
            if isinstance(model, _Linear) and "tfidf" in model.features:
                return name, model
        return None

    def _explain(
        self,
        explainer: tuple[str, _Linear] | None,
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
