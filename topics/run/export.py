"""Fitted families -> the portable bundle (:mod:`topics.serve.bundle`), format 2.

The spec holds the labels, the primary model, each feature block (``tfidf``,
``lda``: owned by the family that fitted it) and, per model, its family, the
scorer ``kind`` and its typed state; every array is named
``<feature block>.<key>`` or ``clf.<model>.<key>``. Given held-out texts, the spec
also carries the training side of drift reports (:mod:`topics.evaluate.drift`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from topics.evaluate.drift_counts import MAX_SUMMARY_DOCS, SUMMARY_KEY, count_texts
from topics.families import FAMILIES
from topics.families.base import FittedModel
from topics.serve.bundle import Bundle, save_bundle
from topics.serve.predictor import Predictor


def export_bundle(
    directory: str | Path,
    labels: list[str],
    primary: str,
    models: dict[str, FittedModel],
    provenance: dict[str, Any],
    single_label: bool = False,
    passages: int = 0,
    passage_support: int = 0,
    relative_cut: float = 0.0,
    held_out_texts: Sequence[str] | None = None,
    keep: Sequence[str] | None = None,
) -> Path:
    """Write every model of ``models`` (by family name) to one bundle.

    Parameters
    ----------
    primary
        The model whose labels ``classify`` reports by default.
    single_label
        One label per document: ``classify`` reports the most probable label.
    passages
        ``model.passages``: ``classify`` scores texts passage by passage
        (:mod:`topics.kernels.passages`); 0, the texts whole.
    passage_support
        ``model.passage_support``: a label scores the ``ceil(n / passage_support)``-th
        best of a text's ``n`` passages; 0, its best.
    relative_cut
        ``model.relative_cut``: ``classify`` gives a label only where it scores that
        share of the text's best label's score; 0, each label at its threshold.
    held_out_texts
        Texts the model did not train on (the test split): the primary model's
        predictions on :data:`~topics.evaluate.drift_counts.MAX_SUMMARY_DOCS` of
        them at most (every k-th) are the training side of ``topics drift``, stored as the spec's
        ``training_summary`` (a few KB). None: the bundle has no summary.
    keep
        The models to write, with the models they mix (an ensemble's members) and
        the feature blocks they read; None: every model of ``models``.
    """
    spec: dict[str, Any] = {"labels": list(labels), "primary": primary, "features": {}}
    if single_label:
        spec["single_label"] = True
    if passages:
        spec["passages"] = passages
    if passage_support:
        spec["passage_support"] = passage_support
    if relative_cut:
        spec["relative_cut"] = relative_cut
    states = {name: FAMILIES[name].export(model) for name, model in models.items()}
    wanted, kept = list(models if keep is None else keep), set()
    while wanted:
        name = wanted.pop()
        if name not in kept:
            kept.add(name)
            wanted.extend(states[name].spec.get("members", {}))
    blocks = {block for name in kept for block in models[name].features}
    spec["models"] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, model in models.items():
        block, block_arrays = FAMILIES[name].feature_state(model) if name in blocks else ({}, {})
        if block:  # the feature block this model's family owns, read by a kept model
            spec["features"][name] = block
            arrays.update({f"{name}.{key}": value for key, value in block_arrays.items()})
        if name in kept:
            state = states[name]
            spec["models"][name] = {"family": name, "features": model.features, **state.spec}
            arrays.update({f"clf.{name}.{key}": value for key, value in state.arrays.items()})
    if held_out_texts:
        # scored by the serving code itself, as topics drift will score a batch
        in_memory = {key: np.asarray(value) for key, value in arrays.items()}
        predictor = Predictor(Bundle(Path(directory), {}, spec, in_memory))
        # every k-th text, not the first ones: a split by date keeps its whole span
        step = -(-len(held_out_texts) // MAX_SUMMARY_DOCS)
        texts = list(held_out_texts[::step])
        summary = count_texts(predictor, texts, source="held-out test split")
        spec[SUMMARY_KEY] = summary.to_json()
    return save_bundle(directory, spec, arrays, provenance)
