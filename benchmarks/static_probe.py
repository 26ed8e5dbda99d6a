"""The static model's settings, chosen on train only: a grid scored on a slice of train.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/static_probe.py [nyt-cap] \\
        [--scales 0.5,1,2] [--cs 0.5,1] [--sif 0.001] [--contextual 0,64] \\
        [--tune 2:3e-4] [--teacher 1 [--distil 4,16]] [--whiten pca] [--sentence] \\
        [--regress 1,0.1] [--transfer] [--set KEY=VALUE] [--out FILE]

The slice is ``benchmarks/peers.py``'s: nyt-cap fits on 1996-2001 and validates on
2002-03 (the protocol behind experiments/nyt-cap.yaml's other choices); the other
datasets hold out a random 20% of train. Each dataset's encoder experiment
(``nyt-cap-encoder.yaml``, ``reuters-modapte.yaml``, ``20newsgroups-encoder.yaml``) gives the
tfidf model and the ``--teacher``'s settings. On the fit part: the experiment's tfidf
model, then the static vectors (``model.static``'s distillation) and, for each
``(sif, contextual, scale, C)``, the tfidf model's learner over the TF-IDF columns plus
``scale`` x the static vector, as :class:`topics.families.static.Static` fits it.
Each is scored at its own cross-validated cuts on the validation part. The test
split is not read. Writes ``benchmarks/results/static_probe_<name>.md``.

``--tune EPOCHS:RATE`` adds the token vectors fine-tuned on the fit part's labels,
model2vec's ``StaticModelForClassification`` way: the table as an embedding bag
(unit-length sum, as scored) under a linear head, trained with Adam (torch). The
learner's training vectors are cross-fitted (each fifth from a table tuned on the
other four), the validation vectors come from a table tuned on all of it.

``--teacher EPOCHS`` adds token vectors distilled the same way from MiniLM after
fine-tuning it on the fit part (``model.encoder`` as the experiment sets it, but
``EPOCHS`` epochs): the way that lifted the test figures in
``static_vectors_1_epoch.md``, here chosen or not on train only. The fine-tuned
encoder's own validation figures are a row too.

``--whiten MODE,...`` adds the static vectors re-expressed before the learner sees
them, each transform fit on the fit part's vectors: ``center`` (less their mean),
``standard`` (centred, each dimension divided by its standard deviation) or ``pca``
(centred, rotated onto the principal axes, each divided by its standard deviation),
all rescaled so the mean squared row norm is 1, as a unit vector's. A linear model
scores ``w . (x - m) / s`` as ``(w / s) . x`` plus a constant, so a bundle could fold
any of them into its weights at no cost at predict time; the L2 penalty then weighs
every direction of the vector alike, where on raw vectors it favours the few
dimensions that carry most of MiniLM's variance.

``--sentence`` adds MiniLM's own sentence vector (a transformer pass over every
text, mean-pooled, unit length) in the static vector's place: what a lookup would
reach if it matched the encoder, the bound of this family. ``--regress LAMBDA,...``
adds ``model.static.regress``'s tables, fit to the fit part's sentence vectors: the
token vectors ``E`` that bring each text's sum of token vectors (divided by its norm
under the distilled table ``E0``) nearest its sentence vector, in least squares, with
``LAMBDA * |E - E0|^2`` holding them to the distilled ones. The row names give the
mean cosine of the validation texts' static vectors to their sentence vectors.

``--set KEY=VALUE`` overrides the experiment for every row, the tfidf model's
included (its analyzer, ``model.tfidf.fine_labels``, ``data.label_field``).

``--distil C,...`` (with ``--teacher``) adds students of the teacher's scores,
issue 17's distillation: on the fit part's TF-IDF columns plus ``scale`` x the
MiniLM static vector (the first ``--scales``), one logistic regression per label
whose target is the teacher's probability of the label (each text once as a
positive, weighted p, and once as a negative, weighted 1 - p), or half that and
half the gold label; the same learner on the gold labels is the control. Each cuts
at per-label thresholds fit on its 5-fold out-of-fold scores of the fit part.

``--transfer`` (reuters-modapte, with ``--teacher``) is distillation through unlabelled
news: the 5,787 stories of Reuters' training years outside ModApte
(:func:`topics.data.datasets.reuters.read_unused`) take the labels of the teacher
mixed with the tfidf model as ``model.ensemble`` mixes them (the experiment's primary
model), and the tfidf model, and the static learner at the first scale and C, are fit
again on the fit part plus those stories.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import EXPERIMENTS as PEER_EXPERIMENTS  # noqa: E402
from peers import validation_slice  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.datasets.reuters import read_unused  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.errors import ConfigError  # noqa: E402
from topics.families import FAMILIES  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.calibration import fit_threshold  # noqa: E402
from topics.families.encoder import EncoderClassifier  # noqa: E402
from topics.families.fine_labels import FineLabelLinear  # noqa: E402
from topics.families.sentence_encoder import MINILM, TorchBertEmbedder  # noqa: E402
from topics.families.static import SENTENCE_TOKENS, StaticVectors  # noqa: E402
from topics.kernels.embedding_topics import unit_rows  # noqa: E402
from topics.kernels.static import (  # noqa: E402
    static_tokenizer,
    text_vectors,
    token_ids,
    token_rows,
)
from topics.run.build import fit_context, fit_family  # noqa: E402
from topics.run.cache import FitCache, load_corpus_cached, split_kwargs  # noqa: E402

# each dataset's experiment with the encoder: its tfidf model, and the teacher's settings
EXPERIMENTS = {
    **PEER_EXPERIMENTS,
    "nyt-cap": "experiments/nyt-cap-encoder.yaml",
    "20newsgroups": "experiments/20newsgroups-encoder.yaml",
}


def floats(text: str) -> list[float | None]:
    return [None if part == "none" else float(part) for part in text.split(",")]


WHITENINGS = ("center", "standard", "pca")
BOUND = "MiniLM's own sentence vector (a transformer pass, the bound)"  # never chosen


def whitenings(text: str) -> list[str]:
    modes = [part for part in text.split(",") if part]
    unknown = sorted(set(modes) - set(WHITENINGS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; use {', '.join(WHITENINGS)}")
    return modes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", default="nyt-cap", choices=sorted(EXPERIMENTS))
    parser.add_argument("--scales", type=floats, default=[0.5, 1.0, 2.0])
    parser.add_argument("--cs", type=floats, default=[0.5, 1.0])
    parser.add_argument("--sif", type=floats, default=[1e-3], help="'none': every token 1")
    parser.add_argument(
        "--contextual", type=floats, default=[0], help="model.static.contextual values"
    )
    parser.add_argument(
        "--tune",
        default="",
        help="fine-tuned tables, EPOCHS:RATE,... (e.g. 2:3e-4), each with every scale and C",
    )
    parser.add_argument(
        "--teacher",
        type=int,
        default=0,
        help="also distil from MiniLM fine-tuned this many epochs on the fit part",
    )
    parser.add_argument(
        "--distil",
        type=floats,
        default=[],
        help="with --teacher: logistic-regression students of its scores, at these C",
    )
    parser.add_argument(
        "--whiten",
        type=whitenings,
        default=[],
        help="re-expressed static vectors, MODE,... of center, standard, pca",
    )
    parser.add_argument(
        "--sentence", action="store_true", help="also MiniLM's own sentence vector, the bound"
    )
    parser.add_argument(
        "--regress",
        type=floats,
        default=[],
        help="static tables least-squares fit to the sentence vectors, at these ridge weights",
    )
    parser.add_argument(
        "--transfer",
        action="store_true",
        help="with --teacher, reuters-modapte: students also fit on unlabelled stories",
    )
    parser.add_argument(
        "--out", type=Path, help="default: benchmarks/results/static_probe_<experiment>.md"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override of the experiment for every row, e.g. model.tfidf.fine_labels=false",
    )
    args = parser.parse_args(argv)
    if args.distil and not args.teacher:
        parser.error("--distil needs --teacher EPOCHS: the students learn its scores")
    if args.transfer and not (args.teacher and args.experiment == "reuters-modapte"):
        parser.error("--transfer: reuters-modapte with --teacher EPOCHS, who labels the stories")
    commit, load_before = provenance.commit(), os.getloadavg()[0]
    try:
        config = load_config(
            REPO / EXPERIMENTS[args.experiment],
            [
                "tracking.enabled=false",
                "model.encoder.enabled=false",
                "model.ensemble.enabled=false",
                "model.primary=null",
                *args.set,
            ],
        )
    except ConfigError as exc:  # a bad --set
        parser.error(str(exc))
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, _ = split_indices(corpus, **split_kwargs(config.data.split, config.split_seed()))
    fit, val = validation_slice(config, corpus.subset(train_idx))
    single = bool(config.data.single_label)
    if args.distil and single:
        parser.error("--distil: one-vs-rest students, for multi-label data only")
    labels, data = list(corpus.label_names), TrainingData.from_corpus(fit)
    y, texts = val.label_matrix(), list(val.texts)

    def scores(predicted: np.ndarray) -> tuple[float, float]:
        if single:
            truth = y.argmax(1)
            guess = predicted if predicted.ndim == 1 else predicted.argmax(1)  # class indices
            return float(np.mean(truth == guess)), float(f1_score(truth, guess, average="macro"))
        return (
            float(f1_score(y, predicted, average="micro", zero_division=0)),
            float(f1_score(y, predicted, average="macro", zero_division=0)),
        )

    start = time.perf_counter()
    tfidf = fit_family(config, "tfidf", data, labels)
    rows = [
        (
            "tfidf model",
            "",
            "",
            "",
            scores(tfidf.classifier.decide(tfidf.predict_proba(texts))),
            time.perf_counter() - start,
        )
    ]
    print(rows[-1], flush=True)
    words_fit, words_val = (
        tfidf.vectorizer.transform(list(data.texts)),
        tfidf.vectorizer.transform(texts),
    )
    fine = isinstance(tfidf.classifier, FineLabelLinear)
    targets = data.targets(single, fine)
    tunes = [tuple(part.split(":")) for part in args.tune.split(",") if part]
    sentences = None  # (fit part's, or None without --sentence; validation part's)
    if args.sentence or args.regress:
        encoder = TorchBertEmbedder(MINILM, max_length=SENTENCE_TOKENS, batch_size=32)
        sentences = (
            unit_rows(encoder.embed(list(data.texts))) if args.sentence else None,
            unit_rows(encoder.embed(texts)),
        )
    scratch = tempfile.TemporaryDirectory()  # the teacher's weights, as a model folder
    store = FitCache(Path(scratch.name) / "cache")  # the fit part's sentence vectors, once
    sources = [("", MINILM)]
    if args.teacher:
        start = time.perf_counter()
        teacher = fine_tuned(config, args.teacher, data, labels, Path(scratch.name))
        seconds = time.perf_counter() - start
        rows.append(
            (
                f"fine-tuned MiniLM, {args.teacher} epoch(s) (the teacher)",
                "",
                "",
                "",
                scores(teacher.decide(teacher.predict_proba(texts))),
                seconds,
            )
        )
        print(rows[-1], flush=True)
        sources.append((f", from the teacher ({round(seconds)} s)", scratch.name))
        if args.distil:
            soft = teacher.predict_proba(list(data.texts))
        if args.transfer:
            mix = config.model.ensemble
            rows.append(
                (
                    "the teacher mixed with the tfidf model (its labels of the stories)",
                    "",
                    "",
                    "",
                    scores(mixed_labels(tfidf, teacher, texts, data.y.sum(axis=0), mix)),
                    0.0,
                )
            )
            print(rows[-1], flush=True)
            stories = read_unused(config.data.resolved_path(), config.data.encoding)
            story_labels = mixed_labels(tfidf, teacher, stories, data.y.sum(axis=0), mix)
            words_stories = tfidf.vectorizer.transform(stories)
            start = time.perf_counter()
            student = fit_family(
                config,
                "tfidf",
                TrainingData(list(data.texts) + stories, np.vstack([data.y, story_labels])),
                labels,
            )
            name = f"tfidf model + {len(stories):,} stories at the teacher's labels"
            result = scores(student.classifier.decide(student.predict_proba(texts)))
            rows.append((name, "", "", "", result, time.perf_counter() - start))
            print(rows[-1], flush=True)
    for (source, pretrained), sif, contextual in itertools.product(
        sources, args.sif, args.contextual
    ):
        static = StaticVectors(pretrained, sif=sif, contextual=int(contextual or 0))
        static.fit(data.texts)
        variants = [(source, static.transform(list(data.texts)), static.transform(texts), 0.0)]
        for epochs, rate in tunes:
            start = time.perf_counter()
            fit_vectors, val_vectors = tuned_vectors(
                static, list(data.texts), texts, targets, int(epochs), float(rate)
            )
            name = f"{source}, tuned {epochs} epochs at {float(rate):g} (cross-fitted)"
            variants.append((name, fit_vectors, val_vectors, time.perf_counter() - start))
        if sentences is not None and not source and sif == args.sif[0] and not contextual:
            if sentences[0] is not None:
                variants.append((BOUND, sentences[0], sentences[1], 0.0))
            for lam in args.regress:
                start = time.perf_counter()
                regressed = StaticVectors(MINILM, sif=sif, regress=lam, cache=store)
                regressed.fit(data.texts)
                fit_vectors, val_vectors = (
                    regressed.transform(part) for part in (list(data.texts), texts)
                )
                cosine = float((val_vectors * sentences[1]).sum(axis=1).mean())
                name = f", fit to sentence vectors, lambda {lam:g} (cosine {cosine:.2f})"
                variants.append((name, fit_vectors, val_vectors, time.perf_counter() - start))
        for mode in args.whiten:
            fit_vectors, val_vectors = whitened(variants[0][1], variants[0][2], mode)
            variants.append((f"{source}, {mode}", fit_vectors, val_vectors, 0.0))
        for (tuned, vectors_fit, vectors_val, tune_s), scale, c in itertools.product(
            variants, args.scales, args.cs
        ):
            start = time.perf_counter()
            model = clone(tfidf.classifier).set_params(C=c)
            model.fit(sp.hstack([words_fit, sp.csr_matrix(scale * vectors_fit)]).tocsr(), targets)
            proba = model.predict_proba(
                sp.hstack([words_val, sp.csr_matrix(scale * vectors_val)]).tocsr()
            )
            name = tuned if tuned == BOUND else f"static, contextual {int(contextual or 0)}{tuned}"
            seconds = time.perf_counter() - start + tune_s
            rows.append(
                (name, str(sif), f"{scale:g}", f"{c:g}", scores(model.decide(proba)), seconds)
            )
            print(rows[-1], flush=True)
            first = (tuned, scale, c) == (variants[0][0], args.scales[0], args.cs[0])
            if args.transfer and first and not source and sif == args.sif[0] and not contextual:
                start = time.perf_counter()
                model = clone(tfidf.classifier).set_params(C=c)
                model.fit(
                    sp.vstack(
                        [
                            sp.hstack([words_fit, sp.csr_matrix(scale * vectors_fit)]),
                            sp.hstack(
                                [words_stories, sp.csr_matrix(scale * static.transform(stories))]
                            ),
                        ]
                    ).tocsr(),
                    np.vstack([targets, story_labels]),
                )
                proba = model.predict_proba(
                    sp.hstack([words_val, sp.csr_matrix(scale * vectors_val)]).tocsr()
                )
                rows.append(
                    (
                        f"{name} + {len(stories):,} stories at the teacher's labels",
                        str(sif),
                        f"{scale:g}",
                        f"{c:g}",
                        scores(model.decide(proba)),
                        time.perf_counter() - start,
                    )
                )
                print(rows[-1], flush=True)
        if args.distil and not source and sif == args.sif[0] and not contextual:
            gold, scale = fit.label_matrix(), args.scales[0]
            fit_x, val_x = (
                sp.hstack([words, sp.csr_matrix(scale * vectors)]).tocsr()
                for words, vectors in ((words_fit, variants[0][1]), (words_val, variants[0][2]))
            )
            targets_by_name = {
                "gold labels": gold,
                "the teacher's scores": soft,
                "half gold, half the teacher's": (gold + soft) / 2,
            }
            for (name, target), c in itertools.product(targets_by_name.items(), args.distil):
                start = time.perf_counter()
                proba = soft_student(fit_x, target, gold, c, val_x)
                rows.append(
                    (
                        f"logreg student of {name}, static contextual 0",
                        str(sif),
                        f"{scale:g}",
                        f"{c:g}",
                        scores(proba),
                        time.perf_counter() - start,
                    )
                )
                print(rows[-1], flush=True)
    metric = "accuracy" if single else "micro-F1"
    best = max((r for r in rows if r[0].startswith("static")), key=lambda row: row[4][0])
    lines = [
        f"| model | SIF | scale | C | validation {metric} | macro-F1 | fit s |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for model_name, sif_text, scale_text, c_text, (first, macro), seconds in rows:
        mark = " (chosen)" if (model_name, sif_text, scale_text, c_text) == best[:4] else ""
        lines.append(
            f"| {model_name}{mark} | {sif_text} | {scale_text} | {c_text} | {first:.4f} | "
            f"{macro:.4f} | {seconds:.0f} |"
        )
    text = (
        f"# {args.experiment}: the static model's settings on a train-only slice\n\n"
        f"`python benchmarks/static_probe.py {' '.join(argv or sys.argv[1:])}`, commit {commit}, "
        f"{datetime.date.today()}, 2 cores, load average before / after {load_before:.2f} / "
        f"{os.getloadavg()[0]:.2f}. Fit on {len(fit):,} training texts, validated on "
        f"{len(val):,} other training texts; the test split is not read. Each model at its own "
        "cross-validated cuts. fit s: wall seconds to fit the tfidf model, or a static model's "
        "learner (its static vectors, distilled once per SIF and contextual, not counted; "
        "a tuned table's six tunings are) and score the validation part; the teacher's: "
        "fine-tuning it (the run cache not read) and scoring; a logreg student's: its five "
        "out-of-fold fits, its fit on the whole fit part and scoring (the teacher's scores "
        "of the fit part not counted).\n\n" + "\n".join(lines) + "\n"
    )
    out = args.out or REPO / "benchmarks" / "results" / f"static_probe_{args.experiment}.md"
    provenance.write(out, text)
    return 0


def fine_tuned(
    config: Any, epochs: int, data: TrainingData, labels: list[str], folder: Path
) -> EncoderClassifier:
    """MiniLM fine-tuned on ``data`` as ``model.encoder`` says, for ``epochs``; its
    weights and tokenizer written to ``folder`` (a model folder :class:`StaticVectors`
    reads)."""
    settings = config.model.encoder.model_copy(update={"epochs": epochs})
    context = dataclasses.replace(fit_context(config, labels), cache=None)  # timed: no cache
    teacher = FAMILIES["encoder"].fit(settings, context, data, {}).classifier
    teacher.encoder_.save_pretrained(folder)
    (folder / "tokenizer.json").write_text(teacher.tokenizer_json_, encoding="utf-8")
    return teacher


def mixed_labels(
    tfidf: Any, teacher: EncoderClassifier, texts: list[str], counts: np.ndarray, mix: Any
) -> np.ndarray:
    """0/1 labels of ``texts`` as reuters-modapte's ``model.ensemble`` (``mix``) decides
    them: the tfidf model's and the teacher's probabilities averaged at
    ``tfidf_weight``, cut at 0.5 (``threshold_min_positives: null``); labels with fewer
    than ``tfidf_alone_below`` training texts (``counts``) at the tfidf model's own
    decisions."""
    assert mix.tfidf_weight is not None and mix.threshold_min_positives is None
    words = tfidf.predict_proba(texts)
    weight = mix.tfidf_weight
    decided = weight * words + (1 - weight) * teacher.predict_proba(texts) >= 0.5
    alone = counts < (mix.tfidf_alone_below or 0)
    decided[:, alone] = tfidf.classifier.decide(words)[:, alone]
    return decided.astype(int)


def soft_student(
    fit_x: Any, target: np.ndarray, gold: np.ndarray, c: float, val_x: Any, folds: int = 5
) -> np.ndarray:
    """0/1 predictions for ``val_x`` of one logistic regression per label fit on soft
    ``target`` columns, each cut at the F1-best threshold (against ``gold``) of its
    out-of-fold scores on ``fit_x``."""
    from sklearn.linear_model import LogisticRegression

    def fit_proba(rows: np.ndarray, x: Any) -> np.ndarray:
        doubled = sp.vstack([fit_x[rows], fit_x[rows]]).tocsr()
        side = np.r_[np.ones(len(rows)), np.zeros(len(rows))]
        return np.column_stack(
            [
                LogisticRegression(C=c, solver="liblinear")
                .fit(doubled, side, sample_weight=np.r_[p, 1 - p])
                .predict_proba(x)[:, 1]
                for p in target[rows].T
            ]
        )

    fold = np.random.default_rng(0).permutation(fit_x.shape[0]) % folds
    out_of_fold = np.zeros(target.shape)
    for k in range(folds):
        out_of_fold[fold == k] = fit_proba(np.flatnonzero(fold != k), fit_x[fold == k])
    cuts = [fit_threshold(out_of_fold[:, j], gold[:, j]) for j in range(gold.shape[1])]
    return (fit_proba(np.arange(fit_x.shape[0]), val_x) >= np.array(cuts)).astype(int)


def whitened(fit: np.ndarray, val: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """``fit`` and ``val`` re-expressed by ``mode`` (center, standard or pca), the
    transform fit on ``fit``, rescaled so ``fit``'s mean squared row norm is 1."""
    mean = fit.mean(axis=0)
    if mode == "center":
        basis = np.eye(fit.shape[1], dtype=np.float64)
    elif mode == "standard":
        basis = np.diag(1 / np.maximum(fit.std(axis=0), 1e-6))
    else:  # pca
        values, vectors = np.linalg.eigh(np.cov(fit - mean, rowvar=False))
        basis = vectors / np.sqrt(np.maximum(values, 1e-9))
    out_fit, out_val = ((x - mean) @ basis for x in (fit, val))
    norm = np.sqrt((out_fit**2).sum(axis=1).mean())
    return (out_fit / norm).astype(np.float32), (out_val / norm).astype(np.float32)


def tuned_vectors(
    static: StaticVectors,
    fit_texts: list[str],
    val_texts: list[str],
    targets: np.ndarray,
    epochs: int,
    rate: float,
    folds: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """(cross-fitted vectors of ``fit_texts``, vectors of ``val_texts``) from ``static``'s
    table fine-tuned on ``targets`` (0/1 columns, or classes: softmax)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    tokenizer = static_tokenizer(static.tokenizer_json_)
    rows = token_rows(tokenizer.get_vocab_size(), static.ids_)
    start = static.vectors_.astype(np.float32)
    ids, lengths = token_ids(tokenizer, fit_texts)
    tokens = np.split(rows[ids], np.cumsum(lengths)[:-1])
    tokens = [row[row >= 0] for row in tokens]
    multi = targets.ndim == 2
    y = targets if multi else np.unique(targets, return_inverse=True)[1]
    outputs = y.shape[1] if multi else int(y.max()) + 1

    def tune(train: np.ndarray, seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        table = torch.nn.Parameter(torch.tensor(start))
        head = torch.nn.Linear(start.shape[1], outputs)
        optimizer = torch.optim.Adam(
            [{"params": [table], "lr": rate}, {"params": head.parameters(), "lr": 1e-2}]
        )
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            order = train[rng.permutation(len(train))]
            for batch in np.array_split(order, max(1, len(order) // 64)):
                bag = [tokens[i] for i in batch]
                offsets = np.r_[0, np.cumsum([len(t) for t in bag])[:-1]]
                sums = torch.nn.functional.embedding_bag(
                    torch.as_tensor(np.concatenate(bag)),
                    table,
                    torch.as_tensor(offsets),
                    mode="sum",
                )
                # unit vectors times 10: logits wide enough for the softmax to be sure
                logits = head(10 * sums / sums.norm(dim=1, keepdim=True).clamp(min=1e-9))
                target = torch.as_tensor(y[batch])
                loss = (
                    torch.nn.functional.binary_cross_entropy_with_logits(logits, target.float())
                    if multi
                    else torch.nn.functional.cross_entropy(logits, target.long())
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return table.detach().numpy().astype(np.float16)  # as the bundle stores it

    def vectors(table: np.ndarray, texts: list[str]) -> np.ndarray:
        return text_vectors(*token_ids(tokenizer, texts), rows, table)

    fold = np.random.default_rng(1).permutation(len(fit_texts)) % folds
    out = np.zeros((len(fit_texts), start.shape[1]), dtype=np.float32)
    for k in range(folds):
        table = tune(np.flatnonzero(fold != k), seed=k + 1)
        out[fold == k] = vectors(table, [fit_texts[i] for i in np.flatnonzero(fold == k)])
    return out, vectors(tune(np.arange(len(fit_texts)), seed=0), val_texts)


if __name__ == "__main__":
    sys.exit(main())
