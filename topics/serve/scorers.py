"""How the predictor scores each model of a bundle, on the feature blocks of
:mod:`topics.serve.blocks`.

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

from topics.kernels.linear import (
    fine_margins,
    mix,
    platt_proba,
    sigmoid,
    stacked_proba,
    unsure_rows,
)
from topics.kernels.transformer import head_proba
from topics.serve.blocks import (
    ArrayError,
    Batch,
    PooledTransformer,
    StaticBlock,
    TfidfBlock,
    array,
    within,
    zero_one,
)
from topics.text import field_error, required, required_bool, required_strings


class Scorer(Protocol):
    features: list[str]
    thresholds: np.ndarray

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        """Label probabilities ``(n, n_labels)``; ``score(model, batch)`` scores another
        model of the bundle (what an ensemble mixes)."""
        ...

    def check(self, blocks: dict[str, Any], models: dict[str, Any], n_labels: int) -> None:
        """Refuse (``ValueError``) state inconsistent with the rest of the bundle:
        ``blocks`` its feature blocks, ``models`` its scorers, ``n_labels`` its labels."""
        ...


def feature_names(spec: dict[str, Any]) -> list[str]:
    """A model's feature blocks, in the order their columns are stacked."""
    names = required_strings(spec, "features")
    if names not in FEATURE_SETS:
        raise field_error("features", " or ".join(map(str, FEATURE_SETS)), names)
    return names


FEATURE_SETS = (["tfidf"], ["lda"], ["tfidf", "lda"], ["tfidf", "static"], ["embedding_topics"])


class Linear:
    """Calibrated one-vs-rest linear scores over stacked feature blocks (TF-IDF
    columns, then topic columns), as :class:`topics.families.linear.MultiLabelLinear`."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.features: list[str] = feature_names(spec)
        self.coef = array(arrays, "coef", (None, None))
        n_labels = self.coef.shape[0]
        self.coef_t = self.coef.T  # a view: each label's weights contiguous for SparseRows.dot
        self.intercept = array(arrays, "intercept", (n_labels,))
        self.thresholds = array(arrays, "thresholds", (n_labels,))
        self.platt_a = self.platt_b = None
        if "platt_a" in arrays or "platt_b" in arrays:
            self.platt_a = array(arrays, "platt_a", (n_labels,))
            self.platt_b = array(arrays, "platt_b", (n_labels,))

    def check(self, blocks: dict[str, Any], models: dict[str, Any], n_labels: int) -> None:
        missing = [name for name in self.features if name not in blocks]
        if missing:
            raise field_error("features", f"blocks of this bundle {sorted(blocks)}", missing)
        width = sum(blocks[name].width for name in self.features)
        if self.coef.shape != (n_labels, width):
            raise ArrayError(
                "coef",
                f"expected ({n_labels}, {width}): one row per label, one column per "
                f"feature of {self.features}; found {list(self.coef.shape)}",
            )

    def margins(self, batch: Batch) -> np.ndarray:
        """``X @ coef.T + intercept`` with X = [TF-IDF columns, dense columns]."""
        return self.dot(batch, self.coef_t) + self.intercept

    def dot(self, batch: Batch, weights_t: np.ndarray) -> np.ndarray:
        """``X @ weights_t``: the TF-IDF rows (sparse, first) then each dense block
        (topic proportions, static vectors) against its rows of ``weights_t``."""
        out = np.zeros((len(batch.texts), weights_t.shape[1]))
        dense = [batch.features(name) for name in self.features if name != "tfidf"]
        if "tfidf" in self.features:
            out += batch.features("tfidf").dot(weights_t)
        first = weights_t.shape[0] - sum(block.shape[1] for block in dense)
        for block in dense:
            out += block @ weights_t[first : first + block.shape[1]]
            first += block.shape[1]
        return out

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        return platt_proba(self.margins(batch), self.platt_a, self.platt_b)


class FineLabels(Linear):
    """Source-class margins stacked with per-label margins, as
    :class:`topics.families.fine_labels.FineLabelLinear` (TF-IDF features)."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super().__init__(spec, arrays)
        if self.features not in (["tfidf"], ["tfidf", "static"]):
            raise field_error("features", "['tfidf'] or ['tfidf', 'static']", self.features)
        n_labels = self.coef.shape[0]
        fine_coef = array(arrays, "fine_coef", (None, self.coef.shape[1]))
        n_classes = fine_coef.shape[0]
        self.fine_coef_t = fine_coef.T
        self.fine_intercept = array(arrays, "fine_intercept", (n_classes,))
        self.groups = zero_one(array(arrays, "groups", (n_classes, n_labels), "iub"), "groups")
        self.stack_w = array(arrays, "stack_w", (n_labels, 2))
        self.stack_b = array(arrays, "stack_b", (n_labels,))

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        fine = self.dot(batch, self.fine_coef_t) + self.fine_intercept
        margins = fine_margins(fine, self.groups)
        return stacked_proba(margins, self.margins(batch), self.stack_w, self.stack_b)


class Encoder:
    """A fine-tuned transformer, as :class:`topics.families.encoder.EncoderClassifier`;
    reads the texts itself."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.transformer = PooledTransformer(spec, arrays)
        try:
            self.softmax = required_bool(required(spec, "encoder"), "softmax")
        except ValueError as exc:
            raise within("encoder", exc) from exc
        hidden = self.transformer.hidden
        self.features: list[str] = ["encoder"]
        self.coef = array(arrays, "coef", (None, hidden))
        self.intercept = array(arrays, "intercept", (self.coef.shape[0],))
        self.groups = zero_one(
            array(arrays, "groups", (self.coef.shape[0], None), "iubf"), "groups"
        )
        self.thresholds = array(arrays, "thresholds", (self.groups.shape[1],))

    def check(self, blocks: dict[str, Any], models: dict[str, Any], n_labels: int) -> None:
        if self.thresholds.shape != (n_labels,):
            raise ArrayError("thresholds", f"expected ({n_labels},), one per label")

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        pooled = self.transformer.embed(batch.texts)
        return head_proba(pooled, self.coef, self.intercept, self.groups, self.softmax)


class FewShot:
    """Seeded self-training's student, as :class:`topics.families.few_shot.SeededSelfTraining`:
    one logistic regression per label over its own TF-IDF columns and the unit
    sentence vector: static (``spec["static"]``, a lookup) or the transformer's
    (``spec["encoder"]``); reads the texts itself."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.features: list[str] = ["few_shot"]
        self.tfidf = _block(TfidfBlock, spec, arrays, "tfidf")
        self.vectors: Callable[[Sequence[str]], np.ndarray]  # texts -> unit vectors
        if "static" in spec:
            static = _block(StaticBlock, spec, arrays, "static")
            self.vectors, hidden = static.transform, static.width
        else:
            transformer = PooledTransformer(spec, arrays)
            self.vectors, hidden = transformer.unit_vectors, transformer.hidden
        width = self.tfidf.width + hidden
        self.coef = array(arrays, "coef", (None, width))
        n_labels = self.coef.shape[0]
        self.coef_t = self.coef.T
        self.intercept = array(arrays, "intercept", (n_labels,))
        self.thresholds = array(arrays, "thresholds", (n_labels,))

    def check(self, blocks: dict[str, Any], models: dict[str, Any], n_labels: int) -> None:
        if self.thresholds.shape != (n_labels,):
            raise ArrayError("thresholds", f"expected ({n_labels},), one per label")

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        words = self.tfidf.width
        vectors = self.vectors(batch.texts)
        margins = self.tfidf.transform(batch.texts).dot(self.coef_t[:words])
        return sigmoid(margins + vectors @ self.coef_t[words:] + self.intercept)


def _block(
    kind: Callable[..., Any], spec: dict[str, Any], arrays: dict[str, np.ndarray], name: str
) -> Any:
    """The feature block ``spec[name]`` of a model that reads its texts itself, from
    its arrays ``name.*``."""
    prefix = name + "."
    own = {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
    try:
        return kind(required(spec, name), own)
    except ValueError as exc:
        raise within(name, exc) from exc


class Ensemble:
    """A weighted mean of other models' probabilities, as
    :class:`topics.families.ensemble.ProbabilityEnsemble` (weights may be per label);
    with ``spec["band"]`` a cascade: the second model scores only the texts where the
    first leaves a mixed label inside the band."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.features: list[str] = []
        members = required(spec, "members")
        if not (
            isinstance(members, dict)
            and len(members) == 2
            and all(type(w) in (int, float) and 0 <= w <= 1 for w in members.values())
        ):
            raise field_error("members", "two model names with weights in [0, 1]", members)
        self.members: dict[str, float | np.ndarray] = dict(members)
        self.thresholds = array(arrays, "thresholds", (None,))
        if "label_weights" in arrays:  # the first member's, per label
            shares = array(arrays, "label_weights", self.thresholds.shape)
            if not ((shares >= 0) & (shares <= 1)).all():
                raise ArrayError("label_weights", "expected values in [0, 1]")
            first, second = members
            self.members = {first: shares, second: 1.0 - shares}
        self.band: tuple[float, float] | None = None
        if "band" in spec:
            band = spec["band"]
            if not (
                isinstance(band, list)
                and len(band) == 2
                and all(type(v) in (int, float) for v in band)
                and 0 <= band[0] <= band[1] <= 1
            ):
                raise field_error("band", "[low, high] with 0 <= low <= high <= 1", band)
            self.band = (float(band[0]), float(band[1]))

    def check(self, blocks: dict[str, Any], models: dict[str, Any], n_labels: int) -> None:
        if self.thresholds.shape != (n_labels,):
            raise ArrayError("thresholds", f"expected ({n_labels},), one per label")
        for member in self.members:
            # an ensemble mixes models that score texts themselves: no cycles
            if member not in models or isinstance(models[member], Ensemble):
                raise field_error("members", "models of this bundle other than ensembles", member)

    def scores(self, batch: Batch, score: Callable[[str, Batch], np.ndarray]) -> np.ndarray:
        (first_name, first_share), (second_name, _) = self.members.items()
        first = score(first_name, batch)
        if self.band is None:
            second = score(second_name, batch)
        else:
            mixed = np.broadcast_to(np.asarray(first_share) < 1, first.shape[1:])
            rows = np.flatnonzero(unsure_rows(first, self.band, mixed))
            second = first.copy()
            if len(rows):
                passed = Batch([batch.texts[int(i)] for i in rows], batch.blocks)
                second[rows] = score(second_name, passed)
        return mix([first, second], list(self.members.values()))


SCORERS: dict[str, Callable[[dict[str, Any], dict[str, np.ndarray]], Scorer]] = {
    "linear": Linear,
    "fine_labels": FineLabels,
    "encoder": Encoder,
    "ensemble": Ensemble,
    "few_shot": FewShot,
}
