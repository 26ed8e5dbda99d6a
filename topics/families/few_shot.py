"""Few-shot labels (``model.few_shot``): from zero or a handful of labelled articles
plus the unlabelled archive, by seeded self-training.

1. **Hints.** Every text of the archive (the training texts and
   ``TrainingData.unlabelled``) is embedded by the packaged sentence encoder
   (all-MiniLM-L6-v2, mean pooling, unit length). A label's *hint* marks the texts
   that hold one of its seed words, or whose cosine similarity to its description
   (``data.label_descriptions``: a sentence, or a list of them, e.g. a codebook's
   subtopics, of which the nearest counts) reaches ``description_threshold``. With
   ``none_descriptions`` (what the texts with none of the labels are about: a
   codebook's other topics), a text gets no hint of a label, from its description or
   its seed words, unless the label's description is nearer than the nearest of
   them by ``none_margin``.
2. **Teacher.** With labelled texts, a one-vs-rest logistic regression on their
   embeddings (``teacher: frozen``), or the encoder fine-tuned on them, one sigmoid
   per label (``teacher: finetune``), scores the archive; a text gets a
   pseudo-label where the teacher says yes and the hint agrees, or where the
   teacher is sure on its own (``confident``). The teacher confirms at least
   ``min_agreement`` of a label's hinted texts, its best-scored ones: a teacher of
   unusual examples (the model's least certain guesses, which ``topics suggest``
   picks) would keep too few. A label with fewer than ``teacher_min_positives``
   labelled examples keeps its hints as pseudo-labels (a teacher of one or two
   examples would undo them); with no labelled text, the hints are the pseudo-labels.
3. **Student.** One logistic regression per label on TF-IDF columns and a
   sentence vector (weighted ``scale``), fitted on the whole pseudo-labelled
   archive plus the labelled texts (weighted ``labelled_weight``): it learns the
   archive's own vocabulary, which a handful of examples cannot show. Each next
   student learns the one before's labels of the archive (``rounds`` students in
   all). The sentence vector is ``vectors``:
   the encoder's own embedding, or static token vectors distilled from it (the
   ``static`` family's, a lookup).

The bundle keeps the student's coefficients, the TF-IDF vocabulary and the
encoder's float32 weights (or the static token vectors); :mod:`topics.serve.scorers`
scores it with numpy. Training needs ``pip install 'topics[encoder]'`` (torch,
transformers).

On nyt-cap (``benchmarks/few_shot.py``), with each label described by its CAP
codebook subtopics and the none descriptions as the codebook's other topics, it reaches
test micro-F1 0.592 with no label, 0.608 with 16 labelled per label and 0.627 with 64;
the rules, thresholds and weights above were chosen on the training years 1996-2003,
never on the test years.

>>> model = SeededSelfTraining(                                   # doctest: +SKIP
...     label_names=["economy", "transport"],
...     descriptions={"economy": "markets, banks, trade and prices"},
...     seed_words={"transport": ["airline", "railway", "road"]},
... ).fit(labelled_texts, y, unlabelled=archive)
>>> model.predict(["Kazakhstan opens a new rail line to China"])  # doctest: +SKIP
array([[0, 1]])
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from topics.errors import ConfigError
from topics.families.base import (
    ArrayStore,
    Exported,
    Family,
    FitContext,
    FittedModel,
    Section,
    TrainingData,
)
from topics.families.encoder import EncoderClassifier
from topics.families.features import _texts_digest, make_vectorizer
from topics.families.sentence_encoder import MINILM, TorchBertEmbedder
from topics.families.static import StaticVectors
from topics.families.tfidf import vectorizer_state
from topics.kernels.embedding_topics import unit_rows
from topics.kernels.linear import sigmoid
from topics.progress import stage

logger = logging.getLogger(__name__)

WORD = re.compile(r"\w+")


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
        pseudo = np.zeros((len(archive), n_labels), dtype=np.int8)
        taught = [
            j
            for j in range(n_labels)
            if len(np.unique(y_lab[:, j])) == 2
            and not (y_lab[:, j].sum() < self.teacher_min_positives and (hints[:, j] >= 0).all())
        ]
        scores = self._teacher_scores(texts, y_lab, emb_lab, archive, emb_arch) if taught else None
        for j in range(n_labels):
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
        self.thresholds_ = np.full(n_labels, 0.5)
        self.n_labelled_ = len(texts)
        # no held-out labels to rank it against other models: name it with model.primary
        self.validation_score_ = 0.0
        self.classes_ = np.arange(n_labels)
        return self

    def _teacher_scores(
        self,
        texts: list[str],
        y_lab: np.ndarray,
        emb_lab: np.ndarray,
        archive: list[str],
        emb_arch: np.ndarray,
    ) -> np.ndarray:
        """The teacher's probability of each label for each archive text, from the
        labelled ``texts`` (their embeddings ``emb_lab``)."""
        if self.teacher == "finetune":
            return self._finetuned_scores(texts, y_lab, archive)
        scores = np.zeros((len(archive), y_lab.shape[1]))
        for j in range(y_lab.shape[1]):
            teacher = _fit_logreg(emb_lab, y_lab[:, j], self.random_state)
            if teacher is not None:
                scores[:, j] = teacher.predict_proba(emb_arch)[:, 1]
        return scores

    def _finetuned_scores(
        self, texts: list[str], y_lab: np.ndarray, archive: list[str]
    ) -> np.ndarray:
        """The encoder fine-tuned on the labelled texts scores the archive; with a
        cache, the scores are kept by the labelled texts, their labels, the archive
        and the settings (not the fine-tuned model: 90 MB an entry, and only the
        scores are read again)."""
        teacher = EncoderClassifier(
            pretrained=self.pretrained,
            label_names=list(self.label_names),
            max_length=self.max_length,
            epochs=self.teacher_epochs,
            learning_rate=5e-5,
            head_learning_rate=1e-3,
            batch_size=16,
            validation_fraction=0.0,
            random_state=self.random_state,
            threads=self.threads,
        )
        cache, key = self.cache, ""
        if cache is not None:
            key = cache.key(
                "teacher",
                self.embedder_.digest(),
                {**teacher.get_params(), "threads": None},
                _texts_digest(texts),
                y_lab.tobytes().hex(),
                _texts_digest(archive),
            )
            entry = cache.load("teacher", key)
            scores = None if entry is None else entry[1].get("scores")
            if scores is not None and scores.shape == (len(archive), y_lab.shape[1]):
                return scores
        stage(f"few_shot: fine-tune the teacher on {len(texts)} labelled texts")
        teacher.fit(texts, y_lab)
        stage(f"few_shot: the teacher scores {len(archive)} archive texts")
        scores = teacher.predict_proba(archive)
        if cache is not None:
            cache.save("teacher", key, {"model": self.pretrained}, {"scores": scores})
        return scores

    def _fit_student(self, features: Any, targets: np.ndarray, weights: np.ndarray) -> None:
        n_labels = targets.shape[1]
        self.coef_ = np.zeros((n_labels, features.shape[1]))
        self.intercept_ = np.full(n_labels, -30.0)  # a label never seen: never given
        for j in range(n_labels):
            student = _fit_logreg(features, targets[:, j], self.random_state, weights, self.C)
            if student is not None:
                self.coef_[j] = student.coef_[0]
                self.intercept_[j] = student.intercept_[0]

    def _check_hints(self, labels: list[str], y_lab: np.ndarray) -> None:
        known = set(_sentences(self.descriptions)) | set(self.seed_words or {})
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

    def _hints(self, texts: list[str], vectors: np.ndarray, labels: list[str]) -> np.ndarray:
        """1 where a label's seed word or description points at a text, 0 where
        neither does, -1 in the columns of labels with neither."""
        hints = np.full((len(texts), len(labels)), -1, dtype=np.int8)
        seeds = {
            name: {w.lower() for w in words} for name, words in (self.seed_words or {}).items()
        }
        described = _sentences(self.descriptions)
        similarity, to_none = self._closeness(vectors, labels)
        nearest_none = to_none.max(axis=1) if to_none.shape[1] else np.full(len(texts), -np.inf)
        words = [set(WORD.findall(text.lower())) for text in texts] if seeds else []
        for j, name in enumerate(labels):
            if name not in seeds and name not in described:
                continue
            hit = similarity[:, j] >= self.description_threshold  # NaN (no description): False
            if name in seeds:
                hit |= np.array([bool(seeds[name] & found) for found in words], dtype=bool)
            if name in described:
                hit &= similarity[:, j] >= nearest_none + self.none_margin
            hints[:, j] = hit
        return hints

    def _none_lines(self) -> list[str]:
        return [text for text in self.none_descriptions or [] if text.strip()]

    def _closeness(self, vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of each text to its label's nearest description sentence
        ``(n, n_labels)`` (NaN: no description) and to each none line ``(n, n_none)``."""
        similarity = description_similarity(
            vectors, self.descriptions, labels, self.embedder_.embed
        )
        none = self._none_lines()
        if not none:
            return similarity, np.zeros((len(vectors), 0))
        return similarity, vectors @ unit_rows(self.embedder_.embed(none)).T

    def _none_shadows(
        self, vectors: np.ndarray, y_lab: np.ndarray, labels: list[str]
    ) -> dict[str, dict[str, int]]:
        """Label -> none description -> how many of the label's labelled examples that
        line takes the label's hints from (it is their nearest none line, and nearer
        than the label's description by ``none_margin``). One warning per line that
        takes a quarter or more of a label's examples (two at least): a none line that
        overlaps a label, e.g. "courts" for human rights."""
        none = self._none_lines()
        if not none or not len(vectors):
            return {}
        similarity, to_none = self._closeness(vectors, labels)
        shadows: dict[str, dict[str, int]] = {}
        for j, name in enumerate(labels):
            mine = y_lab[:, j] == 1
            lost = mine & (similarity[:, j] < to_none.max(axis=1) + self.none_margin)
            if not lost.any():  # NaN (no description) compares False: nothing lost
                continue
            lines, counts = np.unique(to_none[lost].argmax(axis=1), return_counts=True)
            shadows[name] = {none[i]: int(c) for i, c in zip(lines, counts, strict=True)}
            for line, count in shadows[name].items():
                if count >= max(2, mine.sum() / 4):
                    logger.warning(
                        "few_shot: the none description %r is nearer than %s's description "
                        "for %d of its %d labelled examples, so texts like them get no %s "
                        "hint; reword or remove that line, or lower model.few_shot.none_margin",
                        line,
                        name,
                        count,
                        mine.sum(),
                        name,
                    )
        return shadows

    def _features(self, texts: Sequence[str], vectors: np.ndarray) -> sp.csr_matrix:
        return sp.hstack(
            [self.vectorizer_.transform(list(texts)), sp.csr_matrix(self.scale * vectors)]
        ).tocsr()

    # -- predict -------------------------------------------------------------------
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "coef_")
        texts = [str(text) for text in X]
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


def _sentences(descriptions: Mapping[str, str | Sequence[str]] | None) -> dict[str, list[str]]:
    """Label -> its description sentences, labels with none left out."""
    out = {}
    for name, value in (descriptions or {}).items():
        sentences = [value] if isinstance(value, str) else list(value)
        if sentences := [text for text in sentences if text.strip()]:
            out[name] = sentences
    return out


def description_similarity(
    vectors: np.ndarray,
    descriptions: Mapping[str, str | Sequence[str]] | None,
    labels: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
) -> np.ndarray:
    """``(n_texts, n_labels)`` cosine similarity of each unit vector in ``vectors`` to
    the nearest of a label's description sentences, embedded by ``embed``; NaN in the
    columns of labels with no description."""
    sentences = _sentences(descriptions)
    similarity = np.full((len(vectors), len(labels)), np.nan)
    for j, name in enumerate(labels):
        if name in sentences:
            similarity[:, j] = (vectors @ unit_rows(embed(sentences[name])).T).max(axis=1)
    return similarity


def embed_unique(
    texts: Sequence[str],
    embedder: TorchBertEmbedder,
    cache: ArrayStore | None,
) -> np.ndarray:
    """Unit vectors of ``texts``, each distinct text embedded once, sorted first so
    that one set of texts is one cache entry whatever their order (every draw of a
    learning curve shares the archive's)."""
    unique = sorted(set(texts))
    vectors = None
    key = ""
    if cache is not None:
        key = cache.key("embeddings", embedder.digest(), embedder.max_length, _texts_digest(unique))
        entry = cache.load("embeddings", key)
        vectors = None if entry is None else entry[1].get("vectors")
        if vectors is not None and vectors.shape[0] != len(unique):
            logger.warning("ignoring a cached embedding entry that does not check out")
            vectors = None
    if vectors is None:
        vectors = embedder.embed(unique)
        if cache is not None:
            cache.save("embeddings", key, {"model": embedder.pretrained}, {"vectors": vectors})
    row = {text: i for i, text in enumerate(unique)}
    return unit_rows(vectors[[row[text] for text in texts]])


def _indicator(y: Any, n: int, n_labels: int) -> np.ndarray:
    if y is None or n == 0:
        return np.zeros((n, n_labels), dtype=np.int8)
    y = np.asarray(y)
    if y.ndim == 1:  # class indices
        out = np.zeros((n, n_labels), dtype=np.int8)
        out[np.arange(n), y.astype(int)] = 1
        return out
    return y.astype(np.int8)


def _fit_logreg(
    features: Any,
    target: np.ndarray,
    seed: int,
    weights: np.ndarray | None = None,
    C: float = 1.0,
) -> LogisticRegression | None:
    """A balanced logistic regression, or None when ``target`` has one class only."""
    if len(np.unique(target)) < 2:
        return None
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)
    return model.fit(features, target, sample_weight=weights)


class FewShotSettings(Section):
    """Labels from a handful of examples, seed words and label descriptions, with
    the unlabelled archive (``data.train_sample``'s rest of train): seeded
    self-training on a sentence encoder and TF-IDF. Needs the encoder extra."""

    enabled: bool = False
    pretrained: str = Field(MINILM, min_length=1)
    max_length: int = Field(128, ge=8, le=512)
    # The student's sentence vector: encoder (the transformer's pass, at predict time
    # too) or static (a lookup: scored at TF-IDF speed, a little less accurate).
    vectors: Literal["encoder", "static"] = "encoder"
    # The sentence vector's weight beside the student's TF-IDF columns (0.5 chosen on
    # the training years: benchmarks/results/few_shot_choices_scale.md).
    scale: float = Field(0.5, gt=0)
    # Label -> words whose presence hints at the label (lower case, whole words).
    seed_words: dict[str, list[str]] = Field(default_factory=dict)
    description_threshold: float = Field(0.3, gt=-1, lt=1)
    # how much nearer than the nearest of data.none_descriptions a label's
    # description must be for a text to keep the label's hints. 0: a margin of 0.1
    # scores higher on nyt-cap's training years (few_shot_choices_none.md), but from
    # 0.05 the sample corpus's Central Asia articles lose human-rights labels to
    # "crime, police and the courts" (passages_relative_none_margin_0.1.md).
    none_margin: float = Field(0.0, ge=-1, le=1)
    # the teacher: frozen (a logistic regression on the encoder's embeddings of the
    # labelled texts) or finetune (the encoder fine-tuned on them, teacher_epochs)
    teacher: Literal["frozen", "finetune"] = "frozen"
    teacher_epochs: int = Field(8, ge=1)
    # teacher probability at which a pseudo-label needs no hint; 1: never
    confident: float = Field(0.8, gt=0.5, le=1)
    # the least share of a label's hinted texts its teacher confirms (chosen on the
    # training years: benchmarks/results/suggest_curve_folds.md)
    min_agreement: float = Field(0.5, ge=0, le=1)
    # labelled examples a label needs before the teacher replaces its hints
    teacher_min_positives: int = Field(8, ge=1)
    labelled_weight: float = Field(20.0, gt=0)
    C: float = Field(1.0, gt=0)
    rounds: int = Field(3, ge=1)  # chosen on the training years: few_shot_choices_rounds.md
    threads: int | None = Field(None, ge=1)


class FewShot(Family):
    name = "few_shot"
    Settings = FewShotSettings
    trains_with_torch = True
    needs_labels = False  # seed words and label descriptions stand in for them

    def fit(
        self,
        settings: FewShotSettings,
        context: FitContext,
        data: TrainingData,
        fitted: Mapping[str, FittedModel],
    ) -> FittedModel:
        model = SeededSelfTraining(
            label_names=context.labels,
            descriptions=context.label_descriptions,
            seed_words=settings.seed_words,
            none_descriptions=context.none_descriptions,
            none_margin=settings.none_margin,
            pretrained=settings.pretrained,
            max_length=settings.max_length,
            vectors=settings.vectors,
            scale=settings.scale,
            description_threshold=settings.description_threshold,
            teacher=settings.teacher,
            teacher_epochs=settings.teacher_epochs,
            confident=settings.confident,
            min_agreement=settings.min_agreement,
            teacher_min_positives=settings.teacher_min_positives,
            labelled_weight=settings.labelled_weight,
            C=settings.C,
            rounds=settings.rounds,
            vectorizer=context.vectorizer,
            single_label=context.single_label,
            random_state=context.seed,
            cache=context.cache,
            threads=settings.threads,
        )
        start = time.perf_counter()
        model.fit(data.texts, data.targets(context.single_label), unlabelled=data.unlabelled)
        return FittedModel(
            self.name,
            Pipeline([("classifier", model)]),
            ["few_shot"],
            fit_seconds=round(time.perf_counter() - start, 3),
        )

    def export(self, model: FittedModel) -> Exported:
        """The student's coefficients and TF-IDF state, with its static token vectors
        (``static.*``) or the encoder's weights (``bert.*``)."""
        classifier: SeededSelfTraining = model.classifier
        tfidf_spec, tfidf_arrays = vectorizer_state(classifier.vectorizer_)
        spec: dict[str, Any] = {"kind": "few_shot", "tfidf": tfidf_spec}
        words = len(tfidf_arrays["idf"])
        coef = classifier.coef_.copy()
        coef[:, words:] *= classifier.scale  # the scorer reads unscaled vectors
        arrays = {
            "coef": coef,
            "intercept": classifier.intercept_,
            "thresholds": classifier.thresholds_,
            "tfidf.idf": tfidf_arrays["idf"],
        }
        if classifier.vectors == "static":
            static = classifier.static_
            spec["static"] = {"tokenizer": static.tokenizer_json_}
            arrays |= {
                "static.ids": static.ids_.astype(np.int64),
                "static.vectors": static.vectors_,
            }
        else:
            spec["encoder"], weights = classifier.embedder_.export()
            arrays |= {f"bert.{key}": value for key, value in weights.items()}
        return Exported(spec, arrays)

    def check(
        self, settings: FewShotSettings, labels: list[str], label_map: dict | None
    ) -> str | None:
        unknown = sorted(set(settings.seed_words) - set(labels))
        if unknown:
            return f"model.few_shot.seed_words: {unknown} are not among data.labels {labels}"
        return None

    def describe(self, settings: FewShotSettings, context: FitContext) -> str:
        return f"few_shot self-training, {settings.vectors} vectors, C={settings.C:g}"
