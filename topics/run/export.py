"""Fitted families -> the portable bundle (:mod:`topics.serve.bundle`), format 2.

The spec holds the labels, the primary model, each feature block (``tfidf``,
``lda``: owned by the family that fitted it) and, per model, its family, the
scorer ``kind`` and its typed state; every array is named
``<feature block>.<key>`` or ``clf.<model>.<key>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from topics.families import FAMILIES
from topics.families.base import FittedModel
from topics.serve.bundle import save_bundle


def export_bundle(
    directory: str | Path,
    labels: list[str],
    primary: str,
    models: dict[str, FittedModel],
    provenance: dict[str, Any],
    single_label: bool = False,
) -> Path:
    """Write every model of ``models`` (by family name) to one bundle.

    Parameters
    ----------
    primary
        The model whose labels ``classify`` reports by default.
    single_label
        One label per document: ``classify`` reports the most probable label.
    """
    spec: dict[str, Any] = {"labels": list(labels), "primary": primary, "features": {}}
    if single_label:
        spec["single_label"] = True
    spec["models"] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, model in models.items():
        family = FAMILIES[name]
        block, block_arrays = family.feature_state(model)
        if block:
            spec["features"][name] = block
            arrays.update({f"{name}.{key}": value for key, value in block_arrays.items()})
        state = family.export(model)
        spec["models"][name] = {"family": name, "features": model.features, **state.spec}
        arrays.update({f"clf.{name}.{key}": value for key, value in state.arrays.items()})
    return save_bundle(directory, spec, arrays, provenance)
