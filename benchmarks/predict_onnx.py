"""Would skl2onnx + onnxruntime serve `classify` better than our numpy scorer?

    pip install skl2onnx onnxruntime         # not project dependencies
    .venv/bin/python benchmarks/predict_onnx.py

Trains the same TF-IDF (1-2 grams, sublinear, English stop words) + one-vs-rest
logistic regression on the sample corpus as a plain sklearn pipeline, converts it
with skl2onnx, and compares on the nyt-cap test texts: fidelity to sklearn's own
predict_proba, throughput, cold start (fresh process, one text) and model size,
against the same pipeline exported to our bundle format and scored by
topics.serve.predictor. Writes benchmarks/results/predict_onnx.md.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks import provenance  # noqa: E402

DATA = Path(os.environ.get("TOPICS_DATA_DIR", REPO.parent / "shared" / "data"))
NYT = (
    DATA / "nyt-cap" / "boydstun_nyt_frontpage_dataset_1996-2006_0_pap2014_recoding_updated2018.csv"
)


def main() -> int:
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import StringTensorType
    except ImportError:
        print("skipped: pip install skl2onnx onnxruntime to run this comparison")
        return 0
    from sklearn.pipeline import Pipeline

    from topics.config import DataConfig
    from topics.families.base import FittedModel
    from topics.families.features import make_vectorizer
    from topics.families.linear import MultiLabelLinear
    from topics.run.cache import load_corpus_from_config
    from topics.run.export import export_bundle
    from topics.serve.predictor import Predictor

    corpus = load_corpus_from_config(
        DataConfig(
            path="builtin:central_asia_news",
            labels=["economy", "defense", "human rights", "transport"],
        )
    )
    vectorizer = make_vectorizer(ngram_range=(1, 2))
    classifier = MultiLabelLinear(classifier="logreg", C=10.0, cv_folds=3)
    ours = Pipeline([("tfidf", vectorizer), ("clf", classifier)]).fit(
        corpus.texts, corpus.label_matrix()
    )
    # skl2onnx converts sklearn's own vectorizer and OvR, not custom estimators: the
    # same settings, fit on the same texts, give the same model to convert.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    plain = Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")),
            (
                "clf",
                OneVsRestClassifier(
                    LogisticRegression(C=10.0, class_weight="balanced", max_iter=5000)
                ),
            ),
        ]
    ).fit(corpus.texts, corpus.label_matrix())
    options = {
        id(plain.steps[1][1]): {"zipmap": False},
        id(plain.steps[0][1]): {"locale": "C.UTF-8"},
    }
    onnx_model = to_onnx(
        plain,
        initial_types=[("input", StringTensorType([None, 1]))],
        options=options,
        target_opset=17,
    )

    with NYT.open(encoding="mac_roman", newline="") as handle:
        texts = [
            f"{r['title']}. {r['summary']}"
            for r in csv.DictReader(handle)
            if int(r["year"]) >= 2004
        ]
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        onnx_path.write_bytes(onnx_model.SerializeToString())
        fitted = FittedModel(
            "tfidf", Pipeline([("tfidf", ours[0]), ("classifier", ours[-1])]), ["tfidf"]
        )
        bundle = export_bundle(Path(tmp) / "model", list(corpus.label_names), "tfidf", {"tfidf": fitted}, provenance={})  # fmt: skip
        session = ort.InferenceSession(str(onnx_path))
        feed = {"input": np.array(texts, dtype=object).reshape(-1, 1)}
        start = time.perf_counter()
        onnx_proba = session.run(None, feed)[1]
        onnx_rate = len(texts) / (time.perf_counter() - start)
        start = time.perf_counter()
        plain_proba = plain.predict_proba(texts)
        plain_rate = len(texts) / (time.perf_counter() - start)
        predictor = Predictor.load(bundle)
        start = time.perf_counter()
        results = [
            r
            for i in range(0, len(texts), 1024)
            for r in predictor.predict(texts[i : i + 1024], top_k=0)
        ]
        our_rate = len(texts) / (time.perf_counter() - start)
        our_proba = np.array([list(r["scores"].values()) for r in results])
        reference = ours.predict_proba(texts)

        onnx_gap = np.abs(onnx_proba - plain_proba).max(axis=1)
        our_gap = np.abs(our_proba - reference).max(axis=1)

        def cold(code: str) -> float:
            times, env = [], provenance.cold_start_env()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
            for _ in range(5):
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-c", code], check=True, capture_output=True, env=env
                )
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        onnx_cold = cold(
            "import numpy as np, onnxruntime as ort; "
            f"s = ort.InferenceSession({str(onnx_path)!r}); "
            "s.run(None, {'input': np.array([['Rail cargo grew']], dtype=object)})"
        )
        our_cold = cold(
            f"from topics.serve.predictor import Predictor; Predictor.load({str(bundle)!r}).predict(['Rail cargo grew'])"
        )
        our_size = sum(f.stat().st_size for f in bundle.iterdir()) / 1e6
        onnx_size = onnx_path.stat().st_size / 1e6

    table = [
        "# skl2onnx + onnxruntime vs the topics bundle scorer\n",
        f"`python benchmarks/predict_onnx.py`, {os.cpu_count()} cores, {time.strftime('%F')}; "
        f"TF-IDF 1-2 grams + OvR logistic regression on the sample corpus; {len(texts):,} nyt-cap test texts.\n",
        "| scorer | max abs diff to its sklearn pipeline | docs differing > 1e-6 | docs/s | cold start s | size MB |",
        "|---|---:|---:|---:|---:|---:|",
        f"| onnxruntime (skl2onnx) | {onnx_gap.max():.4f} | {(onnx_gap > 1e-6).mean():.1%} | {onnx_rate:,.0f} | {onnx_cold:.3f} | {onnx_size:.1f} |",
        f"| topics.serve.predictor (bundle) | {our_gap.max():.1e} | {(our_gap > 1e-6).mean():.1%} | {our_rate:,.0f} | {our_cold:.3f} | {our_size:.1f} |",
        f"| sklearn predict_proba (reference) | 0 | 0% | {plain_rate:,.0f} | | |",
        "\nonnxruntime's text operators also need a UTF-8 locale installed in the OS "
        "(the converter's default en_US.UTF-8 fails on a bare Debian; we passed C.UTF-8).",
    ]  # fmt: skip
    report = "\n".join(table) + "\n"
    print(report)
    out = REPO / "benchmarks" / "results" / "predict_onnx.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
