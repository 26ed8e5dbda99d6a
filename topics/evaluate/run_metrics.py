"""The metrics of a run as one typed structure: model -> split -> metric.

Inside the program metrics stay structured; they are flattened only where they
leave it (the tracker, ``metrics.json``, ``--json``, a sweep trial's result),
into the keys users and scripts read:

- ``<model>_<split>_<metric>``: ``tfidf_test_micro_f1``, ``lda_fit_seconds``
  (split ``fit``), ``encoder_train_cv_score`` (split ``train``);
- ``<split>_<metric>`` for the primary model's held-out splits (``test``,
  ``val``): ``test_micro_f1`` is what ``classify``'s model scored;
- run-level metrics as they are: ``lda_coherence_c_v``, ``cv_micro_f1``, ...

>>> scores = RunMetrics({"tfidf": {"test": {"micro_f1": 0.9}}}, primary="tfidf")
>>> scores.flat()
{'tfidf_test_micro_f1': 0.9, 'test_micro_f1': 0.9}
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Splits whose primary-model metrics also get plain keys (``test_*``, ``val_*``).
HELD_OUT = ("test", "val")


@dataclass
class RunMetrics:
    """``models[model][split][metric]``; ``primary`` names the model ``classify``
    uses; ``run`` holds run-level metrics (topic quality, cross-validation)."""

    models: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    primary: str | None = None
    run: dict[str, float] = field(default_factory=dict)

    def split(self, model: str, split: str) -> dict[str, float]:
        """One model's metrics on one split (empty when it has none)."""
        return self.models.get(model, {}).get(split, {})

    def held_out_as(self, split: str) -> RunMetrics:
        """The ``test`` metrics renamed to ``split`` (a validation fit's), and nothing else."""
        return RunMetrics(
            {name: {split: dict(splits["test"])} for name, splits in self.models.items()},
            primary=self.primary,
        )

    def flat(self) -> dict[str, float]:
        """The flat keys (see the module docstring)."""
        out: dict[str, float] = {}
        for name, splits in self.models.items():
            for split, values in splits.items():
                out.update({f"{name}_{split}_{key}": value for key, value in values.items()})
        if self.primary is not None:
            for split in HELD_OUT:
                values = self.split(self.primary, split)
                out.update({f"{split}_{key}": value for key, value in values.items()})
        out.update(self.run)
        return out
