"""The encoders the few-shot model fine-tunes: the teacher that scores the archive from
the labelled texts (``teacher: finetune``) and the noisy student that learns the
student's labels of the archive (``encoder_epochs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from topics.families.encoder import EncoderClassifier
from topics.families.features import _texts_digest
from topics.progress import stage

if TYPE_CHECKING:
    from topics.families.few_shot.model import SeededSelfTraining

# times each labelled text is seen by the noisy student (encoder_epochs), beside one
# pass over the pseudo-labelled archive; fixed, not tuned
LABELLED_REPEAT = 4


def teacher_scores(
    model: SeededSelfTraining,
    texts: list[str],
    y_lab: np.ndarray,
    emb_lab: np.ndarray,
    archive: list[str],
    emb_arch: np.ndarray,
) -> np.ndarray:
    """The teacher's probability of each label for each archive text, from the
    labelled ``texts`` (their embeddings ``emb_lab``)."""
    if model.teacher == "finetune":
        return _finetuned_scores(model, texts, y_lab, archive)
    scores = np.zeros((len(archive), y_lab.shape[1]))
    for j in range(y_lab.shape[1]):
        teacher = fit_logreg(emb_lab, y_lab[:, j], model.random_state)
        if teacher is not None:
            scores[:, j] = teacher.predict_proba(emb_arch)[:, 1]
    return scores


def _finetuned_scores(
    model: SeededSelfTraining, texts: list[str], y_lab: np.ndarray, archive: list[str]
) -> np.ndarray:
    """The encoder fine-tuned on the labelled texts scores the archive; with a
    cache, the scores are kept by the labelled texts, their labels, the archive
    and the settings (not the fine-tuned model: 90 MB an entry, and only the
    scores are read again)."""
    teacher = _encoder(model, model.teacher_epochs, 5e-5, batch_size=16)
    cache, key = model.cache, ""
    if cache is not None:
        key = cache.key(
            "teacher",
            model.embedder_.digest(),
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
        cache.save("teacher", key, {"model": model.pretrained}, {"scores": scores})
    return scores


def noisy_student(
    model: SeededSelfTraining,
    archive: list[str],
    margins: np.ndarray,
    texts: list[str],
    y_lab: np.ndarray,
) -> EncoderClassifier:
    """The encoder fine-tuned on the archive at the student's labels (from its
    ``margins``; at most ``encoder_archive`` of its texts) and the labelled texts."""
    keep = np.arange(len(archive))
    if model.encoder_archive is not None and len(archive) > model.encoder_archive:
        rng = np.random.default_rng(model.random_state)
        keep = np.sort(rng.permutation(len(archive))[: model.encoder_archive])
    encoder = _encoder(model, model.encoder_epochs, model.encoder_learning_rate, batch_size=32)
    encoder.set_params(
        pretrained=model.encoder_pretrained or model.pretrained,
        single_label=model.single_label,
        cache=model.cache,
        group_by_length=True,
    )
    stage(
        f"few_shot: fine-tune the encoder on {len(keep)} pseudo-labelled"
        f" + {len(texts)} labelled texts"
    )
    if model.single_label:  # class indices, as the student decides
        targets = np.r_[
            margins[keep].argmax(axis=1), np.tile(y_lab.argmax(axis=1), LABELLED_REPEAT)
        ]
    else:
        targets = np.vstack([margins[keep] >= 0] + [y_lab] * LABELLED_REPEAT).astype(np.int8)
    return encoder.fit([archive[i] for i in keep] + texts * LABELLED_REPEAT, targets)


def _encoder(
    model: SeededSelfTraining, epochs: int, learning_rate: float, batch_size: int
) -> EncoderClassifier:
    """The sentence encoder to fine-tune on the labels, with no held-out share."""
    return EncoderClassifier(
        pretrained=model.pretrained,
        label_names=list(model.label_names),
        max_length=model.max_length,
        epochs=epochs,
        learning_rate=learning_rate,
        head_learning_rate=1e-3,
        batch_size=batch_size,
        validation_fraction=0.0,
        random_state=model.random_state,
        threads=model.threads,
    )


def fit_logreg(
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
