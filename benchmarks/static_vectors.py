"""Static token vectors distilled from the fine-tuned nyt-cap encoder: issue 17's
"static embeddings + a linear head" way in, measured.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/static_vectors.py \\
        [--bundle artifacts/nyt-cap/<run id>/model]

Takes the bundle of a ``topics run experiments/nyt-cap-encoder.yaml`` (run first when
``--bundle`` is not given): its fine-tuned MiniLM, with 10% of train held out of
fine-tuning, and its tfidf model's settings. Then:

1. distills one vector per vocabulary token, model2vec's way: ``[CLS] token
   [SEP]`` through the fine-tuned encoder, mean-pooled (torch, 2 threads);
2. a text's vector is the SIF-weighted mean of its tokens' vectors
   (``a / (a + p(token))``, ``p`` from the training texts; ``a`` = None: plain mean),
   every token of the text (no length limit): a tokenization and a lookup;
3. heads over that vector (standardised), learning the 28 CAP source topics as
   the encoder does: the encoder's own head (A), or a multinomial logistic
   regression (B, ``C``); and B mixed with the tfidf model's probabilities,
   ``w * tfidf + (1 - w) * B``;
4. one model (C): the tfidf model's own learner (fine-label SVMs stacked with
   per-label SVMs, cuts cross-validated on train) over its TF-IDF columns and the
   unit static vector times ``scale``. Its test figures are given at the held-out
   cut and at the learner's own cuts, which is how the product would set them.

Every choice (``a``, ``C``, the mix weight, per-label thresholds) is made on the
encoder's held-out 10% of train: B and the tfidf model are fit on the other 90%
there. The row chosen there is refit on all of train and scored once on the
2004-06 test years. Writes benchmarks/results/static_vectors.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from benchmarks import provenance  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from peers import load_split  # noqa: E402

from topics.families.calibration import held_out_cuts  # noqa: E402
from topics.families.encoder import load_pretrained  # noqa: E402
from topics.families.tfidf import Tfidf  # noqa: E402
from topics.kernels.embedding_topics import unit_rows  # noqa: E402
from topics.kernels.sparse import SparseRows  # noqa: E402
from topics.kernels.transformer import load_tokenizer  # noqa: E402
from topics.run.build import fit_context  # noqa: E402
from topics.serve.bundle import load_bundle  # noqa: E402
from topics.serve.predictor import Predictor  # noqa: E402

SIF = [None, 1e-3, 1e-4]
CS = [0.1, 1.0]
SCALES = [1.0, 2.0]  # C: the static vector's weight beside the TF-IDF columns
WEIGHTS = np.round(np.linspace(0, 1, 11), 1)
CHUNK = 1024


def distill(bundle: Any, threads: int) -> tuple[np.ndarray, Any, float]:
    """(one vector per vocabulary id, the tokenizer, seconds)."""
    import torch
    import transformers

    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    model, _, _ = load_pretrained(transformers, "sentence-transformers/all-MiniLM-L6-v2", "bench")
    prefix = "clf.encoder.bert."
    state = {
        k[len(prefix) :]: torch.as_tensor(v)
        for k, v in bundle.arrays.items()
        if k.startswith(prefix)
    }
    model.load_state_dict(state, strict=True)
    model.eval()
    tokenizer = load_tokenizer(bundle.spec["models"]["encoder"]["encoder"]["tokenizer"], 512)
    tokenizer.no_truncation()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    size = tokenizer.get_vocab_size()
    vectors = np.zeros((size, model.config.hidden_size), dtype=np.float32)
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, size, 1024):
            ids = torch.arange(first, min(size, first + 1024)).unsqueeze(1)
            batch = torch.cat([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], 1)
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            vectors[first : first + len(ids)] = hidden.mean(1).numpy()
    return vectors, tokenizer, time.perf_counter() - start


def token_rows(tokenizer: Any, texts: list[str], weights: np.ndarray) -> SparseRows:
    """Each text's tokens as a sparse row of its normalised token weights."""
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
    ids = np.fromiter(
        (i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum())
    )
    docs = np.repeat(np.arange(len(encodings)), lengths)
    values = weights[ids]
    totals = np.bincount(docs, weights=values, minlength=len(encodings))
    return SparseRows(docs, ids, values / np.maximum(totals[docs], 1e-12), len(encodings))


def text_vectors(
    tokenizer: Any, texts: list[str], vectors: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    out = np.zeros((len(texts), vectors.shape[1]))
    for first in range(0, len(texts), CHUNK):
        chunk = texts[first : first + CHUNK]
        out[first : first + len(chunk)] = token_rows(tokenizer, chunk, weights).dot(vectors)
    return out


def scores(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    return (
        float(f1_score(y, predicted, average="micro", zero_division=0)),
        float(f1_score(y, predicted, average="macro", zero_division=0)),
    )


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train_nyt_cap() -> Path:
    """The model folder of a fresh ``topics run experiments/nyt-cap-encoder.yaml`` (no tracking)."""
    import json
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="static-vectors-"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "topics.cli.main",
            "run",
            "experiments/nyt-cap-encoder.yaml",
            "--no-track",
            "--json",
            "--set",
            f"output_dir={out}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(run.stdout.strip().splitlines()[-1])["artifact_dir"]) / "model"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--bundle",
        type=Path,
        help="a nyt-cap run's model folder (default: train one first, about 25 minutes)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/static_vectors.md")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    commit = provenance.commit()  # the code that runs, whatever is committed meanwhile
    config, train, test = load_split("experiments/nyt-cap-encoder.yaml")
    labels = list(train.label_names)
    y_train, y_test = train.label_matrix(), test.label_matrix()
    sources = np.asarray(train.meta["source_label"]).astype(str)
    classes, targets = np.unique(sources, return_inverse=True)
    # the encoder's held-out share, drawn as topics.families.encoder draws it
    fit_idx, val_idx = (
        np.sort(part)
        for part in train_test_split(
            np.arange(len(train)), test_size=0.1, random_state=config.seed, stratify=targets
        )
    )
    y_val = y_train[val_idx]
    bundle = load_bundle(args.bundle or train_nyt_cap())
    predictor = Predictor(bundle)
    groups = bundle.arrays["clf.encoder.groups"]
    coef, intercept = bundle.arrays["clf.encoder.coef"], bundle.arrays["clf.encoder.intercept"]
    vectors, tokenizer, distill_s = distill(bundle, args.threads)
    print(f"distilled {len(vectors):,} token vectors in {distill_s:.1f} s", flush=True)

    context = fit_context(config, labels)
    texts = list(train.texts)

    def tfidf(indices: np.ndarray) -> Any:
        pipeline = Tfidf().pipeline(config.model.tfidf, context)
        return pipeline.fit([texts[i] for i in indices], sources[indices])

    tfidf_fit, tfidf_all = tfidf(fit_idx), tfidf(np.arange(len(train)))
    tfidf_val = tfidf_fit.predict_proba([texts[i] for i in val_idx])
    tfidf_test = tfidf_all.predict_proba(list(test.texts))
    rows: list[tuple[str, tuple[float, float], tuple[float, float], str]] = []
    cut, val_score = held_out_cuts(tfidf_val, y_val, False, 5)
    rows.append(
        (
            "tfidf model (experiments/nyt-cap.yaml)",
            (val_score, np.nan),
            scores(y_test, tfidf_test >= cut),
            "",
        )
    )
    rows.append(
        (
            "encoder (the teacher: fine-tuned MiniLM, numpy pass)",
            (np.nan, np.nan),
            scores(y_test, predictor.predict_proba(list(test.texts), model="encoder") >= 0.5),
            "cut 0.5",
        )
    )
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    counts = np.bincount(np.concatenate([e.ids for e in encodings]), minlength=len(vectors))
    special = [tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]")]
    candidates = []
    for a in SIF:
        weights = np.ones(len(vectors)) if a is None else a / (a + counts / counts.sum())
        weights[special] = 0.0
        x_train = text_vectors(tokenizer, texts, vectors, weights)
        x_test = text_vectors(tokenizer, list(test.texts), vectors, weights)
        head_val = softmax(x_train[val_idx] @ coef.T + intercept) @ groups
        head_cut, head_score = held_out_cuts(head_val, y_val, False, 5)
        head_test = softmax(x_test @ coef.T + intercept) @ groups
        rows.append(
            (
                f"A: the encoder's head on the static vector, SIF a={a}",
                (head_score, np.nan),
                scores(y_test, head_test >= head_cut),
                "",
            )
        )
        for c in CS:
            scaler = StandardScaler().fit(x_train[fit_idx])
            head = LogisticRegression(C=c, max_iter=2000).fit(
                scaler.transform(x_train[fit_idx]), sources[fit_idx]
            )
            b_val = head.predict_proba(scaler.transform(x_train[val_idx])) @ groups
            candidates.append((a, c, b_val, x_train, x_test))
    # choose on the held-out share: B alone, and B mixed with tfidf at the best weight
    best_b = max(candidates, key=lambda k: held_out_cuts(k[2], y_val, False, 5)[1])
    best_mix = None
    for a, c, b_val, x_train, x_test in candidates:
        for w in WEIGHTS:
            cut, score = held_out_cuts(w * tfidf_val + (1 - w) * b_val, y_val, False, 5)
            if best_mix is None or score > best_mix[0]:
                best_mix = (score, a, c, w, cut, x_train, x_test)
    assert best_mix is not None
    for name, chosen in (("B", best_b), ("mix", best_mix)):
        if name == "B":
            a, c, b_val, x_train, x_test = chosen
            cut, score = held_out_cuts(b_val, y_val, False, 5)
            w = 0.0
        else:
            score, a, c, w, cut, x_train, x_test = chosen
        scaler = StandardScaler().fit(x_train)
        head = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x_train), sources)
        b_test = head.predict_proba(scaler.transform(x_test)) @ groups
        proba = b_test if name == "B" else w * tfidf_test + (1 - w) * b_test
        label = (
            f"B: logistic regression on the static vector (chosen: SIF a={a}, C={c})"
            if name == "B"
            else f"B mixed with the tfidf model (chosen: SIF a={a}, C={c}, tfidf weight {w})"
        )
        rows.append((label, (score, np.nan), scores(y_test, proba >= cut), ""))

    # C: one learner over the TF-IDF columns and the static vector, chosen on the held-out share
    def joint(part: Any, x: np.ndarray, scale: float) -> Any:
        return sp.hstack([part, sp.csr_matrix(scale * unit_rows(x))]).tocsr()

    learner = tfidf_all.named_steps["classifier"]
    words_fit = tfidf_fit.named_steps["tfidf"].transform([texts[i] for i in fit_idx])
    words_val = tfidf_fit.named_steps["tfidf"].transform([texts[i] for i in val_idx])
    best_c = None
    for a, _c, _b_val, x_train, _x_test in candidates[:: len(CS)][:2]:  # SIF None, 1e-3
        for scale in SCALES:
            model = clone(learner).fit(joint(words_fit, x_train[fit_idx], scale), sources[fit_idx])
            c_val = model.predict_proba(joint(words_val, x_train[val_idx], scale))
            cut, score = held_out_cuts(c_val, y_val, False, 5)
            print(f"C: SIF a={a}, scale {scale}: held-out {score:.4f}", flush=True)
            if best_c is None or score > best_c[0]:
                best_c = (score, a, scale, cut, x_train)
    assert best_c is not None
    score, a, scale, cut, x_train = best_c
    weights = np.ones(len(vectors)) if a is None else a / (a + counts / counts.sum())
    weights[special] = 0.0
    words = tfidf_all.named_steps["tfidf"]
    model = clone(learner).fit(joint(words.transform(texts), x_train, scale), sources)

    def c_proba(batch: list[str]) -> np.ndarray:
        x = text_vectors(tokenizer, batch, vectors, weights)
        return np.asarray(model.predict_proba(joint(words.transform(batch), x, scale)))

    c_test = c_proba(list(test.texts))
    label = f"C: one model, TF-IDF + static vector (chosen: SIF a={a}, scale {scale})"
    for cuts, note in ((cut, "held-out cut"), (model.thresholds_, "its own cross-validated cuts")):
        rows.append((label, (score, np.nan), scores(y_test, c_test >= cuts), note))
    c_best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        c_proba(list(test.texts))
        c_best = min(c_best, time.perf_counter() - start)
    # throughput of the static vector itself (tokenize + lookup), best of 3
    weights = np.ones(len(vectors))
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        text_vectors(tokenizer, list(test.texts), vectors, weights)
        best = min(best, time.perf_counter() - start)
    lines = [
        "| model | held-out micro-F1 (choices) | test micro-F1 | test macro-F1 |",
        "|---|---:|---:|---:|",
    ]
    for label, (val_micro, _), (micro, macro), note in rows:
        held = "" if np.isnan(val_micro) else f"{val_micro:.3f}"
        lines.append(
            f"| {label}{' (' + note + ')' if note else ''} | {held} | {micro:.3f} | {macro:.3f} |"
        )
    header = (
        "# Static token vectors distilled from the fine-tuned nyt-cap encoder\n\n"
        f"`python benchmarks/static_vectors.py --bundle <nyt-cap run>/model`, commit {commit}, "
        f"{datetime.date.today()}, 2 cores, load average before / after {load_before:.2f} / "
        f"{os.getloadavg()[0]:.2f}. {len(train):,} training texts (held out: {len(val_idx):,}), "
        f"{len(test):,} test texts (2004-06). Issue 17's nyt-cap goal: 0.72 / 0.68 at >= 5,000 docs/s.\n\n"
        f"Distilling {len(vectors):,} token vectors: {distill_s:.1f} s. The static vector of the "
        f"{len(test):,} test texts (tokenize + weighted mean, numpy): {len(test) / best:,.0f} docs/s, "
        "best of 3; a head or the tfidf model comes on top. Model C from text to probabilities "
        f"(sklearn learner, not the bundle): {len(test) / c_best:,.0f} docs/s, best of 3.\n\n"
    )
    args.out.write_text(header + "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
