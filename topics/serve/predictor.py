"""Tag new text with a saved bundle, using numpy alone.

This is the everyday path (``classify``, web hooks, batch jobs), so it imports
neither sklearn, gensim, mlflow, pandas, matplotlib nor joblib, and never
unpickles anything: the bundle is plain JSON and ``.npz``. It reproduces the
trained pipelines' scores (tested to 1e-6).

>>> from topics.predict import Predictor                        # doctest: +SKIP
>>> Predictor.load("artifacts/latest").predict(["Rail freight via Aktau grew"])  # doctest: +SKIP
[{'labels': ['transport'], 'scores': {...}, 'topics': [...]}]
>>> predictor = Predictor.load("models:/topics-news@champion")  # doctest: +SKIP
>>> predictor("Rail freight via Aktau grew", threshold=0.3, max_labels=1)  # doctest: +SKIP
[{'labels': ['transport'], ...}]
>>> predictor("Rail freight via Aktau grew", topic_model="embedding_topics")  # doctest: +SKIP
[{'labels': ['transport'], 'scores': {...}, 'topics': [...]}]
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from topics import __version__
from topics.errors import BundleError
from topics.kernels.linear import decide, normalise_rows
from topics.kernels.passages import best_of, best_passages, split_passages
from topics.serve.blocks import (
    FEATURE_BLOCKS,
    ArrayError,
    Batch,
    EmbeddingTopicsBlock,
    LdaBlock,
    TfidfBlock,
)
from topics.serve.bundle import ARRAYS, SPEC, Bundle, load_bundle
from topics.serve.explain import Row, explanation, passage_sources, term_weights
from topics.serve.scorers import SCORERS, Scorer
from topics.text import field_error, required, required_bool, required_strings

__all__ = ["Predictor"]


# feature blocks that are topic models; the first a bundle has lists topics by default
TOPIC_BLOCKS = ("lda", "embedding_topics")
# MLflow URIs are fetched by topics.tracking, named here and imported only when such a
# URI is loaded: a bundle folder never imports mlflow (the predict path stays lean).
# A deliberate exception to the serve/ import rule (tests/test_layout.py), and not a
# static import: tracking wraps a Predictor for the pyfunc, so one would be a cycle.
REMOTE_SOURCES = {"models:/": "topics.tracking", "runs:/": "topics.tracking"}
Threshold = float | Mapping[str, float] | None
TopicsBlock = LdaBlock | EmbeddingTopicsBlock


def _whole_number(spec: dict[str, Any], key: str) -> int:
    """The spec's ``key``, a whole number >= 0 (default 0)."""
    value = spec.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise field_error(key, "a whole number >= 0", value)
    return value


def _is_share(value: object) -> bool:
    """A number in [0, 1] (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


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
            self.passages = _whole_number(spec, "passages")
            # by passage, a text of n passages scores a label by its ceil(n / S)-th best
            # (the bundle's model.passage_support; classify --passage-support sets it)
            self.passage_support = _whole_number(spec, "passage_support")
            self.relative_cut: float = spec.get("relative_cut", 0.0)
            if not _is_share(self.relative_cut):
                raise field_error("relative_cut", "a number in [0, 1]", self.relative_cut)
        _check_known(bundle, "feature block", list(features), FEATURE_BLOCKS)
        _check_known(bundle, "scorer kind", kinds, SCORERS)
        self.blocks = {}
        for name, block in features.items():
            with _invalid(bundle, f"features.{name}", f"{name}."):
                self.blocks[name] = FEATURE_BLOCKS[name](block, _prefixed(arrays, f"{name}."))
        self.tfidf: TfidfBlock | None = self.blocks.get("tfidf")
        self.lda: LdaBlock | None = self.blocks.get("lda")
        # the topic models whose topics predict can list; the first is the default
        self.topic_models: list[str] = [name for name in TOPIC_BLOCKS if name in self.blocks]
        self.topic_model: str | None = self.topic_models[0] if self.topic_models else None
        self.topics_block: TopicsBlock | None = self.topic_block()
        self.models: dict[str, Scorer] = {}
        for name, model in models.items():
            with _invalid(bundle, f"models.{name}", f"clf.{name}."):
                self.models[name] = SCORERS[model["kind"]](model, _prefixed(arrays, f"clf.{name}."))
        for name, scorer in self.models.items():
            with _invalid(bundle, f"models.{name}", f"clf.{name}."):
                scorer.check(self.blocks, self.models, len(self.labels))

    @classmethod
    def load(cls, path: str | Path, tracking_uri: str | None = None) -> Predictor:
        """Load and verify a bundle folder (or the ``artifacts/latest`` link), or the
        bundle behind an MLflow URI: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``,
        ``runs:/RUN_ID/model`` (from ``tracking_uri``, default ``$MLFLOW_TRACKING_URI``,
        else ``sqlite:///mlflow.db``; this one imports mlflow)."""
        text = str(path)
        source = next((m for p, m in REMOTE_SOURCES.items() if text.startswith(p)), None)
        if source is None:
            return cls(load_bundle(path))
        fetch_bundle = importlib.import_module(source).fetch_bundle
        with tempfile.TemporaryDirectory(prefix="topics-model-") as tmp:
            return cls(load_bundle(fetch_bundle(text, tmp, tracking_uri)))

    def __call__(self, texts: str | Sequence[str], **options: Any) -> list[dict[str, Any]]:
        """Same as :meth:`predict`: ``predictor("one text")`` or ``predictor([...])``."""
        return self.predict(texts, **options)

    def predict(
        self,
        texts: str | Sequence[str],
        top_k: int = 3,
        explain: bool = False,
        model: str | None = None,
        threshold: Threshold = None,
        max_labels: int | None = None,
        topic_model: str | None = None,
        passages: int | None = None,
        relative_cut: float | None = None,
    ) -> list[dict[str, Any]]:
        """Labels, calibrated scores and dominant topics for each text.

        Parameters
        ----------
        texts
            Raw article texts, or one text (a ``str``: one result in the list);
            empty text is valid and gets no labels.
        top_k
            How many dominant topics to list per document.
        explain
            Add ``explanation``: for each predicted label the terms that pushed it
            most (weight x feature value): a linear model's or a few-shot student's
            own TF-IDF terms. An encoder or ensemble has no per-term weights: the
            bundle's TF-IDF model explains its labels (``terms_model``).
        model
            Which model assigns labels; default the bundle's primary (best on train).
        threshold
            Decision threshold in [0, 1]: one value for every label, or
            ``{label: value}`` for some (the others keep the bundle's); default the
            thresholds fitted at training. On single-label data the most probable
            label is kept only if it reaches it.
        max_labels
            At most this many labels per text, the most probable first (fastText's ``-k``).
        topic_model
            Which of the bundle's topic models (:attr:`topic_models`: ``lda``,
            ``embedding_topics``) lists the dominant topics; default :attr:`topic_model`,
            its LDA when it has one, else its embedding topics.
        passages
            Score texts of ``2 * passages`` words or more passage by passage (windows
            of whole sentences of at least ``passages`` words), each label at its best
            passage's score (or as the bundle's :attr:`passage_support` says); 0: whole
            texts. Default :attr:`passages`, the bundle's ``model.passages``. Topics
            read the whole text; an explanation gives a label scored by a passage that
            passage and its terms.
        relative_cut
            Give a label only where its score reaches this share of the text's best
            label's score (after the thresholds); 0: off. Default
            :attr:`relative_cut`, the bundle's ``model.relative_cut``.

        Raises
        ------
        TypeError
            ``texts`` is neither a string nor a sequence of strings.
        ValueError
            A threshold or ``relative_cut`` is outside [0, 1], or a threshold names no
            label; ``max_labels`` < 1;
            ``model`` or ``topic_model`` is not in the bundle.
        """
        texts = _as_texts(texts)
        classifier = self._classifier(model)
        topics_block = self.topic_block(topic_model)
        topic_model = topic_model or self.topic_model
        batch = Batch(texts, self.blocks)
        proba, flat, starts, flat_scores = self._passage_scores(texts, classifier, passages, batch)
        theta = np.zeros((len(texts), 0))
        if topic_model is not None and (top_k > 0 or explain):
            theta = batch.features(topic_model)
        explainer = term_weights(self.models, classifier, self.tfidf) if explain else None
        rows = None
        if explainer is not None:  # the whole text's terms, as topics read it
            own = explainer.tfidf is not self.tfidf
            rows = explainer.tfidf.transform(texts) if own else batch.features("tfidf")
        n_docs = len(texts)
        # every label at its threshold; single-label data: exactly the most probable one
        chosen = self._decide(proba, classifier, threshold, max_labels, relative_cut)
        sources: list[dict[int, tuple[str, Row]]] = [{} for _ in texts]
        if explainer is not None and len(flat) > n_docs:  # a label scored by a passage:
            behind = best_passages(flat, starts, flat_scores, self.labels, self.passage_support)
            sources = passage_sources(explainer.tfidf, behind, chosen, self.labels)
        chosen = chosen.astype(bool).tolist()
        rounded = np.round(proba, 6).tolist()  # one conversion per batch, not per value
        labels = self.labels
        results = []
        for i in range(n_docs):
            picked = [j for j, keep in enumerate(chosen[i]) if keep]
            result: dict[str, Any] = {
                "labels": [labels[j] for j in picked],
                "scores": dict(zip(labels, rounded[i], strict=True)),
                "topics": self._topics(topics_block, theta[i], top_k) if theta.shape[1] else [],
            }
            if explain:
                row = rows.row(i) if rows is not None else None
                result["explanation"] = explanation(
                    explainer, labels, picked, row, result["topics"], sources[i]
                )
            results.append(result)
        return results

    def predict_proba(
        self, texts: str | Sequence[str], model: str | None = None, passages: int | None = None
    ) -> np.ndarray:
        """Calibrated label probabilities ``(n_texts, n_labels)``, like sklearn's
        ``predict_proba`` of the trained pipeline (``passages``: as :meth:`predict`)."""
        return self._passage_scores(_as_texts(texts), self._classifier(model), passages)[0]

    def best_passages(
        self, texts: str | Sequence[str], model: str | None = None, passages: int | None = None
    ) -> list[dict[str, str]]:
        """Per text, the passage that gives each label its score (``passages``: as
        :meth:`predict`); ``{}`` for a text scored whole."""
        texts = _as_texts(texts)
        _, flat, starts, scores = self._passage_scores(texts, self._classifier(model), passages)
        return best_passages(flat, starts, scores, self.labels, self.passage_support)

    def _passage_scores(
        self,
        texts: Sequence[str],
        classifier: Scorer,
        passages: int | None,
        batch: Batch | None = None,
    ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
        """``classifier``'s scores of ``texts``, long texts by passage (as the run's
        evaluation scores them, :func:`topics.kernels.passages.by_passage`); with the
        passages (a whole text is its one passage), where each text's first one is,
        and the passages' own scores. ``batch``: the texts' own, reused when whole."""
        words = self.passages if passages is None else passages
        if isinstance(words, bool) or not isinstance(words, int) or words < 0:
            raise ValueError(f"passages must be a whole number of words >= 0, got {words!r}")
        flat, starts = split_passages(texts, words)
        if batch is None or len(flat) != len(texts):  # passages: a batch of their own
            batch = Batch(flat, self.blocks)
        scores = self._score(batch, classifier)
        proba = best_of(scores, starts, self.passage_support)
        if self.single_label and words:
            proba = normalise_rows(proba)
        return proba, flat, starts, scores

    def _decide(
        self,
        proba: np.ndarray,
        classifier: Scorer,
        threshold: Threshold,
        max_labels: int | None,
        relative_cut: float | None = None,
    ) -> np.ndarray:
        if max_labels is not None and (isinstance(max_labels, bool) or max_labels < 1):
            raise ValueError(f"max_labels must be an int >= 1 or None, got {max_labels!r}")
        share = self.relative_cut if relative_cut is None else relative_cut
        if not _is_share(share):
            raise ValueError(f"relative_cut must be a number in [0, 1], got {share!r}")
        if threshold is None:
            return decide(proba, classifier.thresholds, self.single_label, max_labels, share)
        thresholds = self._thresholds(classifier, threshold)
        # single-label data with a threshold: the best label only if it reaches it
        limit = 1 if self.single_label else max_labels
        return decide(proba, thresholds, False, limit, share)

    def _thresholds(self, classifier: Scorer, threshold: float | Mapping[str, float]) -> np.ndarray:
        """The per-label thresholds: the bundle's, overridden by ``threshold``."""
        fitted = np.asarray(classifier.thresholds, dtype=np.float64)
        values = np.broadcast_to(fitted, (len(self.labels),)).copy()  # a scalar: every label
        given = (
            dict(threshold)
            if isinstance(threshold, Mapping)
            else dict.fromkeys(self.labels, threshold)
        )
        for label, value in given.items():
            if label not in self.labels:
                raise ValueError(
                    f"threshold for {label!r}: no such label; this bundle's labels are "
                    f"{self.labels}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"threshold for {label!r} must be in [0, 1], got {value!r}")
            values[self.labels.index(label)] = float(value)
        return values

    def topic_block(self, topic_model: str | None = None) -> TopicsBlock | None:
        """The block of ``topic_model`` (one of :attr:`topic_models`; default
        :attr:`topic_model`): its ``topic_names``, ``top_words`` and ``width``; None for
        a bundle without a topic model.

        Raises
        ------
        ValueError
            ``topic_model`` is not one of this bundle's topic models.
        """
        if topic_model is None:
            return self.blocks[self.topic_model] if self.topic_model else None
        if topic_model not in self.topic_models:
            has = f"it has {self.topic_models}" if self.topic_models else "it has none"
            raise ValueError(f"topic model {topic_model!r} is not in this bundle; {has}")
        block: TopicsBlock = self.blocks[topic_model]
        return block

    def _classifier(self, model: str | None) -> Scorer:
        name = model or self.primary
        if name not in self.models:
            raise ValueError(f"model {name!r} is not in this bundle; it has {sorted(self.models)}")
        return self.models[name]

    def _score(self, batch: Batch, scorer: Scorer) -> np.ndarray:
        """Probabilities of one model; single-label data: over the classes."""
        proba = scorer.scores(batch, lambda member, same: self._score(same, self.models[member]))
        return normalise_rows(proba) if self.single_label else proba

    @staticmethod
    def _topics(block: TopicsBlock | None, weights: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        assert block is not None
        order = np.argsort(-weights, kind="stable")[:top_k]
        names, words = block.topic_names, block.top_words
        return [
            {
                "topic": int(k),
                "name": names[k],
                "weight": round(float(weights[k]), 6),
                "words": words[k],
            }
            for k in order
        ]


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


def _as_texts(texts: str | Sequence[str]) -> Sequence[str]:
    """One text as a list of one; anything but strings is refused (a ``str`` is a
    sequence of characters, and would otherwise give one result per character)."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, bytes | bytearray) or not isinstance(texts, Sequence):
        raise TypeError(
            f"expected a str or a sequence of str, got {type(texts).__name__}; "
            "decode bytes first, and pass a list for several texts"
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}]: expected a str, got {type(text).__name__}")
    return texts


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
