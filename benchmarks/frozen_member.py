"""A frozen larger encoder as a third ensemble member, for issue 17's best-accuracy
goals (nyt-cap 0.75 / 0.70, 20 Newsgroups 0.905 / 0.90).

Fine-tuning all-mpnet-base-v2 costs hours on 2 cores; reading texts with it frozen
costs minutes, and frozen it is ahead of MiniLM on nyt-cap's validation years
(``encoder_choice_nyt-cap.md``). Here a logistic regression on its mean-pooled unit
vectors (``--encoder``) joins the experiment's tfidf model and fine-tuned MiniLM:

- every member's probabilities on the encoder's held-out share of train (the tfidf
  model's are out-of-fold; the new member is fit on the rest of train, as the
  encoder is);
- the weights (a 0.1 grid) and per-label cuts chosen there, as the shipped
  ensemble chooses its one weight; test is only reported, scored as the run scores
  it (``model.passages`` included).

Rows: each member alone, the shipped pair (its figures should be the run's), and
the pairs and triple with the new member; the member is a balanced logistic
regression per label (single-label data: one multinomial regression) on the vectors.

With ``--fine-tuned KEY=VALUE`` (repeatable: ``model.encoder`` settings), the third
member is ``--encoder`` fine-tuned instead, as the experiment's encoder family does
with those settings (the same held-out share), e.g. all-mpnet-base-v2 for two epochs.

The tfidf model and encoders come from the run cache when ``topics run`` left them
there; sentence vectors are kept in ``--vectors`` by content. Writes
``benchmarks/results/frozen_member_<name>.md`` (``..._fine-tuned.md``).

    TOPICS_DATA_DIR=../shared/data python benchmarks/frozen_member.py \\
        experiments/nyt-cap-encoder.yaml --encoder /tmp/mpnet/all-mpnet-base-v2 \\
        [--fine-tuned epochs=2 --fine-tuned learning_rate=5e-5]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from encoder_choice import embed  # noqa: E402
from encoder_views import GRID  # noqa: E402

from benchmarks import provenance  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import split_indices  # noqa: E402
from topics.families import FAMILIES  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.calibration import held_out_cuts  # noqa: E402
from topics.kernels.linear import mix, normalise_rows  # noqa: E402
from topics.kernels.passages import best_of, split_passages  # noqa: E402
from topics.run.build import fit_context  # noqa: E402
from topics.run.cache import load_corpus_cached, split_kwargs  # noqa: E402


class Vectors:
    """Unit sentence vectors of one encoder, computed once per distinct text and kept
    in ``folder`` (``.npy`` by a digest of the encoder, length and texts)."""

    def __init__(self, encoder: str, max_length: int, folder: Path) -> None:
        self.encoder, self.max_length, self.folder = encoder, max_length, folder
        self.known: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.known})
        if missing:
            digest = hashlib.sha256(
                "\0".join([self.encoder, str(self.max_length), *missing]).encode()
            ).hexdigest()[:24]
            path = self.folder / f"{digest}.npy"
            if path.exists():
                vectors = np.load(path)
            else:
                print(f"embedding {len(missing):,} texts", file=sys.stderr, flush=True)
                vectors, rate = embed(self.encoder, missing, self.max_length)
                print(f"  {rate:.0f} docs/s", file=sys.stderr, flush=True)
                self.folder.mkdir(parents=True, exist_ok=True)
                np.save(path, vectors)
            self.known.update(zip(missing, vectors, strict=True))
        return np.stack([self.known[t] for t in texts])


def frozen_member(
    vectors: Vectors, texts: Sequence[str], y: np.ndarray, single: bool
) -> Callable[[Sequence[str]], np.ndarray]:
    """Balanced logistic regression(s) on ``texts``' vectors: a texts -> ``(n,
    n_labels)`` function."""
    x = vectors(texts)
    if single:
        model = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")
        model.fit(x, y.argmax(axis=1))
        return lambda batch: model.predict_proba(vectors(batch))
    models = [
        LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced").fit(x, y[:, j])
        for j in range(y.shape[1])
    ]
    return lambda batch: np.column_stack([m.predict_proba(vectors(batch))[:, 1] for m in models])


def scores(gold: np.ndarray, proba: np.ndarray, cuts: np.ndarray, single: bool) -> tuple:
    """Accuracy (single-label) or micro-F1, and macro-F1, of ``proba`` at ``cuts``."""
    if single:
        truth, guess = gold.argmax(axis=1), proba.argmax(axis=1)
        return float(np.mean(truth == guess)), float(f1_score(truth, guess, average="macro"))
    predicted = (proba >= cuts).astype(int)
    return tuple(
        float(f1_score(gold, predicted, average=a, zero_division=0)) for a in ("micro", "macro")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", help="an experiment with tfidf, encoder and ensemble")
    parser.add_argument(
        "--encoder", required=True, help="local folder of the third member's encoder"
    )
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--vectors", default=".cache/topics/frozen_vectors", type=Path)
    parser.add_argument(
        "--fine-tuned",
        action="append",
        metavar="KEY=VALUE",
        help="the third member is --encoder fine-tuned with these model.encoder settings",
    )
    args = parser.parse_args(argv)
    commit, load_before, start = provenance.commit(), os.getloadavg()[0], time.perf_counter()
    config = load_config(Path(args.experiment), ["tracking.enabled=false"])
    if config.model.ensemble.tfidf_alone_below:
        parser.error(
            "model.ensemble.tfidf_alone_below is not mixed here: give an experiment without it"
        )
    min_positives = config.model.ensemble.threshold_min_positives or np.inf
    corpus = load_corpus_cached(config.data, config.cache_dir)
    train_idx, test_idx = split_indices(
        corpus, **split_kwargs(config.data.split, config.split_seed())
    )
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    labels = list(corpus.label_names)
    context = fit_context(config, labels)
    single = context.single_label
    data = TrainingData.from_corpus(train)
    tfidf = FAMILIES["tfidf"].fit(config.model.tfidf, context, data, {})
    encoder = FAMILIES["encoder"].fit(config.model.encoder, context, data, {})
    held = encoder.classifier.validation_indices_
    rest = np.setdiff1d(np.arange(len(data.texts)), held)
    if args.fine_tuned:
        settings = [f"model.encoder.{item}" for item in args.fine_tuned]
        second = load_config(
            Path(args.experiment),
            ["tracking.enabled=false", f"model.encoder.pretrained={args.encoder}", *settings],
        )
        fitted = FAMILIES["encoder"].fit(second.model.encoder, context, data, {})
        if not np.array_equal(fitted.classifier.validation_indices_, held):
            parser.error("the two encoders hold out different texts: keep validation_fraction")
        third, third_held = fitted.pipeline.predict_proba, fitted.classifier.validation_proba_
    else:
        vectors = Vectors(args.encoder, args.max_length, args.vectors)
        third = frozen_member(vectors, [data.texts[i] for i in rest], data.y[rest], single)
        third_held = third([data.texts[i] for i in held])
    prepare = normalise_rows if single else (lambda p: np.asarray(p, dtype=np.float64))
    members: list[Callable[[Sequence[str]], np.ndarray]] = [
        tfidf.pipeline.predict_proba,
        encoder.pipeline.predict_proba,
        third,
    ]
    held_out = [
        prepare(tfidf.classifier.oof_proba_[held]),
        prepare(encoder.classifier.validation_proba_),
        prepare(third_held),
    ]
    truth = data.y[held]
    # the run scores a test text as its passages' best (model.passages): each member
    # scores the passages once, and each mix is pooled as the run pools it
    flat, starts = split_passages(list(test.texts), config.model.passages)
    on_test = [prepare(member(flat)) for member in members]
    gold = test.label_matrix()
    name = Path(args.encoder).name
    combos = {
        "tfidf": [0],
        "fine-tuned encoder": [1],
        f"{name}": [2],
        "tfidf + fine-tuned encoder (shipped)": [0, 1],
        f"tfidf + {name}": [0, 2],
        f"fine-tuned encoder + {name}": [1, 2],
        "all three": [0, 1, 2],
    }
    rows = []
    for label, allowed in combos.items():
        grid = [w for w in GRID if all(w[i] == 0 for i in range(3) if i not in allowed)]
        chosen = []
        for weights in grid:
            cuts, found = held_out_cuts(mix(held_out, weights), truth, single, min_positives)
            chosen.append((found, weights, cuts))
        found, weights, cuts = max(chosen, key=lambda c: c[0])  # ties: the first, as the ensemble
        proba = best_of(mix(on_test, weights), starts)
        acc, macro = scores(gold, proba, cuts, single)
        shown = " / ".join(f"{w:g}" for w in weights)
        rows.append(f"| {label} | {shown} | {found:.4f} | {acc:.4f} | {macro:.4f} |")
        print(rows[-1], flush=True)
    metric = "accuracy" if single else "micro-F1"
    if args.fine_tuned:
        how = "fine-tuned"
        member = (
            f"{name} fine-tuned as the experiment's encoder, with "
            f"{', '.join(args.fine_tuned)}, on the {len(rest):,} training texts the encoder "
            "trained on"
        )
    else:
        how = "frozen"
        member = (
            f"balanced logistic regression on {name}'s unit mean-pooled vectors "
            f"({args.max_length} tokens), fit on the {len(rest):,} training texts "
            "the encoder trained on"
        )
    text = (
        f"# {config.name}: a {how} {name} as a third ensemble member\n\n"
        f"`python benchmarks/frozen_member.py {' '.join(argv or sys.argv[1:])}`, commit "
        f"{commit}, {datetime.date.today()}, 2 cores, load average before / after "
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}, {time.perf_counter() - start:.0f} s. "
        f"The member: {member}. Weights (tfidf / fine-tuned encoder / {name}, a 0.1 "
        f"grid) and cuts chosen on the encoder's {len(held):,} held-out training texts; "
        f"test ({len(test):,} texts) is only reported.\n\n"
        f"| model | weights | held-out {metric} | test {metric} | test macro-F1 |\n"
        "|---|---|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    suffix = "_fine-tuned" if args.fine_tuned else ""
    out = REPO / "benchmarks" / "results" / f"frozen_member_{config.name}{suffix}.md"
    provenance.write(out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
