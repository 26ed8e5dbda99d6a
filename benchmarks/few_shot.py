"""Few-shot learning curve on nyt-cap: ours against three peers, same draws, same run.

Each draw takes N training articles per label plus N with none of the labels from
the training years 1996-2003 (``data.train_sample``'s protocol, through
:func:`topics.data.splits.draw_train_sample`, seed = draw); every row is scored on
the 7,450 test articles of 2004-2006 (micro/macro F1, mean ± sd over the draws).

- **ours**: ``experiments/nyt-cap-few-shot.yaml``'s ``few_shot`` model, with N
  replaced: seeded self-training over the rest of the training years (their labels
  unused). N = 0 is ``nyt-cap-zero-shot``: descriptions and seed words only.
- **tfidf+linearsvc**: TF-IDF 1-2 grams, one-vs-rest LinearSVC (balanced).
- **minilm+linearsvc**: frozen all-MiniLM-L6-v2 (mean pooled, unit length) and
  one-vs-rest LinearSVC (balanced). At N = 0: the cosine similarity to the label
  descriptions (the nearest of a label's sentences), with the one cut chosen on
  the training years' labels.
- **setfit**: SetFit 1.2 on the packaged MiniLM: contrastive fine-tuning with the
  SetFit paper's ``num_iterations=20`` pair generation, one epoch, batch 16, and
  a logistic-regression head over the four labels and "none" as five classes. It is a
  benchmark dependency only (``benchmarks/requirements-peers.txt``); run the script
  in that environment to include it.

The seed-article check: every "ours" model at N = 16 labels the six seed articles
(``seed-articles.jsonl``); the table gives the gold labels found and the false ones.
Ours scores long texts by passage as the experiment's ``model.passages`` says
(``benchmarks/passages.py`` chose it on the sample corpus).

    TOPICS_DATA_DIR=../shared/data python benchmarks/few_shot.py \\
        [--n 0,8,16,32,64] [--draws 5] [--peers tfidf,minilm,setfit] [--out FILE] \\
        [--set model.few_shot.vectors=static ...]

``--set`` overrides the experiment's settings for ours, as ``topics run --set`` does.

Embeddings of the archive and test texts are cached under the experiment's
``cache_dir`` (first run: a few minutes to embed 31k texts on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import DataConfig, load_config  # noqa: E402
from topics.data.splits import draw_train_sample  # noqa: E402
from topics.families.base import FittedModel, TrainingData  # noqa: E402
from topics.families.few_shot import description_similarity, embed_unique  # noqa: E402
from topics.families.sentence_encoder import TorchBertEmbedder  # noqa: E402
from topics.kernels.passages import by_passage  # noqa: E402
from topics.run.build import fit_family  # noqa: E402
from topics.run.cache import fit_cache, load_corpus_from_config  # noqa: E402
from topics.run.prepare import prepare  # noqa: E402
from topics.run.train import decided  # noqa: E402

EXPERIMENT = REPO / "experiments" / "nyt-cap-few-shot.yaml"
Scores = tuple[float, float]
EMPTY = '""'  # an empty argument, as a shell takes it


def scores(truth: np.ndarray, predicted: np.ndarray) -> Scores:
    return (
        float(f1_score(truth, predicted, average="micro", zero_division=0)),
        float(f1_score(truth, predicted, average="macro", zero_division=0)),
    )


def linear_svc(features: object, y: np.ndarray) -> OneVsRestClassifier:
    return OneVsRestClassifier(LinearSVC(class_weight="balanced")).fit(features, y)


def setfit_model(texts: list[str], y: np.ndarray, seed: int) -> Callable[[list[str]], np.ndarray]:
    """SetFit with one class per label plus "none" (nyt-cap gives an article at most
    one label): in a probe at N = 8 this scored micro-F1 0.52 on 2,000 test
    articles, the one-vs-rest head 0.29 (it gave almost no label)."""
    model = setfit_fit(texts, y, seed)

    def predict(new: list[str]) -> np.ndarray:
        predicted = np.asarray(model.predict(new, batch_size=64, show_progress_bar=False))
        return (predicted[:, None] == np.arange(1, y.shape[1] + 1)).astype(int)

    return predict


def setfit_fit(texts: list[str], y: np.ndarray, seed: int) -> Any:
    """The fitted SetFitModel of :func:`setfit_model`: its classes are 0 (none) and
    1 + each label's column."""
    os.environ.setdefault("WANDB_DISABLED", "true")
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from topics.families.encoder import resolve_pretrained

    if (y.sum(axis=1) > 1).any():
        raise ValueError("the SetFit peer needs at most one label per article")
    classes = np.where(y.any(axis=1), y.argmax(axis=1) + 1, 0)  # 0: none
    model = SetFitModel.from_pretrained(
        resolve_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    )
    data = Dataset.from_dict({"text": texts, "label": classes.tolist()})
    with tempfile.TemporaryDirectory() as checkpoints:
        arguments = TrainingArguments(
            output_dir=checkpoints,
            batch_size=16,
            num_epochs=1,
            num_iterations=20,
            seed=seed,
            report_to="none",
        )
        Trainer(model=model, args=arguments, train_dataset=data).train()
    return model


def labelled(
    model: FittedModel, texts: Sequence[str], passages: int, support: int, relative_cut: float
) -> np.ndarray:
    """``model``'s labels of ``texts`` as a run decides them: long ones by passage
    (``model.passages``, ``model.passage_support``), then ``model.relative_cut``."""
    proba = by_passage(model.predict_proba, texts, passages, support)
    return decided(model, proba, relative_cut)


def report(
    args: argparse.Namespace,
    commit: str,
    rows: dict[tuple[int, str], list[Scores]],
    seconds: dict[tuple[int, str], list[float]],
    seed_checks: list[tuple[int, int, int]],
) -> str:
    """The markdown table of what has run so far."""
    lines = [
        "# Few-shot learning curve on nyt-cap",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/few_shot.py --n {args.n} "
        f"--draws {args.draws} --peers {args.peers or EMPTY} --setfit-n {args.setfit_n}"
        + "".join(f" --set {override}" for override in args.set)
        + "`, "
        f"commit {commit}, {time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores.",
        "",
        "Test: 2004-2006 (7,450 articles). N labelled per label plus N with none, drawn "
        "from 1996-2003; micro / macro F1, mean ± sd over the draws; s: seconds per draw "
        "(fit and predict).",
        "",
        "| N | model | draws | micro-F1 | macro-F1 | s |",
        "|---:|---|---:|---|---|---:|",
    ]
    for (n, name), runs in sorted(rows.items()):
        micro, macro = np.array(runs).T
        lines.append(
            f"| {n} | {name} | {len(runs)} | {micro.mean():.3f} ± {micro.std():.3f} | "
            f"{macro.mean():.3f} ± {macro.std():.3f} | {np.mean(seconds[(n, name)]):.0f} |"
        )
    if seed_checks:
        checks = ", ".join(f"{found}/{gold}, {false} false" for found, gold, false in seed_checks)
        lines += [
            "",
            "Seed articles, ours at N = 16, per draw (gold labels found / gold labels, "
            f"false labels): {checks}",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", default="0,8,16,32,64", help="labelled per label, comma-separated")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--peers", default="tfidf,minilm,setfit")
    parser.add_argument("--setfit-n", default="8,16,32,64", help="the N SetFit runs at")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override for ours"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.n.split(",")]
    peers = set(args.peers.split(",")) - {""}
    setfit_sizes = {int(n) for n in args.setfit_n.split(",")}

    commit = provenance.commit()
    config = load_config(EXPERIMENT, ["tracking.enabled=false", *args.set])
    config.data.train_sample = None
    prepared = prepare(config)
    train, test = prepared.train, prepared.test
    labels = list(train.label_names)
    y_train, y_test = train.label_matrix(), test.label_matrix()
    seeds = load_corpus_from_config(
        DataConfig(
            name="seed",
            root=config.data.root,
            path=config.data.extra_test["seed"],
            format="jsonl",
            labels=labels,
        )
    )
    print(f"{len(train)} train, {len(test)} test, {len(seeds)} seed articles", file=sys.stderr)

    vectors: dict[str, np.ndarray] = {}
    settings = config.model.few_shot
    embedder = TorchBertEmbedder(settings.pretrained, settings.max_length)
    if "minilm" in peers:  # the vectors ours embeds too: one cache entry each
        cache = fit_cache(config.cache_dir)
        for part, texts in (("train", train.texts), ("test", test.texts)):
            vectors[part] = embed_unique(list(texts), embedder, cache)

    words = config.model.passages  # ours: long texts by passage, as the run scores them
    support = config.model.passage_support
    relative_cut = config.model.relative_cut  # and decided as the run decides
    rows: dict[tuple[int, str], list[Scores]] = {}
    seconds: dict[tuple[int, str], list[float]] = {}
    seed_checks: list[tuple[int, int, int]] = []

    def record(n: int, draw: int, name: str, predicted: np.ndarray, started: float) -> None:
        rows.setdefault((n, name), []).append(scores(y_test, predicted))
        seconds.setdefault((n, name), []).append(time.perf_counter() - started)
        print(f"N={n} draw {draw} {name}: {rows[(n, name)][-1]}", file=sys.stderr, flush=True)

    for n in sizes:
        for draw in range(args.draws if n else 1):
            sample = draw_train_sample(y_train, labels, per_label=n, none=n, seed=draw)
            taken = sample.indices
            rest = np.setdiff1d(np.arange(len(train)), taken)
            texts = [train.texts[i] for i in taken]
            y = y_train[taken]

            started = time.perf_counter()
            data = TrainingData(texts, y, unlabelled=[train.texts[i] for i in rest])
            model = fit_family(config, "few_shot", data, labels)
            record(
                n, draw, "ours", labelled(model, test.texts, words, support, relative_cut), started
            )
            if n == 16:
                guess = labelled(model, seeds.texts, words, support, relative_cut)
                gold = seeds.label_matrix()
                found, false = int((guess & gold).sum()), int((guess & (1 - gold)).sum())
                seed_checks.append((found, int(gold.sum()), false))
            if n and "tfidf" in peers:
                started = time.perf_counter()
                vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
                svc = linear_svc(vectorizer.fit_transform(texts), y)
                record(
                    n,
                    draw,
                    "tfidf+linearsvc",
                    svc.predict(vectorizer.transform(test.texts)),
                    started,
                )
            if "minilm" in peers:
                started = time.perf_counter()
                if n:
                    svc = linear_svc(vectors["train"][taken], y)
                    record(n, draw, "minilm+linearsvc", svc.predict(vectors["test"]), started)
                else:
                    train_cos, test_cos = (
                        description_similarity(
                            vectors[part], config.data.label_descriptions, labels, embedder.embed
                        )
                        for part in ("train", "test")
                    )
                    cut = max(
                        np.arange(0.1, 0.6, 0.01),
                        key=lambda c: scores(y_train, (train_cos >= c).astype(int))[0],
                    )
                    record(
                        n,
                        draw,
                        "minilm cosine (cut on train)",
                        (test_cos >= cut).astype(int),
                        started,
                    )
            if n in setfit_sizes and "setfit" in peers:
                started = time.perf_counter()
                predict = setfit_model(texts, y, draw)
                record(n, draw, "setfit", predict(list(test.texts)), started)
            if args.out:  # what has run so far survives an interrupted benchmark
                args.out.write_text(
                    report(args, commit, rows, seconds, seed_checks), encoding="utf-8"
                )
    print(report(args, commit, rows, seconds, seed_checks))


if __name__ == "__main__":
    main()
