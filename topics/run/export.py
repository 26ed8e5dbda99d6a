"""Turn fitted estimators into the portable bundle (:mod:`topics.serve.bundle`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from topics.families.encoder import EncoderClassifier
from topics.families.ensemble import ProbabilityEnsemble
from topics.families.fine_labels import FineLabelLinear
from topics.families.lda.model import LdaTopics
from topics.families.linear import MultiLabelLinear
from topics.kernels.lda import DEFAULT_MAX_ITER, DEFAULT_TOL
from topics.serve.bundle import save_bundle
from topics.text import TextAnalyzer

Classifier = MultiLabelLinear | FineLabelLinear | EncoderClassifier | ProbabilityEnsemble


def export_bundle(
    directory: str | Path,
    labels: list[str],
    primary: str,
    classifiers: dict[str, tuple[list[str], Classifier]],
    provenance: dict[str, Any],
    vectorizer: TfidfVectorizer | None = None,
    lda: LdaTopics | None = None,
    single_label: bool = False,
) -> Path:
    """Write every model to one bundle.

    Parameters
    ----------
    classifiers
        ``{model name: (feature blocks, fitted classifier)}``; feature blocks are
        ``"tfidf"`` and/or ``"lda"``, in the order their columns were stacked, or
        ``"encoder"`` (the classifier reads the text itself), or none (an
        ensemble of the other models).
    primary
        The model whose labels ``classify`` reports by default.
    single_label
        One label per document: ``classify`` reports the most probable label.
    """
    spec: dict[str, Any] = {"labels": list(labels), "primary": primary, "models": {}}
    if single_label:
        spec["single_label"] = True
    arrays: dict[str, np.ndarray] = {}
    if vectorizer is not None:
        analyzer = vectorizer.analyzer
        assert isinstance(analyzer, TextAnalyzer), "the vectorizer must use topics.text"
        vocabulary = [""] * len(vectorizer.vocabulary_)
        for term, index in vectorizer.vocabulary_.items():
            vocabulary[index] = term
        spec["tfidf"] = {
            "analyzer": analyzer.to_dict(),
            "vocabulary": vocabulary,
            "sublinear_tf": bool(vectorizer.sublinear_tf),
            "norm": vectorizer.norm,
        }
        arrays["tfidf.idf"] = vectorizer.idf_.astype(np.float64)
    if lda is not None:
        spec["lda"] = {
            "tokenizer": lda.tokenizer_.to_dict(),
            "vocabulary": lda.vocabulary_,
            "top_words": lda.top_words_,
            "max_iter": DEFAULT_MAX_ITER,
            "tol": DEFAULT_TOL,
        }
        arrays["lda.exp_elog_beta"] = lda.exp_elog_beta_
        arrays["lda.alpha"] = lda.alpha_
        arrays["lda.topic_word"] = lda.topic_word_
    for name, (features, classifier) in classifiers.items():
        spec["models"][name] = {"features": features}
        prefix = f"clf.{name}."
        if isinstance(classifier, ProbabilityEnsemble):
            spec["models"][name].update(kind="ensemble", members=classifier.member_weights())
            arrays[prefix + "thresholds"] = classifier.thresholds_
            arrays[prefix + "label_weights"] = classifier.label_weights_
            continue
        arrays[prefix + "coef"] = classifier.coef_
        arrays[prefix + "intercept"] = classifier.intercept_
        arrays[prefix + "thresholds"] = classifier.thresholds_
        if isinstance(classifier, EncoderClassifier):
            encoder_spec, weights = classifier.export()
            spec["models"][name].update(kind="encoder", encoder=encoder_spec)
            arrays[prefix + "groups"] = classifier.groups_
            arrays.update({f"{prefix}bert.{key}": value for key, value in weights.items()})
            continue
        if isinstance(classifier, FineLabelLinear):
            spec["models"][name]["kind"] = "fine_labels"
            arrays[prefix + "fine_coef"] = classifier.fine_coef_
            arrays[prefix + "fine_intercept"] = classifier.fine_intercept_
            arrays[prefix + "groups"] = classifier.groups_.astype(np.int64)
            arrays[prefix + "stack_w"] = classifier.stack_w_
            arrays[prefix + "stack_b"] = classifier.stack_b_
            continue
        arrays[prefix + "platt_a"] = classifier.platt_a_
        arrays[prefix + "platt_b"] = classifier.platt_b_
    return save_bundle(directory, spec, arrays, provenance)
