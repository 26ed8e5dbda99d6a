"""How the predictor reads each part of a bundle: feature blocks and model scorers.

A family exports its state with a scorer ``kind`` (:mod:`topics.families.base`);
:data:`SCORERS` maps each kind to the class that scores it with the numpy
kernels of :mod:`topics.kernels`. Families that score the same way share a kind
(``tfidf``, ``lda``, ``hybrid`` and ``complement_nb`` are all ``linear``); a
family with a new formula adds its kernel and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from topics.kernels.lda import DEFAULT_MAX_ITER, DEFAULT_TOL, infer_topics_flat
from topics.kernels.linear import fine_margins, mix, platt_proba, stacked_proba
from topics.kernels.sparse import SparseRows, tfidf_weight
from topics.kernels.transformer import NumpyEncoder, encode_by_length, head_proba, load_tokenizer
from topics.text import TopicTokenizer, analyzer_from_dict


class TfidfBlock:
    """TF-IDF rows of texts, as the fitted ``TfidfVectorizer`` computes them."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.analyzer = analyzer_from_dict(spec["analyzer"])
        self.vocabulary: list[str] = spec["vocabulary"]
        self.index = {term: i for i, term in enumerate(self.vocabulary)}
        self.sublinear_tf = bool(spec["sublinear_tf"])
        self.idf = arrays["idf"]

    def transform(self, texts: Sequence[str]) -> SparseRows:
        rows = SparseRows.count([self.analyzer(text) for text in texts], self.index)
        return tfidf_weight(rows, self.idf, self.sublinear_tf)


class LdaBlock:
    """Topic proportions ``(n, K)`` of texts, by the same numpy E-step as training."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.tokenizer = TopicTokenizer.from_dict(spec["tokenizer"])
        self.index = {term: i for i, term in enumerate(spec["vocabulary"])}
        self.top_words: list[list[str]] = spec["top_words"]
        self.max_iter = int(spec.get("max_iter", DEFAULT_MAX_ITER))
        self.tol = float(spec.get("tol", DEFAULT_TOL))
        self.exp_elog_beta = arrays["exp_elog_beta"]
        self.alpha = arrays["alpha"]

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        bows = SparseRows.count([self.tokenizer(text) for text in texts], self.index)
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


FEATURE_BLOCKS: dict[str, Callable[[dict[str, Any], dict[str, np.ndarray]], Any]] = {
    "tfidf": TfidfBlock,
    "lda": LdaBlock,
}


class Batch:
    """Texts being scored; each feature block is computed at most once for them."""

    def __init__(self, texts: Sequence[str], blocks: dict[str, Any]) -> None:
        self.texts = texts
        self.blocks = blocks
        self.computed: dict[str, Any] = {}

    def features(self, name: str) -> Any:
        if name not in self.computed:
            self.computed[name] = self.blocks[name].transform(self.texts)
        return self.computed[name]


class Scorer(Protocol):
    features: list[str]
    thresholds: np.ndarray

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        """Label probabilities ``(n, n_labels)``; ``score(model, batch)`` scores another
        model of the bundle (what an ensemble mixes)."""
        ...


class Linear:
    """Calibrated one-vs-rest linear scores over stacked feature blocks (TF-IDF
    columns, then topic columns), as :class:`topics.families.linear.MultiLabelLinear`."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.features: list[str] = list(spec["features"])
        self.coef = arrays["coef"]
        self.coef_t = np.ascontiguousarray(self.coef.T)  # row gathers per feature are contiguous
        self.intercept = arrays["intercept"]
        self.thresholds = arrays["thresholds"]
        self.platt_a = arrays.get("platt_a")
        self.platt_b = arrays.get("platt_b")

    def margins(self, batch: Batch) -> np.ndarray:
        """``X @ coef.T + intercept`` with X = [TF-IDF columns, topic columns]."""
        raw = np.zeros((len(batch.texts), self.coef.shape[0])) + self.intercept
        if "tfidf" in self.features:
            raw += batch.features("tfidf").dot(self.coef_t)
        if "lda" in self.features:
            theta = batch.features("lda")
            raw += theta @ self.coef_t[self.coef_t.shape[0] - theta.shape[1] :]
        return raw

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        return platt_proba(self.margins(batch), self.platt_a, self.platt_b)


class FineLabels(Linear):
    """Source-class margins stacked with per-label margins, as
    :class:`topics.families.fine_labels.FineLabelLinear` (TF-IDF features)."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super().__init__(spec, arrays)
        self.fine_coef_t = np.ascontiguousarray(arrays["fine_coef"].T)
        self.fine_intercept = arrays["fine_intercept"]
        self.groups = arrays["groups"]
        self.stack_w = arrays["stack_w"]
        self.stack_b = arrays["stack_b"]

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        fine = batch.features("tfidf").dot(self.fine_coef_t) + self.fine_intercept
        margins = fine_margins(fine, self.groups)
        return stacked_proba(margins, self.margins(batch), self.stack_w, self.stack_b)


class Encoder:
    """A fine-tuned transformer, as :class:`topics.families.encoder.EncoderClassifier`;
    reads the texts itself."""

    batch_size = 64

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        settings = spec["encoder"]
        weights = {key[5:]: value for key, value in arrays.items() if key.startswith("bert.")}
        self.features: list[str] = ["encoder"]
        self.encoder = NumpyEncoder(
            weights, settings["num_layers"], settings["num_heads"], settings["layer_norm_eps"]
        )
        self.tokenizer = load_tokenizer(settings["tokenizer"], settings["max_length"])
        self.softmax = bool(settings["softmax"])
        self.coef = arrays["coef"]
        self.intercept = arrays["intercept"]
        self.groups = arrays["groups"]
        self.thresholds = arrays["thresholds"]

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        texts = batch.texts
        pooled = np.zeros((len(texts), self.coef.shape[1]), dtype=np.float32)
        for rows, ids, mask in encode_by_length(self.tokenizer, texts, self.batch_size):
            pooled[rows] = self.encoder(ids, mask)
        return head_proba(pooled, self.coef, self.intercept, self.groups, self.softmax)


class Ensemble:
    """A weighted mean of other models' probabilities, as
    :class:`topics.families.ensemble.ProbabilityEnsemble` (weights may be per label)."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.features: list[str] = []
        members: dict[str, float] = spec["members"]
        self.members: dict[str, float | np.ndarray] = dict(members)
        shares = arrays.get("label_weights")  # the first member's, per label
        if shares is not None:
            first, second = members
            self.members = {first: shares, second: 1.0 - shares}
        self.thresholds = arrays["thresholds"]

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        parts = [score(member, batch) for member in self.members]
        return mix(parts, list(self.members.values()))


SCORERS: dict[str, Callable[[dict[str, Any], dict[str, np.ndarray]], Scorer]] = {
    "linear": Linear,
    "fine_labels": FineLabels,
    "encoder": Encoder,
    "ensemble": Ensemble,
}
