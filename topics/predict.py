"""The public predict API: :class:`Predictor` tags new text with a saved bundle.

It lives in :mod:`topics.serve.predictor`; this module keeps the short import
path. Importing it loads numpy and the bundle reader only.

>>> from topics.predict import Predictor                        # doctest: +SKIP
>>> Predictor.load("artifacts/latest").predict(["Rail freight via Aktau grew"])  # doctest: +SKIP
"""

from topics.serve.predictor import Predictor

__all__ = ["Predictor"]
