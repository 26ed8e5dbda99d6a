"""Model families, registered in one place.

Each family is one module (or one small subpackage, for LDA) that declares its
config section, how it builds and trains its estimator, the state it exports
to the bundle and the scorer kind that scores it (see :mod:`topics.families.base`).
The run, the exporter, the config and the report loop over :data:`FAMILIES`, in
this order: a family comes after the families it ``requires``.
"""

from __future__ import annotations

from topics.families.base import Family
from topics.families.complement_nb import ComplementNaiveBayes
from topics.families.embedding_topics import EmbeddingTopicsFamily
from topics.families.encoder import Encoder
from topics.families.ensemble import Ensemble
from topics.families.few_shot import FewShot
from topics.families.hybrid import Hybrid
from topics.families.lda.family import Lda
from topics.families.static import Static
from topics.families.tfidf import Tfidf

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Tfidf(),
        Static(),
        Lda(),
        Hybrid(),
        Encoder(),
        Ensemble(),
        ComplementNaiveBayes(),
        EmbeddingTopicsFamily(),
        FewShot(),
    )
}

__all__ = ["FAMILIES", "Family"]
