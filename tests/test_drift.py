"""Drift reports: the bundle's training summary, the four measures, ``topics drift``.

The quickstart model (trained once per session) is the model; its held-out split is
the training side and the source of same-distribution batches.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import HEAVY, REPO
from topics.cli.main import main
from topics.data.splits import split_indices
from topics.errors import BundleError
from topics.evaluate.drift import (
    DEFAULT_THRESHOLDS,
    SUMMARY_KEY,
    DriftCounts,
    compare,
    count_texts,
    js_distance,
    psi,
    psi_noise,
    training_summary,
)
from topics.evaluate.drift_page import drift_html
from topics.run.cache import load_corpus_from_config, split_kwargs
from topics.serve.bundle import save_bundle
from topics.serve.predictor import Predictor

UNKNOWN_WORDS = [
    " ".join(f"zq{random.Random(i).randrange(10**6)}x{k}" for k in range(60)) for i in range(40)
]


@pytest.fixture(scope="module")
def quickstart(quickstart_run: Any) -> dict[str, Any]:
    """The quickstart bundle, its predictor, and its held-out split (texts, labels)."""
    config, result = quickstart_run
    corpus = load_corpus_from_config(config.data)
    _, test_idx = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    test = corpus.subset(test_idx)
    bundle = result.artifact_dir / "model"
    return {"bundle": bundle, "predictor": Predictor.load(bundle), "test": test}


def one_label_texts(test: Any, label: str) -> list[str]:
    """Held-out documents with ``label`` and no other."""
    y, j = test.label_matrix(), list(test.label_names).index(label)
    return [text for text, row in zip(test.texts, y, strict=True) if row[j] and row.sum() == 1]


def write_jsonl(path: Path, texts: list[str]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
    return path


def test_the_bundle_carries_a_small_summary_of_its_held_out_predictions(
    quickstart: dict[str, Any],
) -> None:
    spec = json.loads((quickstart["bundle"] / "model.json").read_text())
    summary = spec[SUMMARY_KEY]
    assert len(json.dumps(summary)) < 4096
    assert summary["n_documents"] == len(quickstart["test"]) == sum(summary["confidence_counts"])
    # the same counts as scoring the held-out texts now, with the serving code
    again = count_texts(quickstart["predictor"], quickstart["test"].texts)
    assert again.to_json()["label_counts"] == summary["label_counts"]
    np.testing.assert_allclose(again.topic_sums, summary["topic_sums"], atol=1e-4)
    # held-out texts hold words the vocabulary never saw: the rate is not ~0
    assert 0.02 < summary["oov_tokens"] / summary["tokens"] < 0.5


def test_a_batch_from_the_training_distribution_is_not_flagged(
    quickstart: dict[str, Any],
) -> None:
    # 300 documents drawn (with replacement) from the held-out split: the same
    # distribution, with sampling noise; the sample corpus has no other unseen texts
    texts = random.Random(3).choices(list(quickstart["test"].texts), k=300)
    predictor = quickstart["predictor"]
    report = compare(training_summary(predictor), count_texts(predictor, texts))
    assert report.flagged == [], report.to_json()
    assert all(m.value is not None and m.value > 0 for m in report.measures)


def test_a_one_label_batch_moves_the_label_and_topic_mix_not_the_vocabulary(
    quickstart: dict[str, Any],
) -> None:
    predictor = quickstart["predictor"]
    batch = count_texts(predictor, one_label_texts(quickstart["test"], "defense"))
    report = compare(training_summary(predictor), batch)
    assert {"label_mix", "topic_mix"} <= set(report.flagged)
    assert "oov_rate" not in report.flagged
    label_mix = next(m for m in report.measures if m.name == "label_mix")
    defense = label_mix.categories.index("defense")
    assert label_mix.batch[defense] > label_mix.training[defense] + 0.4


def test_text_of_unknown_words_moves_the_oov_rate_and_confidence(
    quickstart: dict[str, Any],
) -> None:
    predictor = quickstart["predictor"]
    report = compare(training_summary(predictor), count_texts(predictor, UNKNOWN_WORDS))
    assert {"oov_rate", "confidence", "label_mix"} <= set(report.flagged)
    oov = next(m for m in report.measures if m.name == "oov_rate")
    assert oov.batch == [1.0]


def test_counts_of_parts_merge_into_the_counts_of_the_whole(quickstart: dict[str, Any]) -> None:
    predictor, texts = quickstart["predictor"], list(quickstart["test"].texts)
    whole = count_texts(predictor, texts)
    merged = count_texts(predictor, texts[:20]).merge(count_texts(predictor, texts[20:]))
    assert {k: v for k, v in merged.to_json().items() if k != "topic_sums"} == {
        k: v for k, v in whole.to_json().items() if k != "topic_sums"
    }
    np.testing.assert_allclose(merged.topic_sums, whole.topic_sums, atol=1e-6)


def test_psi_and_js_distance_are_zero_for_equal_mixes_and_grow_with_the_shift() -> None:
    counts = np.array([30, 50, 20])
    assert psi(counts, counts) == pytest.approx(0.0, abs=1e-12)
    assert psi(counts, counts * 3) < 1e-3  # the same shares; only the pseudo-counts differ
    assert 0 < psi(counts, np.array([25, 50, 25])) < 0.2 < psi(counts, np.array([0, 10, 90]))
    # what sampling alone gives: (bins - 1) * (1/n + 1/m), smaller for larger samples
    assert psi_noise(counts, np.array([10, 10, 10])) == pytest.approx(2 * (1 / 100 + 1 / 30))
    assert psi_noise(counts, counts * 10) < psi_noise(counts, counts)
    assert js_distance(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "change",
    [
        {"version": 99},
        {"label_counts": [1, 2]},
        {"topic_sums": [float("nan")]},
        {"oov_tokens": 10**9},
        {"n_documents": -1},
    ],
    ids=["version", "label-counts-length", "nan-topic", "oov-above-tokens", "negative-count"],
)
def test_an_invalid_summary_is_a_one_line_bundle_error(change: dict[str, Any]) -> None:
    good = DriftCounts(["a", "b", "c"], "tfidf", n_documents=2, tokens=5).to_json()
    with pytest.raises(BundleError, match="training_summary is invalid"):
        DriftCounts.from_json({**good, **change}, "model.json")


def test_the_page_escapes_text_and_highlights_what_moved(quickstart: dict[str, Any]) -> None:
    predictor = quickstart["predictor"]
    batch = count_texts(predictor, UNKNOWN_WORDS, source="<script>alert(1)</script>.jsonl")
    page = drift_html(compare(training_summary(predictor), batch))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<section id='oov_rate' class='flagged'>" in page
    assert page.count("<svg") == 4 and "http://" not in page.replace("http://www.w3.org", "")


# ---------------------------------------------------------------------------------------
# topics drift


def test_cli_exits_0_when_nothing_moved_and_writes_the_page_and_json(
    quickstart: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = write_jsonl(tmp_path / "week.jsonl", list(quickstart["test"].texts))
    code = main(["drift", "--model", str(quickstart["bundle"]), str(batch)])
    assert code == 0, capsys.readouterr()
    out = tmp_path / "week-drift"
    report = json.loads((out / "drift.json").read_text())
    assert report["flagged"] == []
    assert [m["name"] for m in report["measures"]] == list(DEFAULT_THRESHOLDS)
    assert all({"value", "threshold", "flagged"} <= set(m) for m in report["measures"])
    assert "nothing moved" in (out / "drift.html").read_text()


def test_cli_exits_3_when_a_measure_moved_and_thresholds_can_be_raised(
    quickstart: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = write_jsonl(tmp_path / "b.jsonl", one_label_texts(quickstart["test"], "transport"))
    argv = ["drift", "--model", str(quickstart["bundle"]), str(batch), "--output", str(tmp_path)]
    assert main(argv) == 3
    assert "label_mix" in json.loads((tmp_path / "drift.json").read_text())["flagged"]
    assert "MOVED" in capsys.readouterr().out
    lenient = [f"--threshold={name}=100" for name in DEFAULT_THRESHOLDS]
    assert main([*argv, *lenient]) == 0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--threshold=speed=1", "no such measure"),
        ("--threshold=label_mix", "expected MEASURE=VALUE"),
        ("--threshold=oov_rate=-1", "expected a number >= 0"),
    ],
    ids=["unknown-measure", "no-value", "negative"],
)
def test_cli_threshold_mistakes_are_one_line(
    quickstart: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    message: str,
) -> None:
    batch = write_jsonl(tmp_path / "b.jsonl", ["rail cargo"])
    assert main(["drift", "--model", str(quickstart["bundle"]), str(batch), option]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_on_a_model_without_a_summary_says_to_retrain(
    quickstart: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = Predictor.load(quickstart["bundle"]).bundle
    spec = {k: v for k, v in bundle.spec.items() if k != SUMMARY_KEY}
    old = save_bundle(tmp_path / "old", spec, bundle.arrays, {})
    batch = write_jsonl(tmp_path / "b.jsonl", ["rail cargo"])
    assert main(["drift", "--model", str(old), str(batch)]) == 2
    err = capsys.readouterr().err
    assert "no training summary" in err and "retrain" in err and err.count("\n") == 1


def test_cli_drift_on_a_bundle_imports_nothing_heavy(
    quickstart: dict[str, Any], tmp_path: Path
) -> None:
    batch = write_jsonl(tmp_path / "b.jsonl", list(quickstart["test"].texts[:5]))
    code = (
        "import sys\nfrom topics.cli.main import main\n"
        f"code = main(['drift', '--model', {str(quickstart['bundle'])!r}, {str(batch)!r}])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_export_counts_every_kth_held_out_text_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import TINY_ARTICLES, tiny_config
    from topics.config import validate_config
    from topics.families.base import TrainingData
    from topics.run.build import fit_families
    from topics.run.export import export_bundle

    config = validate_config(tiny_config(tmp_path, model={"lda": {"enabled": False}}))
    corpus = load_corpus_from_config(config.data)
    labels = list(corpus.label_names)
    fitted = fit_families(config, TrainingData.from_corpus(corpus), labels)
    monkeypatch.setattr("topics.run.export.MAX_SUMMARY_DOCS", 5)
    held_out = [text for _, text, _ in TINY_ARTICLES[:12]]
    path = export_bundle(tmp_path / "m", labels, "tfidf", fitted, {}, held_out_texts=held_out)
    summary = Predictor.load(path).bundle.spec[SUMMARY_KEY]
    assert summary["n_documents"] == 4  # texts 0, 3, 6 and 9 of 12: their span, not the first 5
    expected = count_texts(Predictor.load(path), held_out[::3])
    assert summary["label_counts"] == expected.to_json()["label_counts"]
    without = export_bundle(tmp_path / "n", labels, "tfidf", fitted, {})
    assert SUMMARY_KEY not in Predictor.load(without).bundle.spec
