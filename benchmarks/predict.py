"""Predict-path benchmark: cold start, batch throughput and memory of `classify`.

    .venv/bin/python benchmarks/predict.py                  # full run, ~5 minutes
    .venv/bin/python benchmarks/predict.py --docs 200000    # smaller memory test

Trains one model (tfidf + lda, exactly as `topics run` does) on the experiment's
training split, then measures, in the same run and on the same model:

1. cold start in a fresh process, one article: `classify` (our bundle, numpy only)
   vs loading the same pipelines with joblib vs `mlflow.pyfunc.load_model`;
2. batch throughput in one process on the nyt-cap and 20 Newsgroups test texts:
   our scorer vs the sklearn pipeline's own `predict_proba` (and, with topics,
   vs `predict_proba` + gensim's own LDA inference);
3. peak RSS of `classify -f FILE --format jsonl` over 100k and N short documents.

Writes the table to benchmarks/results/predict.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.cache import load_corpus_from_config, split_kwargs  # noqa: E402
from topics.run.export import export_bundle  # noqa: E402
from topics.serve.predictor import Predictor  # noqa: E402

DATA = Path(os.environ.get("TOPICS_DATA_DIR", REPO.parent / "shared" / "data"))
NYT = (
    DATA / "nyt-cap" / "boydstun_nyt_frontpage_dataset_1996-2006_0_pap2014_recoding_updated2018.csv"
)
NEWSGROUPS = DATA / "20newsgroups" / "20news-bydate.tar.gz"
ARTICLE = (
    "Kazakhstan and South Korea signed an agreement on a joint investment in a bus and "
    "truck assembly plant near Almaty, creating 1,200 jobs and exporting to Central Asia."
)
BIN = Path(sys.executable).parent


def nyt_test_texts() -> list[str]:
    with NYT.open(encoding="mac_roman", newline="") as handle:
        rows = csv.DictReader(handle)
        return [f"{r['title']}. {r['summary']}" for r in rows if int(r["year"]) >= 2004]


def newsgroups_test_texts() -> list[str]:
    texts = []
    with tarfile.open(NEWSGROUPS) as archive:
        for member in archive:
            if member.isfile() and member.name.startswith("20news-bydate-test/"):
                handle = archive.extractfile(member)
                assert handle is not None
                texts.append(handle.read().decode("latin-1"))
    return texts


def train(experiment: Path, workdir: Path) -> dict[str, Any]:
    config = load_config(experiment, ["tracking.enabled=false"])
    corpus = load_corpus_from_config(config.data)
    train_idx, _ = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    train_part = corpus.subset(train_idx)
    labels = list(corpus.label_names)
    # Each family picks the targets `topics run` gives it (fine labels: the source classes).
    data = TrainingData.from_corpus(train_part)
    tfidf = fit_family(config, "tfidf", data, labels)
    lda = fit_family(config, "lda", data, labels)
    bundle = export_bundle(
        workdir / "model", labels, "tfidf", {"tfidf": tfidf, "lda": lda}, provenance={}
    )
    pipeline_file = workdir / "pipelines.joblib"
    joblib.dump({"tfidf": tfidf.pipeline, "lda": lda.topics}, pipeline_file)

    from topics.tracking import MlflowTracker

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    tracker = MlflowTracker(uri)
    tracker.start_run("predict-benchmark", "bench", {}, "")
    tracker.log_model(bundle)
    tracker.end_run("FINISHED")
    import mlflow

    return {
        "config": config,
        "n_train": len(train_part),
        "vocabulary": len(tfidf.vectorizer.vocabulary_),
        "tfidf": tfidf,
        "lda": lda,
        "bundle": bundle,
        "pipelines": pipeline_file,
        "mlflow_uri": uri,
        "model_uri": f"models:/{mlflow.last_logged_model().model_id}",
    }


def cold_start(trained: dict[str, Any], repeats: int) -> dict[str, float]:
    text = json.dumps(ARTICLE)
    commands = {
        "classify (bundle, numpy)": [
            str(BIN / "classify"), "--model", str(trained["bundle"]), "--format", "json", ARTICLE,
        ],
        "joblib + sklearn/gensim": [
            sys.executable, "-c",
            f"import joblib; m = joblib.load({str(trained['pipelines'])!r}); t = [{text}]; "
            "m['tfidf'].predict_proba(t); m['lda'].transform(t)",
        ],
        "mlflow.pyfunc.load_model": [
            sys.executable, "-c",
            f"import mlflow; mlflow.set_tracking_uri({trained['mlflow_uri']!r}); "
            f"mlflow.pyfunc.load_model({trained['model_uri']!r}).predict([{text}])",
        ],
    }  # fmt: skip
    medians = {}
    env = provenance.cold_start_env()
    for name, command in commands.items():
        times = []
        subprocess.run(command, check=True, capture_output=True, env=env)  # caches bytecode
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            times.append(time.perf_counter() - start)
        medians[name] = statistics.median(times)
    return medians


THROUGHPUT_COLUMNS = {
    "scores: ours": "Predictor.predict_proba, chunks of 1024",
    "scores: sklearn": "pipeline.predict_proba, all texts at once",
    "records: ours": "Predictor.predict(top_k=0): labels + scores dicts",
    "records+topics: ours": "Predictor.predict(top_k=3)",
    "scores+topics: sklearn+engine": "predict_proba + the LDA engine's own inference (tomotopy infer, 1 worker)",
}


def throughput(
    trained: dict[str, Any], texts: list[str], chunk: int = 1024, repeats: int = 3
) -> dict[str, float]:
    """Docs/s of each variant, best of ``repeats`` (the machine may be shared)."""
    predictor = Predictor.load(trained["bundle"])
    pipeline, lda = trained["tfidf"].pipeline, trained["lda"].topics

    def chunks(fn: Any) -> Any:
        return lambda: [fn(texts[i : i + chunk]) for i in range(0, len(texts), chunk)]

    def engine_topics() -> None:
        """Scores, then topic mixes from the LDA engine's own inference."""
        pipeline.predict_proba(texts)
        words = [[w for w in lda.tokenizer_(text) if w in lda.index_] for text in texts]
        if hasattr(lda.model_, "infer"):  # tomotopy (Gibbs sampling at inference too)
            lda.model_.infer([lda.model_.make_doc(doc) for doc in words if doc], workers=1)
        else:  # gensim
            lda.model_.inference([[(lda.index_[w], 1) for w in doc] for doc in words])

    variants = {
        "scores: ours": chunks(predictor.predict_proba),
        "scores: sklearn": lambda: pipeline.predict_proba(texts),
        "records: ours": chunks(lambda part: predictor.predict(part, top_k=0)),
        "records+topics: ours": chunks(lambda part: predictor.predict(part, top_k=3)),
        "scores+topics: sklearn+engine": engine_topics,
    }
    rates = {}
    for name, fn in variants.items():
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        rates[name] = len(texts) / best
    return rates


def peak_memory(
    trained: dict[str, Any], texts: list[str], n_docs: int, workdir: Path
) -> tuple[float, float]:
    """(peak RSS in MB, docs/s) of `classify -f` over ``n_docs`` JSONL documents."""
    source = workdir / f"docs-{n_docs}.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for i in range(n_docs):
            handle.write(json.dumps({"id": i, "text": texts[i % len(texts)]}) + "\n")
    command = [
        "/usr/bin/time", "-f", "%M", str(BIN / "classify"), "--model", str(trained["bundle"]),
        "-f", str(source), "--format", "jsonl",
    ]  # fmt: skip
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        done = subprocess.run(command, check=True, stdout=sink, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    source.unlink()
    return int(done.stderr.strip().splitlines()[-1]) / 1024, n_docs / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--experiment", type=Path, default=None, help="default: nyt-cap if present, else quickstart"
    )
    parser.add_argument("--repeats", type=int, default=9, help="cold starts per variant (median)")
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents for the memory test")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "predict.md")
    args = parser.parse_args()
    if not NYT.exists() or not NEWSGROUPS.exists():
        print(
            f"benchmarks/predict.py needs the shared data at {DATA} (set TOPICS_DATA_DIR)",
            file=sys.stderr,
        )
        return 2
    experiment = args.experiment
    if experiment is None:
        nyt_experiment = REPO / "experiments" / "nyt-cap.yaml"
        experiment = (
            nyt_experiment if nyt_experiment.exists() else REPO / "experiments" / "quickstart.yaml"
        )

    command = " ".join(["python", *sys.argv])
    lines = [
        f"# Predict-path benchmark\n\n`{command}`, commit {provenance.commit()}, "
        f"{os.cpu_count()} cores, {time.strftime('%F')}.\n"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        trained = train(experiment, workdir)
        lines.append(
            f"Model: `{experiment.relative_to(REPO)}` (tfidf + lda, {trained['n_train']} "
            f"training docs, {trained['vocabulary']:,} TF-IDF features); bundle "
            f"{sum(f.stat().st_size for f in trained['bundle'].iterdir()) / 1e6:.1f} MB.\n"
        )
        medians = cold_start(trained, args.repeats)
        ours = medians["classify (bundle, numpy)"]
        lines += [
            f"## Cold start: one article in a fresh process (median of {args.repeats})\n",
            "| variant | seconds | vs classify |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {name} | {value:.3f} | {value / ours:.1f}× |" for name, value in medians.items()
        ]
        print("\n".join(lines), flush=True)  # progress: sections appear as they finish

        lines += ["\n## Batch throughput, one process (docs/s, best of 3)\n",
                  "| texts | docs | " + " | ".join(THROUGHPUT_COLUMNS) + " |",
                  "|---|---:|" + "---:|" * len(THROUGHPUT_COLUMNS)]  # fmt: skip
        for name, texts in (
            ("nyt-cap test", nyt_test_texts()),
            ("20 Newsgroups test", newsgroups_test_texts()),
        ):
            rates = throughput(trained, texts)
            lines.append(
                f"| {name} | {len(texts):,} | "
                + " | ".join(f"{v:,.0f}" for v in rates.values())
                + " |"
            )
            print(lines[-1], flush=True)
        lines += ["", *(f"- {name}: {what}" for name, what in THROUGHPUT_COLUMNS.items())]
        lines += ["\n## Memory: `classify -f docs.jsonl --format jsonl` (nyt-cap texts repeated)\n",
                  "| documents | peak RSS (MB) | docs/s |", "|---:|---:|---:|"]  # fmt: skip
        nyt = nyt_test_texts()
        for n_docs in sorted({min(100_000, args.docs), args.docs}):
            rss, rate = peak_memory(trained, nyt, n_docs, workdir)
            lines.append(f"| {n_docs:,} | {rss:.0f} | {rate:,.0f} |")
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    print("\n(written to benchmarks/results/predict.md)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
