"""Everything a run reports about its fitted topic model: quality metrics, the
labeller, stability, the K sweep, and the topic plots.

Evaluation only: nothing here loads data, fits a model or talks to a tracker. The
run side (:mod:`topics.run.topic_runs`) loads the labeller's extra corpus, refits
for stability and runs the K sweep, then passes what it got here.

Metric keys (flat, in ``metrics.json``): ``lda_coherence_{c_v,c_npmi,u_mass}``,
``lda_topic_diversity``, ``lda_seed_recall[_<name>]``, ``lda_labeller_*``,
``lda_stability``, ``lda_sweep_best_k``, ``lda_sweep_k<K>_*``: run-level figures only.
Per-topic coherence is a table, ``plots/lda_topics.csv`` (one row per topic); the
report's interactive topic view reads ``plots/lda_topic_view.json``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topics.evaluate.k_sweep import KScore, best_k
from topics.evaluate.metrics import multilabel_metrics
from topics.evaluate.topic_quality import stability, topic_diversity
from topics.evaluate.topic_view import (
    SUFFIX,
    representative_documents,
    topic_view_data,
    write_topic_view,
)
from topics.families.lda.labeller import label_by_topics, seeded_columns, tune_thresholds
from topics.families.lda.model import LdaTopics
from topics.families.lda.seeding import seed_recall

if TYPE_CHECKING:
    from topics.data.corpus import Corpus

HEATMAP_SAMPLE = 40
COHERENCE = ("c_v", "c_npmi", "u_mass")
TOPIC_TABLE = "lda_topics.csv"


def topic_quality_metrics(
    lda: LdaTopics, train_texts: list[str], table: Path | None = None
) -> dict[str, float]:
    """Mean coherence, diversity and seed-word recall; with ``table``, each topic's
    coherence is written there as CSV (see :func:`write_topic_table`), not as metrics."""
    scores = lda.coherence(train_texts, measures=COHERENCE)
    metrics = {f"lda_coherence_{m}": scores[m] for m in COHERENCE}
    if table is not None:
        write_topic_table(table, lda, {m: scores[f"{m}_per_topic"] for m in COHERENCE})
    metrics["lda_topic_diversity"] = topic_diversity(lda.topic_word_)
    if lda.seeds:
        recall = seed_recall(lda.top_words(25), lda.seeds, lda.vocabulary_)
        metrics.update({f"lda_seed_recall_{_key(name)}": value for name, value in recall.items()})
        metrics["lda_seed_recall"] = float(np.nanmean(list(recall.values())))
    return metrics


def write_topic_table(path: Path, lda: LdaTopics, per_topic: dict[str, Sequence[float]]) -> Path:
    """One CSV row per topic: ``topic,name,c_v,c_npmi,u_mass,top_words``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["topic", "name", *per_topic, "top_words"])
        for k, name in enumerate(lda.topic_names_):
            values = [f"{float(per_topic[m][k]):.6g}" for m in per_topic]
            writer.writerow([k, name, *values, " ".join(lda.top_words_[k][:10])])
    return path


def labeller_metrics(
    lda: LdaTopics,
    train: Corpus,
    test: Corpus,
    *,
    threshold: float,
    tune: bool,
    extra: Corpus | None = None,
) -> dict[str, float]:
    """Labels from seeded-topic weights: fixed ``threshold`` (labels-free), and, with
    ``tune``, thresholds tuned on ``train``; scored on ``test`` and on ``extra`` (keys
    ``lda_labeller_extra_*``) when given."""
    labels = list(train.label_names)
    # by seed name: a free topic named after a label (aligned, or by the user) labels nothing
    columns = seeded_columns(lda.seed_names_, labels)
    sets: dict[str, Corpus] = {"": test}
    if extra is not None:
        sets["extra_"] = extra
    tuned = None
    if tune:
        theta_train = lda.transform(train.texts)
        tuned = tune_thresholds(theta_train, train.label_matrix(), columns, threshold)
    metrics: dict[str, float] = {}
    for prefix, corpus in sets.items():
        theta = lda.transform(corpus.texts)
        y = corpus.label_matrix()
        fixed = multilabel_metrics(y, label_by_topics(theta, columns, threshold), labels, prefix="")
        metrics.update({f"lda_labeller_{prefix}{k}": v for k, v in fixed.items()})
        if tuned is not None:
            best = multilabel_metrics(y, label_by_topics(theta, columns, tuned), labels, prefix="")
            metrics.update({f"lda_labeller_tuned_{prefix}{k}": v for k, v in best.items()})
    if tuned is not None:
        for label, value in zip(labels, tuned, strict=True):
            metrics[f"lda_labeller_threshold_{_key(label)}"] = float(value)
    return metrics


def stability_metrics(topic_words: Sequence[np.ndarray]) -> dict[str, float]:
    """``lda_stability``: how well the topics of several seeds' fits align (the run's
    own model first)."""
    return {"lda_stability": stability(list(topic_words))}


def k_sweep_metrics(scores: Sequence[KScore], select_by: str, plots: Path) -> dict[str, float]:
    """The best K by ``select_by`` and every K's scores as flat metrics; plots coherence
    and perplexity against K to ``plots/lda_k_sweep.png``."""
    from topics.evaluate.plots import plot_k_sweep

    best = best_k(scores, select_by)
    plot_k_sweep(
        [r.num_topics for r in scores],
        {"c_v": [r.c_v for r in scores], "c_npmi": [r.c_npmi for r in scores]},
        [r.perplexity for r in scores],
        best.num_topics,
        plots / "lda_k_sweep.png",
    )
    metrics = {"lda_sweep_best_k": float(best.num_topics)}
    for r in scores:
        metrics.update({f"lda_sweep_k{r.num_topics}_{k[4:]}": v for k, v in r.metrics().items()})
    return metrics


def topic_plots(lda: LdaTopics, train: Corpus, plots: Path, seed: int) -> np.ndarray:
    """The topic plots; returns the training documents' topic proportions."""
    from topics.evaluate.plots import plot_doc_topic_heatmap, plot_top_words, plot_topic_prevalence

    names = lda.topic_names_
    plot_top_words(lda.topic_word_, lda.vocabulary_, plots / "lda_top_words.png", topic_names=names)
    theta = lda.transform(train.texts)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(train), size=min(HEATMAP_SAMPLE, len(train)), replace=False))
    doc_names = [f"{train.ids[i][:14]} [{', '.join(train.labels[i]) or '-'}]"[:40] for i in sample]
    plot_doc_topic_heatmap(theta[sample], plots / "lda_doc_topics.png", names, doc_names)
    plot_topic_prevalence(
        theta, train.label_matrix(), train.label_names, names, plots / "lda_topic_prevalence.png"
    )
    return theta


def lda_topic_view(lda: LdaTopics, train: Corpus, theta: np.ndarray) -> dict[str, Any]:
    """The report's topic view of ``lda`` (see :func:`topics.evaluate.topic_view.topic_view_data`).

    Term frequencies are the training tokens the model counts; a topic's prevalence is
    its share of those tokens (``theta`` weighted by document length, as LDAvis does);
    its representative documents are the training documents it weighs most in.
    """
    term_frequency = np.zeros(len(lda.vocabulary_))
    lengths = np.zeros(len(train))
    for i, (ids, counts) in enumerate(lda.bows(train.texts)):
        np.add.at(term_frequency, ids, counts)
        lengths[i] = counts.sum()
    prevalence = lengths @ theta if lengths.sum() > 0 else theta.sum(axis=0)
    titles = [f"{doc_id}: {text}" for doc_id, text in zip(train.ids, train.texts, strict=True)]
    return topic_view_data(
        lda.topic_word_,
        lda.vocabulary_,
        term_frequency,
        prevalence,
        names=lda.topic_names_,
        documents=representative_documents(theta, titles),
        model="lda",
    )


def report_topics(
    lda: LdaTopics,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    *,
    seed: int,
    labeller_threshold: float | None = None,
    labeller_tune: bool = False,
    labeller_extra: Corpus | None = None,
    stability_topic_words: Sequence[np.ndarray] | None = None,
    k_scores: Sequence[KScore] | None = None,
    k_select_by: str = "c_npmi",
) -> dict[str, float]:
    """All topic metrics of a run; writes the topic plots under ``run_dir/plots``.

    Parameters
    ----------
    lda : LdaTopics
        The run's fitted topic model.
    train, test : Corpus
        The run's split (coherence and plots on ``train``, the labeller on ``test``).
    run_dir : Path
        The run folder; plots go to ``run_dir/plots``.
    seed : int
        Picks the documents of the doc-topic heatmap.
    labeller_threshold : float or None
        The seeded-topic labeller's threshold; None leaves the labeller out.
    labeller_tune, labeller_extra
        See :func:`labeller_metrics`.
    stability_topic_words : sequence of arrays or None
        Topic-word matrices of the run's model and its refits (two or more): ``lda_stability``.
    k_scores, k_select_by
        The K sweep's scores and what picks the best K: see :func:`k_sweep_metrics`.
    """
    plots = run_dir / "plots"
    metrics = topic_quality_metrics(lda, train.texts, plots / TOPIC_TABLE)
    if labeller_threshold is not None:
        metrics.update(
            labeller_metrics(
                lda,
                train,
                test,
                threshold=labeller_threshold,
                tune=labeller_tune,
                extra=labeller_extra,
            )
        )
    if stability_topic_words:
        metrics.update(stability_metrics(stability_topic_words))
    if k_scores:
        metrics.update(k_sweep_metrics(k_scores, k_select_by, plots))
    theta = topic_plots(lda, train, plots, seed)
    write_topic_view(plots / f"lda{SUFFIX}", lda_topic_view(lda, train, theta))
    return metrics


def _key(name: str) -> str:
    return name.replace(" ", "_")
