"""The shipped real-data experiments, end to end, against the best peer baselines.

Each experiment runs as a user runs it (its YAML, no overrides but paths) and
must beat the best peer measured on the same split in ``benchmarks/peers.py``
(the issue's figures), and reach the issue's goals. Deterministic for a seed,
so the bounds are exact claims, not flaky ones. nyt-cap and Reuters fine-tune
their encoders here (about 20 and 28 minutes on 2 cores, measured in CI). 20 Newsgroups is left
to the benchmark (``benchmarks/peers.py``): its run takes about an hour and would
not fit in CI beside the other two.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, needs_encoder_extra, shared_data
from topics.config import load_config
from topics.run.experiment import run
from topics.run.trackers import NullTracker

# Best peer, same split (TF-IDF 1-2-grams + balanced LogisticRegression), and ours.
PEERS = {
    "nyt-cap": {"test_micro_f1": 0.684, "test_macro_f1": 0.647},
    "reuters-modapte": {"test_micro_f1": 0.885, "test_macro_f1": 0.546},
}
# The goals.
GOALS = {
    "nyt-cap": {"test_micro_f1": 0.72, "test_macro_f1": 0.68},
    "reuters-modapte": {"test_micro_f1": 0.90, "test_macro_f1": 0.60},
}


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("name", sorted(PEERS))
def test_shipped_experiment_beats_the_best_peer(name: str, tmp_path: Path) -> None:
    root = shared_data()
    config = load_config(
        REPO / "experiments" / f"{name}.yaml",
        [f"data.root={root}", f"output_dir={tmp_path}", "cache_dir=null", "tracking.enabled=false"],
    )
    if config.model.encoder.enabled:
        needs_encoder_extra()
    metrics = run(config, NullTracker()).metrics
    for key, peer in PEERS[name].items():
        assert metrics[key] > peer, f"{name} {key} {metrics[key]:.3f} <= peer {peer}"
    for key, goal in GOALS[name].items():
        assert metrics[key] >= goal, f"{name} {key} {metrics[key]:.4f} < goal {goal}"
