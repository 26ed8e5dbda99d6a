"""The ``static`` family: the tfidf model's learner over its TF-IDF columns plus a
static sentence vector.

The static vector is what a sentence encoder knows, at the cost of a lookup: one
vector per token, distilled from the encoder (``[CLS] token [SEP]`` through it,
mean-pooled: model2vec's way) and weighted by SIF, ``a / (a + p(token))``. A
text's vector is the unit-length sum of its tokens' vectors
(:mod:`topics.kernels.static`). The classifier is a fresh copy of the ``tfidf``
model's own (the same kind, settings and cross-validated cuts; not its
``nb_alpha``), fit on the TF-IDF columns followed by ``scale`` times that vector.

With ``regress``, the token vectors are then fit to the encoder's own sentence
vectors of the training texts (one pass over them), in least squares, held to the
distilled ones by a ridge weight: a text's static vector comes nearer the encoder's
(mean cosine 0.50 -> 0.81 on nyt-cap's validation years at ``regress`` 0.1).

Only tokens seen in the training texts keep a vector, stored as float16 (training
uses the same rounded values, so the bundle scores as the run did). Training needs
torch (``pip install 'topics[encoder]'``), no fine-tuning; scoring needs the
``tokenizers`` wheel and numpy. On nyt-cap (``regress`` 0.1): 0.724 / 0.686 against
the tfidf model's 0.698 / 0.662, at 12,446 docs/s (``benchmarks/primary_speed.py``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

from topics.families.base import (
    ArrayStore,
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    TrainingData,
)
from topics.families.features import _texts_digest
from topics.families.fine_labels import FineLabelLinear
from topics.families.linear import MultiLabelLinear
from topics.families.sentence_encoder import MINILM, TorchBertEmbedder
from topics.families.tfidf import learner_state
from topics.kernels.embedding_topics import unit_rows
from topics.kernels.static import static_tokenizer, text_vectors, token_ids, token_rows

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
COEFFICIENTS = ("coef_", "fine_coef_")  # of the learner: one column per feature
SENTENCE_TOKENS = 128  # regress: the encoder's sentence vectors read this much of a text


class StaticSettings(Section):
    """``model.static``: TF-IDF columns and a static sentence vector in one linear model."""

    enabled: bool = False
    pretrained: str = MINILM  # the sentence encoder the token vectors come from
    # SIF weight of a token: sif / (sif + its share of the training tokens); null: 1.
    sif: float | None = Field(1e-3, gt=0)
    # 0: a token's vector is the encoder's on the token alone; n: its mean output over
    # the training texts, each cut at n tokens (a forward pass over them).
    contextual: int = Field(0, ge=0)
    # Fit the token vectors to the encoder's sentence vectors of the training texts, in
    # least squares, held to the distilled ones with this ridge weight; null: off.
    regress: float | None = Field(None, gt=0)
    scale: float = Field(1.0, gt=0)  # the unit static vector's weight beside TF-IDF
    C: float | None = Field(None, gt=0)  # null: model.tfidf.C


class StaticVectors(TransformerMixin, BaseEstimator):
    """Texts -> unit static vectors ``(n, hidden)`` from token vectors of ``pretrained``.

    Parameters
    ----------
    pretrained : str
        A BERT or MPNet sentence encoder: a local folder, the packaged MiniLM's hub id, or a
        hub id (fetched when online).
    sif : float or None
        SIF weighting ``sif / (sif + p(token))``, ``p`` from the training texts;
        None weighs every token 1.
    contextual : int
        0: a token's vector is the encoder's on the token alone. ``n`` > 0: the mean of
        its output vectors wherever it occurs in the training texts, each cut at ``n``
        tokens (one forward pass over them).
    regress : float or None
        Fit the token vectors to the encoder's own sentence vectors of ``X`` (a pass
        over them, cut at 128 tokens): the table ``E`` that brings each text's sum of
        token vectors, divided by its norm under the distilled table ``E0``, nearest its
        unit sentence vector in least squares, plus ``regress * |E - E0|^2``
        (tokenlearn's idea as one linear problem). None: the distilled vectors.
    cache : ArrayStore or None
        Store of the token vectors (``contextual`` 0) and the sentence vectors
        (``regress``), keyed by the encoder's weights and the tokens or texts: reruns
        and learning curves over the same tokens distil them once.
    """

    def __init__(
        self,
        pretrained: str = MINILM,
        sif: float | None = 1e-3,
        contextual: int = 0,
        regress: float | None = None,
        cache: ArrayStore | None = None,
    ) -> None:
        self.pretrained = pretrained
        self.sif = sif
        self.contextual = contextual
        self.regress = regress
        self.cache = cache

    def fit(self, X: Sequence[str], y: Any = None) -> StaticVectors:
        texts = list(X)
        embedder = TorchBertEmbedder(
            self.pretrained, max_length=self.contextual or 8, owner="model.static"
        )
        self.tokenizer_json_ = embedder.tokenizer_json
        tokenizer = static_tokenizer(self.tokenizer_json_)
        ids, lengths = token_ids(tokenizer, texts)
        counts = np.bincount(ids, minlength=tokenizer.get_vocab_size())
        special = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
        counts[[i for i in special if i is not None]] = 0
        if self.contextual:
            means, seen = embedder.token_means(texts)
            counts[seen == 0] = 0  # only past the length limit: no vector
        kept = np.flatnonzero(counts)
        weights = (
            np.ones(len(kept))
            if self.sif is None
            else self.sif / (self.sif + counts[kept] / counts.sum())
        )
        vectors = means[kept] if self.contextual else self._token_vectors(embedder, kept)
        vectors = vectors * weights[:, None]
        if self.regress is not None:
            counts_by_text = token_counts(ids, lengths, token_rows(len(counts), kept))
            sentences = self._sentence_vectors(texts)
            vectors = fit_to_sentences(counts_by_text, vectors, sentences, self.regress)
        self.ids_ = kept
        self.vectors_ = vectors.astype(np.float16)
        return self

    def _sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """The encoder's unit sentence vectors of ``texts``, through the cache."""
        embedder = TorchBertEmbedder(self.pretrained, SENTENCE_TOKENS, owner="model.static")
        return self._cached(
            "sentence_vectors",
            (embedder.digest(), SENTENCE_TOKENS, _texts_digest(texts)),
            len(texts),
            lambda: unit_rows(embedder.embed(texts)),
        )

    def _token_vectors(self, embedder: TorchBertEmbedder, ids: np.ndarray) -> np.ndarray:
        """``embedder.token_vectors(ids)``, through the cache."""
        tokens = hashlib.sha256(ids.astype(np.int64).tobytes()).hexdigest()
        return self._cached(
            "token_vectors",
            (embedder.digest(), tokens),
            len(ids),
            lambda: embedder.token_vectors(ids),
        )

    def _cached(
        self, kind: str, parts: tuple[Any, ...], rows: int, compute: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """``compute()`` (``rows`` vectors), kept in the cache under ``kind`` and ``parts``
        when there is one."""
        if self.cache is None:
            return compute()
        key = self.cache.key(kind, *parts)
        entry = self.cache.load(kind, key)
        vectors = None if entry is None else entry[1].get("vectors")
        if vectors is None or vectors.shape[0] != rows:
            vectors = compute()
            self.cache.save(kind, key, {"model": self.pretrained}, {"vectors": vectors})
        return vectors

    def transform(self, X: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "vectors_")
        if not hasattr(self, "_lookup"):
            tokenizer = static_tokenizer(self.tokenizer_json_)
            rows = token_rows(tokenizer.get_vocab_size(), self.ids_)
            self._lookup = (tokenizer, rows, self.vectors_)
        tokenizer, rows, table = self._lookup
        return text_vectors(*token_ids(tokenizer, list(X)), rows, table)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lookup"}


def token_counts(ids: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> sp.csr_matrix:
    """``(n_texts, kept tokens)``: how often each text holds each token with a vector,
    from the texts' token ``ids`` and ``lengths`` (:func:`token_ids`; ``rows``: token id
    -> its row, -1 for none)."""
    docs, found = np.repeat(np.arange(len(lengths)), lengths), rows[ids]
    keep = found >= 0
    return sp.csr_matrix(
        (np.ones(int(keep.sum())), (docs[keep], found[keep])),
        shape=(len(lengths), int(rows.max()) + 1),
    )


def fit_to_sentences(
    counts: sp.csr_matrix,
    start: np.ndarray,
    targets: np.ndarray,
    ridge: float,
    iterations: int = 300,
) -> np.ndarray:
    """The token table ``E`` minimising ``|diag(1/s) A E - targets|^2 + ridge |E - E0|^2``:
    ``A`` the texts' token ``counts``, ``E0`` the ``start`` table, ``s`` each text's norm
    under it. Conjugate gradients on the normal equations, every column at once."""
    start = start.astype(np.float64)
    norms = np.linalg.norm(np.asarray(counts @ start), axis=1)
    a = (sp.diags(1 / np.where(norms == 0, 1, norms)) @ counts).tocsr()

    def normal(x: np.ndarray) -> np.ndarray:
        return np.asarray(a.T @ (a @ x)) + ridge * x

    tiny = np.finfo(np.float64).tiny  # a column already solved takes no step
    table = start.copy()
    residual = np.asarray(a.T @ targets) + ridge * start - normal(table)
    direction, power = residual.copy(), (residual**2).sum(axis=0)
    for _ in range(iterations):
        if np.sqrt(power.max()) < 1e-6:
            break
        product = normal(direction)
        step = power / np.maximum((direction * product).sum(axis=0), tiny)
        table += step * direction
        residual -= step * product
        new_power = (residual**2).sum(axis=0)
        direction = residual + (new_power / np.maximum(power, tiny)) * direction
        power = new_power
    return table


class Static(Family):
    name = "static"
    Settings = StaticSettings
    trains_with_torch = True
    requires = ("tfidf",)

    def fit(
        self,
        settings: StaticSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        tfidf = fitted["tfidf"]
        start = time.perf_counter()
        static = StaticVectors(
            settings.pretrained,
            settings.sif,
            settings.contextual,
            settings.regress,
            cache=context.cache,
        )
        static.fit(data.texts)
        features = FeatureUnion(
            [("tfidf", tfidf.vectorizer), ("static", static)],
            transformer_weights={"tfidf": 1.0, "static": settings.scale},
        )
        classifier = clone(tfidf.classifier).set_params(C=settings.C or tfidf.classifier.C)
        if isinstance(classifier, MultiLabelLinear):  # NB ratios count terms: not for
            classifier.set_params(nb_alpha=None)  # the static vector's dense columns
        targets = data.targets(context.single_label, isinstance(classifier, FineLabelLinear))
        classifier.fit(features.transform(list(data.texts)), targets)
        for key in COEFFICIENTS:  # float32 in the bundle: half the size; the run scores
            if hasattr(classifier, key):  # with the same rounded values
                setattr(classifier, key, getattr(classifier, key).astype(np.float32))
        return FittedModel(
            self.name,
            Pipeline([("features", features), ("classifier", classifier)]),
            ["tfidf", "static"],
            fit_seconds=round(time.perf_counter() - start, 3),
            extra={"scale": settings.scale, "dims": static.vectors_.shape[1]},
        )

    def export(self, model: FittedModel) -> Exported:
        """The learner's state with ``scale`` folded into the static columns' weights."""
        state = learner_state(model.classifier)
        arrays = dict(state.arrays)
        dims = model.extra["dims"]
        for key in ("coef", "fine_coef"):
            if key in arrays:
                arrays[key] = arrays[key].copy()
                arrays[key][:, -dims:] *= np.float32(model.extra["scale"])
        return Exported(state.spec, arrays)

    def feature_state(self, model: FittedModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        static = model.pipeline.named_steps["features"].transformer_list[1][1]
        return {"tokenizer": static.tokenizer_json_}, {
            "ids": static.ids_.astype(np.int64),
            "vectors": static.vectors_,
        }

    def describe(self, settings: StaticSettings, context: FitContext) -> str:
        return f"static vectors of {settings.pretrained} + tfidf, scale={settings.scale:g}"
