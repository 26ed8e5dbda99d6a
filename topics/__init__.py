"""topics: classify news articles and model their topics.

Importing the package is cheap on purpose: heavy libraries (sklearn, gensim,
mlflow, matplotlib) are imported by the modules that need them, so that
``classify`` and :mod:`topics.predict` start fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
