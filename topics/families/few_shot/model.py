"""The few-shot estimator: seeded self-training from a handful of labelled texts,
seed words, label descriptions and the unlabelled archive (see
:mod:`topics.families.few_shot`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from topics.errors import ConfigError
from topics.families.base import ArrayStore
from topics.families.features import make_vectorizer
from topics.families.few_shot.hints import (
    closeness,
    embed_unique,
    none_shadows,
    seeded_hints,
    sentences,
)
from topics.families.few_shot.teachers import fit_logreg, noisy_student, teacher_scores
from topics.families.sentence_encoder import MINILM, TorchBertEmbedder
from topics.families.static import StaticVectors
from topics.kernels.linear import sigmoid
from topics.progress import stage


class SeededSelfTraining(ClassifierMixin, BaseEstimator):
    """Multi-label classifier from few (or no) labelled texts, seed words, label
    descriptions and an unlabelled archive (see the module docstring).

    Parameters
    ----------
    label_names
        The labels, in column order.
    descriptions
        Label -> a sentence or a few keywords describing it, or a list of them (its
        parts: the text's nearest one counts); may miss labels.
    seed_words
        Label -> words whose presence hints at the label (may miss labels).
    none_descriptions
        Sentences saying what texts with none of the labels are about. A text gets
        no hint of a described label unless the label's description is nearer than
        the nearest of these by ``none_margin`` (cosine similarity).
    none_margin
        See ``none_descriptions``.
    pretrained
        The sentence encoder: a folder, a hub id, or the packaged all-MiniLM-L6-v2.
    max_length
        Tokens kept per text.
    vectors
        The student's sentence vector: ``"encoder"``, the encoder's own pass, or
        ``"static"``, token vectors distilled from the encoder (a lookup: the
        bundle scores at TF-IDF speed, with no transformer). Hints and the teacher
        always use the encoder.
    scale
        Weight of the sentence vector beside the student's TF-IDF columns; below 1
        the student leans more on the archive's own words.
    description_threshold
        Cosine similarity to a label's description at which it hints at the label.
    teacher
        ``"frozen"``: a balanced logistic regression on the labelled texts'
        embeddings; ``"finetune"``: the encoder fine-tuned end to end on them
        (``teacher_epochs``), a sigmoid per label. Both serve training only: the
        bundle keeps the student.
    teacher_epochs
        Epochs of the fine-tuned teacher.
    confident
        Teacher probability at which a pseudo-label needs no hint; 1: never (the
        teacher only confirms hints).
    min_agreement
        Least share of a label's hinted texts its teacher confirms: where it says
        yes to fewer, its best-scored hinted texts are pseudo-labelled.
    teacher_min_positives
        Labelled examples a label needs before the teacher, not its hints, decides
        its pseudo-labels; a label with no hint always takes the teacher's.
    labelled_weight
        Weight of a labelled text against a pseudo-labelled one in the student.
    C
        Inverse regularisation of the student.
    rounds
        Students fitted in turn; from the second on, each learns the previous
        one's labels of the archive.
    encoder_epochs
        0: the last student scores. Above 0, a noisy student: the encoder
        (``pretrained``) fine-tuned this many epochs on the last student's labels of
        the archive, with the labelled texts repeated ``LABELLED_REPEAT`` times,
        scores instead (a sigmoid per label, cut at 0.5).
    encoder_learning_rate
        The fine-tuned encoder's learning rate (its head's: 1e-3).
    encoder_pretrained
        The encoder the noisy student fine-tunes (a hub id or a local folder); None:
        ``pretrained``. The hints, the teacher and the linear student keep
        ``pretrained``.
    encoder_archive
        The most archive texts the fine-tuned encoder learns from (a random sample
        of them beyond it: batched by length, fine-tuning takes about 0.6 s per 32
        nyt-cap texts on 2 cores); None: all.
    vectorizer
        ``features.tfidf`` keyword arguments for the student's TF-IDF columns.
    single_label
        One label per text: ``predict`` gives class indices (argmax).
    random_state
        Seed of the logistic regressions' solvers.
    cache
        Content-keyed store of embeddings (reruns and learning curves over the same
        archive and test texts embed them once), or None.
    threads
        Torch threads; None: every core.
    """

    def __init__(
        self,
        label_names: Sequence[str] = (),
        descriptions: Mapping[str, str | Sequence[str]] | None = None,
        seed_words: Mapping[str, Sequence[str]] | None = None,
        none_descriptions: Sequence[str] | None = None,
        none_margin: float = 0.0,
        pretrained: str = MINILM,
        max_length: int = 128,
        vectors: str = "encoder",
        scale: float = 0.5,
        description_threshold: float = 0.3,
        teacher: str = "frozen",
        teacher_epochs: int = 8,
        confident: float = 0.8,
        min_agreement: float = 0.5,
        teacher_min_positives: int = 8,
        labelled_weight: float = 20.0,
        C: float = 1.0,
        rounds: int = 3,
        encoder_epochs: int = 0,
        encoder_learning_rate: float = 5e-5,
        encoder_pretrained: str | None = None,
        encoder_archive: int | None = None,
        vectorizer: Mapping[str, Any] | None = None,
        single_label: bool = False,
        random_state: int = 0,
        cache: ArrayStore | None = None,
        threads: int | None = None,
    ) -> None:
        self.label_names = label_names
        self.descriptions = descriptions
        self.seed_words = seed_words
        self.none_descriptions = none_descriptions
        self.none_margin = none_margin
        self.pretrained = pretrained
        self.max_length = max_length
        self.vectors = vectors
        self.scale = scale
        self.description_threshold = description_threshold
        self.teacher = teacher
        self.teacher_epochs = teacher_epochs
        self.confident = confident
        self.min_agreement = min_agreement
        self.teacher_min_positives = teacher_min_positives
        self.labelled_weight = labelled_weight
        self.C = C
        self.rounds = rounds
        self.encoder_epochs = encoder_epochs
        self.encoder_learning_rate = encoder_learning_rate
        self.encoder_pretrained = encoder_pretrained
        self.encoder_archive = encoder_archive
        self.vectorizer = vectorizer
        self.single_label = single_label
        self.random_state = random_state
        self.cache = cache
        self.threads = threads

    # -- fit ---------------------------------------------------------------------
    def fit(
        self, X: Sequence[str], y: Any = None, unlabelled: Sequence[str] | None = None
    ) -> SeededSelfTraining:
        """Learn from labelled texts ``X`` with their 0/1 matrix ``y`` (zero rows
        allowed, or class indices for single-label data) and the ``unlabelled`` archive."""
        labels = list(self.label_names)
        n_labels = len(labels)
        texts = [str(text) for text in X]
        y_lab = _indicator(y, len(texts), n_labels)
        archive = [str(text) for text in (unlabelled or [])]
        if not texts and not archive:
            raise ConfigError("few_shot: no text to learn from; give labelled or unlabelled texts")
        if self.vectors not in ("static", "encoder"):
            raise ConfigError(f"few_shot: vectors is 'static' or 'encoder', not {self.vectors!r}")
        if self.teacher not in ("frozen", "finetune"):
            raise ConfigError(f"few_shot: teacher is 'frozen' or 'finetune', not {self.teacher!r}")
        self._check_hints(labels, y_lab)

        stage(f"few_shot: embed {len(set(archive) | set(texts))} texts")
        self.embedder_ = TorchBertEmbedder(
            self.pretrained, self.max_length, threads=self.threads, owner="few_shot"
        )
        vectors = self._embed_unique(texts + archive)
        emb_lab, emb_arch = vectors[: len(texts)], vectors[len(texts) :]

        hints = self._hints(archive, emb_arch, labels)  # (n_archive, n_labels) or -1: none
        self.none_shadows_ = self._none_shadows(emb_lab, y_lab, labels)
        taught = [
            j
            for j in range(n_labels)
            if len(np.unique(y_lab[:, j])) == 2
            and not (y_lab[:, j].sum() < self.teacher_min_positives and (hints[:, j] >= 0).all())
        ]
        scores = teacher_scores(self, texts, y_lab, emb_lab, archive, emb_arch) if taught else None
        pseudo = self._pseudo_labels(hints, scores, taught)

        self.pseudo_label_rate_ = pseudo.mean(axis=0)  # share of the archive, per label
        stage(f"few_shot: student on {len(archive)} pseudo-labelled + {len(texts)} labelled")
        self.vectorizer_ = make_vectorizer(**dict(self.vectorizer or {}))
        self.vectorizer_.fit(archive + texts)
        if self.vectors == "static":
            stage("few_shot: static token vectors")
            self.static_ = StaticVectors(self.pretrained, cache=self.cache).fit(archive + texts)
            student_vectors = self.static_.transform(archive + texts)
        else:
            student_vectors = np.vstack([emb_arch, emb_lab])
        features = self._features(archive + texts, student_vectors)
        targets = np.vstack([pseudo, y_lab]).astype(np.int8)
        weights = np.r_[np.ones(len(archive)), np.full(len(texts), self.labelled_weight)]
        for round_ in range(self.rounds if archive else 1):
            if round_:  # the student's own labels of the archive teach the next student
                margins = features[: len(archive)] @ self.coef_.T + self.intercept_
                pseudo = (sigmoid(np.asarray(margins)) >= 0.5).astype(np.int8)
                targets[: len(archive)] = pseudo
            self._fit_student(features, targets, weights)
        self.encoder_ = None
        if self.encoder_epochs and archive:
            margins = np.asarray(features[: len(archive)] @ self.coef_.T + self.intercept_)
            self.encoder_ = noisy_student(self, archive, margins, texts, y_lab)
        self.thresholds_ = np.full(n_labels, 0.5)
        self.n_labelled_ = len(texts)
        # no held-out labels to rank it against other models: name it with model.primary
        self.validation_score_ = 0.0
        self.classes_ = np.arange(n_labels)
        return self

    def _pseudo_labels(
        self, hints: np.ndarray, scores: np.ndarray | None, taught: list[int]
    ) -> np.ndarray:
        """The archive's pseudo-labels: a taught label's where its teacher (``scores``)
        says yes and its hint agrees (or the teacher is sure on its own), at least
        ``min_agreement`` of its hinted texts; any other label's where it is hinted."""
        pseudo = np.zeros(hints.shape, dtype=np.int8)
        for j in range(hints.shape[1]):
            if scores is None or j not in taught:
                pseudo[:, j] = hints[:, j] == 1
                continue
            sure = scores[:, j]
            agreed = (sure >= 0.5) & (hints[:, j] != 0)  # a label with no hint: teacher alone
            pseudo[:, j] = agreed | ((sure >= self.confident) & (self.confident < 1))
            hinted = np.flatnonzero(hints[:, j] == 1)
            least = int(np.ceil(self.min_agreement * len(hinted)))
            if agreed.sum() < least:  # the teacher's best-scored hinted texts
                pseudo[hinted[np.argsort(-sure[hinted], kind="stable")[:least]], j] = 1
        return pseudo

    def _fit_student(self, features: Any, targets: np.ndarray, weights: np.ndarray) -> None:
        n_labels = targets.shape[1]
        self.coef_ = np.zeros((n_labels, features.shape[1]))
        self.intercept_ = np.full(n_labels, -30.0)  # a label never seen: never given
        for j in range(n_labels):
            student = fit_logreg(features, targets[:, j], self.random_state, weights, self.C)
            if student is not None:
                self.coef_[j] = student.coef_[0]
                self.intercept_[j] = student.intercept_[0]

    def _check_hints(self, labels: list[str], y_lab: np.ndarray) -> None:
        known = set(sentences(self.descriptions)) | set(self.seed_words or {})
        blind = [
            name for j, name in enumerate(labels) if name not in known and not y_lab[:, j].any()
        ]
        if blind:
            raise ConfigError(
                f"few_shot: no labelled example, description or seed word for {blind}; "
                "give data.label_descriptions or model.few_shot.seed_words for them, "
                "or label a few texts"
            )

    def _embed_unique(self, texts: list[str]) -> np.ndarray:
        return embed_unique(texts, self.embedder_, self.cache)

    def _none_lines(self) -> list[str]:
        return [text for text in self.none_descriptions or [] if text.strip()]

    def _closeness(self, vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return closeness(
            vectors, self.descriptions, self._none_lines(), labels, self.embedder_.embed
        )

    def _hints(self, texts: list[str], vectors: np.ndarray, labels: list[str]) -> np.ndarray:
        similarity, to_none = self._closeness(vectors, labels)
        return seeded_hints(
            texts,
            similarity,
            to_none,
            labels,
            self.seed_words,
            set(sentences(self.descriptions)),
            self.description_threshold,
            self.none_margin,
        )

    def _none_shadows(
        self, vectors: np.ndarray, y_lab: np.ndarray, labels: list[str]
    ) -> dict[str, dict[str, int]]:
        none = self._none_lines()
        if not none or not len(vectors):
            return {}
        similarity, to_none = self._closeness(vectors, labels)
        return none_shadows(similarity, to_none, y_lab, labels, none, self.none_margin)

    def _features(self, texts: Sequence[str], vectors: np.ndarray) -> sp.csr_matrix:
        return sp.hstack(
            [self.vectorizer_.transform(list(texts)), sp.csr_matrix(self.scale * vectors)]
        ).tocsr()

    # -- predict -------------------------------------------------------------------
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "coef_")
        texts = [str(text) for text in X]
        if self.encoder_ is not None:
            return self.encoder_.predict_proba(texts)
        if self.vectors == "static":
            vectors = self.static_.transform(texts)
        else:
            vectors = self._embed_unique(texts)
        margins = self._features(texts, vectors) @ self.coef_.T + self.intercept_
        return sigmoid(np.asarray(margins))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """What :meth:`predict` returns, from :meth:`predict_proba`'s output."""
        if self.single_label:
            return proba.argmax(axis=1)
        return (proba >= self.thresholds_).astype(int)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """0/1 label matrix (single-label data: the class indices)."""
        return self.decide(self.predict_proba(X))


def _indicator(y: Any, n: int, n_labels: int) -> np.ndarray:
    if y is None or n == 0:
        return np.zeros((n, n_labels), dtype=np.int8)
    y = np.asarray(y)
    if y.ndim == 1:  # class indices
        out = np.zeros((n, n_labels), dtype=np.int8)
        out[np.arange(n), y.astype(int)] = 1
        return out
    return y.astype(np.int8)
