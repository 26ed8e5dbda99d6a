"""A fine-tuned sentence encoder as the few-shot model's teacher, on the training years.

Issue 18 names contrastive or other fine-tuning of the sentence encoder as a way to
learn from a handful of examples. The ``few_shot`` model's teacher is a balanced
logistic regression on the frozen MiniLM embeddings of the labelled articles; its
probabilities, with the label descriptions' hints, pseudo-label the archive that the
student learns from. This script keeps everything else as shipped
(``experiments/nyt-cap-few-shot.yaml``) and swaps the teacher for:

- **finetune**: MiniLM fine-tuned end to end on the labelled articles, one sigmoid
  per label (``EncoderClassifier``, ``--epochs``, ``--learning-rate``, batch 16, head
  rate 1e-3, nothing held out): at the defaults, ``model.few_shot.teacher: finetune``'s
  teacher;
- **setfit**: SetFit's contrastive fine-tuning and logistic head, as the SetFit peer of
  ``few_shot.py`` (one class per label plus none; needs
  ``benchmarks/requirements-peers.txt``).

It scores them on the folds of ``few_shot_choices.py`` (A: pool 1999-2003, validated
on 1996-1998; B: pool 1996-2000, validated on 2001-2003), the same draws of N
labelled articles per label plus N with none; the test years are not read. Each
row gives the teacher alone on the validation years (the frozen one and finetune at
0.5, SetFit its most likely class) and the whole model with that teacher.

    TOPICS_DATA_DIR=../shared/data python benchmarks/few_shot_teacher.py \\
        [--n 64] [--draws 1] [--teachers finetune,setfit] [--epochs 8] \\
        [--learning-rate 5e-5] [--confident 0.9,1] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from benchmarks.few_shot import EXPERIMENT, scores, setfit_fit  # noqa: E402
from benchmarks.few_shot_choices import FOLDS, training_years  # noqa: E402
from topics.config import load_config  # noqa: E402
from topics.data.splits import draw_train_sample  # noqa: E402
from topics.families.base import TrainingData  # noqa: E402
from topics.families.encoder import EncoderClassifier  # noqa: E402
from topics.families.few_shot import SeededSelfTraining, embed_unique  # noqa: E402
from topics.families.few_shot.teachers import fit_logreg  # noqa: E402
from topics.run.build import fit_family  # noqa: E402


class GivenTeacher(SeededSelfTraining):
    """The shipped model, its teacher's archive probabilities given in
    ``archive_scores`` (archive texts x labels) instead of fitted."""

    archive_scores: np.ndarray

    def _teacher_scores(
        self,
        texts: list[str],
        y_lab: np.ndarray,
        emb_lab: np.ndarray,
        archive: list[str],
        emb_arch: np.ndarray,
    ) -> np.ndarray:
        assert self.archive_scores.shape == (len(archive), y_lab.shape[1])
        return self.archive_scores


def finetune_teacher(
    texts: list[str], y: np.ndarray, labels: list[str], args: argparse.Namespace, seed: int
) -> tuple[Callable[[list[str]], np.ndarray], float | None]:
    model = EncoderClassifier(
        label_names=labels,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        head_learning_rate=1e-3,
        batch_size=16,
        validation_fraction=0.0,
        random_state=seed,
    ).fit(texts, y)
    return model.predict_proba, 0.5


def setfit_teacher(
    texts: list[str], y: np.ndarray, labels: list[str], args: argparse.Namespace, seed: int
) -> tuple[Callable[[list[str]], np.ndarray], float | None]:
    model = setfit_fit(texts, y, seed)

    def proba(new: list[str]) -> np.ndarray:
        classes = np.asarray(model.predict_proba(new, batch_size=64, show_progress_bar=False))
        return classes[:, 1:]  # column 0: none

    return proba, None


TEACHERS = {"finetune": finetune_teacher, "setfit": setfit_teacher}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", default="64", help="labelled per label, comma-separated")
    parser.add_argument("--draws", type=int, default=1)
    parser.add_argument("--teachers", default="finetune,setfit")
    parser.add_argument("--epochs", type=int, default=8, help="finetune's epochs")
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="finetune's rate")
    parser.add_argument(
        "--confident",
        default="",
        help="model.few_shot.confident values, comma-separated: every teacher at each "
        "(default: the experiment's)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    teachers = [name for name in args.teachers.split(",") if name]
    unknown = sorted(set(teachers) - set(TEACHERS))
    if unknown:
        parser.error(f"--teachers: unknown {unknown}; choose from {sorted(TEACHERS)}")
    sizes = [int(n) for n in args.n.split(",")]
    confident = [float(value) for value in args.confident.split(",") if value]

    commit = provenance.commit()
    config = load_config(EXPERIMENT, ["tracking.enabled=false"])
    config.data.train_sample = None
    train, between = training_years(config)
    labels = list(train.label_names)
    y_all = train.label_matrix()

    rows: list[tuple[int, str, int, str, float, float, float | None]] = []
    started = time.perf_counter()
    for n in sizes:
        for fold, (pool_years, val_years) in FOLDS.items():
            pool, val = between(pool_years), between(val_years)
            val_texts = [train.texts[i] for i in val]
            gold = y_all[val]
            for draw in range(args.draws):
                sample = draw_train_sample(y_all[pool], labels, per_label=n, none=n, seed=draw)
                taken = pool[sample.indices]
                rest = np.setdiff1d(pool, taken)
                texts = [train.texts[i] for i in taken]
                archive = [train.texts[i] for i in rest]
                data = TrainingData(texts, y_all[taken], unlabelled=archive)
                shipped = fit_family(config, "few_shot", data, labels).classifier
                cuts = confident or [shipped.confident]
                frozen = np.zeros(gold.shape, dtype=int)
                emb_lab = embed_unique(texts, shipped.embedder_, shipped.cache)
                emb_val = embed_unique(val_texts, shipped.embedder_, shipped.cache)
                for j in range(len(labels)):
                    teacher = fit_logreg(emb_lab, y_all[taken][:, j], shipped.random_state)
                    frozen[:, j] = teacher.predict(emb_val)
                alone = scores(gold, frozen)[0]
                for cut in cuts:
                    model = SeededSelfTraining(**shipped.get_params()).set_params(confident=cut)
                    whole = scores(
                        gold, model.fit(texts, y_all[taken], archive).predict(val_texts)
                    )[0]
                    rows.append((n, fold, draw, f"frozen, confident {cut:g}", alone, whole, None))
                    print(f"N={n} fold {fold} draw {draw} {rows[-1][3:6]}", file=sys.stderr)
                for name in teachers:
                    began = time.perf_counter()
                    proba, decide_at = TEACHERS[name](texts, y_all[taken], labels, args, draw)
                    given = proba(archive)
                    alone = proba(val_texts)
                    if decide_at is None:  # one class per article: the most likely, or none
                        top = alone.max(axis=1, keepdims=True)
                        alone = (alone == top) & (top > 1 - alone.sum(axis=1, keepdims=True))
                    else:
                        alone = alone >= decide_at
                    alone_f1 = scores(gold, alone)[0]
                    seconds = time.perf_counter() - began
                    for cut in cuts:
                        model = GivenTeacher(**shipped.get_params()).set_params(confident=cut)
                        model.archive_scores = given
                        model.fit(texts, y_all[taken], unlabelled=archive)
                        whole = scores(gold, model.predict(val_texts))[0]
                        label = f"{name}, confident {cut:g}"
                        rows.append((n, fold, draw, label, alone_f1, whole, seconds))
                        print(f"N={n} fold {fold} draw {draw} {rows[-1][3:]}", file=sys.stderr)
                if args.out:
                    args.out.write_text(report(args, commit, rows), encoding="utf-8")
    print(report(args, commit, rows))
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)


def report(
    args: argparse.Namespace,
    commit: str,
    rows: list[tuple[int, str, int, str, float, float, float | None]],
) -> str:
    lines = [
        "# A fine-tuned teacher for the few_shot model, on the training years",
        "",
        f"`TOPICS_DATA_DIR=../shared/data python benchmarks/few_shot_teacher.py --n {args.n} "
        f"--draws {args.draws} --teachers {args.teachers} --epochs {args.epochs} "
        f"--learning-rate {args.learning_rate:g}"
        f"{f' --confident {args.confident}' if args.confident else ''}`, commit {commit}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores.",
        "",
        "Validation micro-F1 on each fold of `few_shot_choices.py` (A: pool 1999-2003 scored "
        "on 1996-1998; B: pool 1996-2000 scored on 2001-2003); the test years are not "
        "read. `teacher alone`: the teacher's own labels; `model`: "
        "`experiments/nyt-cap-few-shot.yaml`'s model with that teacher. `s`: the teacher's "
        "fine-tuning and scoring of the archive and the validation years. `confident`: the "
        "teacher probability at which a pseudo-label needs no hint (above 1: never).",
        "",
        "| N | fold | draw | teacher | teacher alone | model | s |",
        "|---:|---|---:|---|---:|---:|---:|",
    ]
    for n, fold, draw, name, alone, whole, seconds in rows:
        lines.append(
            f"| {n} | {fold} | {draw} | {name} | {alone:.4f} | {whole:.4f} | "
            f"{'' if seconds is None else f'{seconds:.0f}'} |"
        )
    lines += ["", "Means over the folds and draws:", "", "| N | teacher | teacher alone | model |"]
    lines.append("|---:|---|---:|---:|")
    for n, name in dict.fromkeys((row[0], row[3]) for row in rows):
        mine = [row for row in rows if row[0] == n and row[3] == name]
        lines.append(
            f"| {n} | {name} | {np.mean([r[4] for r in mine]):.4f} | "
            f"{np.mean([r[5] for r in mine]):.4f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
