"""Everything a run reports about its topic model: quality metrics, the labeller,
stability, the K sweep, and the topic plots. Called by :mod:`topics.run.experiment`.

Metric keys (flat, in ``metrics.json``): ``lda_coherence_{c_v,c_npmi,u_mass}``,
``lda_topic_<k>_c_v`` ..., ``lda_topic_diversity``, ``lda_seed_recall[_<name>]``,
``lda_labeller_*``, ``lda_stability``, ``lda_sweep_best_k``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from topics.config import ExperimentConfig
from topics.data.corpus import Corpus
from topics.evaluate.metrics import multilabel_metrics
from topics.families.lda.model import LdaTopics

HEATMAP_SAMPLE = 40


def topic_quality_metrics(lda: LdaTopics, train_texts: list[str]) -> dict[str, float]:
    """Coherence (mean and per topic), diversity and seed-word recall."""
    from topics.evaluate.topic_quality import topic_diversity
    from topics.families.lda.seeding import seed_recall

    scores = lda.coherence(train_texts, measures=("c_v", "c_npmi", "u_mass"))
    metrics = {f"lda_coherence_{m}": scores[m] for m in ("c_v", "c_npmi", "u_mass")}
    for measure in ("c_v", "c_npmi", "u_mass"):
        for k, value in enumerate(scores[f"{measure}_per_topic"]):
            metrics[f"lda_topic_{k}_{measure}"] = value
    metrics["lda_topic_diversity"] = topic_diversity(lda.topic_word_)
    if lda.seeds:
        recall = seed_recall(lda.top_words(25), lda.seeds, lda.vocabulary_)
        metrics.update({f"lda_seed_recall_{_key(name)}": value for name, value in recall.items()})
        metrics["lda_seed_recall"] = float(np.nanmean(list(recall.values())))
    return metrics


def labeller_metrics(
    config: ExperimentConfig, lda: LdaTopics, train: Corpus, test: Corpus
) -> dict[str, float]:
    """Labels from seeded-topic weights: fixed threshold (labels-free), and tuned on train."""
    from topics.families.lda.labeller import label_by_topics, seeded_columns, tune_thresholds

    settings = config.model.lda.labeller
    labels = list(train.label_names)
    columns = seeded_columns(lda.topic_names_, labels)
    sets: dict[str, Corpus] = {"": test}
    if settings.eval_path:
        from topics.config import DataConfig

        extra = DataConfig(
            name="labeller-eval",
            root=config.data.root,
            path=settings.eval_path,
            format="jsonl",
            labels=config.data.labels,
        )
        from topics.run.cache import load_corpus_from_config

        sets["extra_"] = load_corpus_from_config(extra)
    tuned = None
    if settings.tune:
        theta_train = lda.transform(train.texts)
        tuned = tune_thresholds(theta_train, train.label_matrix(), columns, settings.threshold)
    metrics: dict[str, float] = {}
    for prefix, corpus in sets.items():
        theta = lda.transform(corpus.texts)
        y = corpus.label_matrix()
        fixed = multilabel_metrics(
            y, label_by_topics(theta, columns, settings.threshold), labels, prefix=""
        )
        metrics.update({f"lda_labeller_{prefix}{k}": v for k, v in fixed.items()})
        if tuned is not None:
            best = multilabel_metrics(y, label_by_topics(theta, columns, tuned), labels, prefix="")
            metrics.update({f"lda_labeller_tuned_{prefix}{k}": v for k, v in best.items()})
    if tuned is not None:
        for label, value in zip(labels, tuned, strict=True):
            metrics[f"lda_labeller_threshold_{_key(label)}"] = float(value)
    return metrics


def stability_metrics(
    config: ExperimentConfig, lda: LdaTopics, texts: list[str]
) -> dict[str, float]:
    """Refit with ``stability_runs`` seeds (the run's own model is the first) and align topics."""
    from sklearn.base import clone

    from topics.evaluate.topic_quality import stability

    runs = [lda.topic_word_]
    for i in range(1, config.model.lda.stability_runs):
        other = clone(lda).set_params(random_state=lda.random_state + i).fit(texts)
        runs.append(other.topic_word_)
    return {"lda_stability": stability(runs)}


def sweep_metrics(
    config: ExperimentConfig,
    lda: LdaTopics,
    train: Corpus,
    test: Corpus,
    tracker: Any,
    plots: Path,
) -> dict[str, float]:
    """One nested tracked run per K; plot coherence and perplexity against K."""
    from sklearn.base import clone

    from topics.evaluate.k_sweep import best_k, sweep_k
    from topics.evaluate.plots import plot_k_sweep

    settings = config.model.lda.sweep
    results = []
    for k in settings.num_topics:
        with tracker.child_run(f"{config.name}-k{k}", {"model.lda.num_topics": k}):
            (result,) = sweep_k(
                lambda k: clone(lda).set_params(num_topics=k), [k], train.texts, test.texts
            )
            tracker.log_metrics(result.metrics())
        results.append(result)
    best = best_k(results, settings.select_by)
    plot_k_sweep(
        [r.num_topics for r in results],
        {"c_v": [r.c_v for r in results], "c_npmi": [r.c_npmi for r in results]},
        [r.perplexity for r in results],
        best.num_topics,
        plots / "lda_k_sweep.png",
    )
    metrics = {"lda_sweep_best_k": float(best.num_topics)}
    for r in results:
        metrics.update({f"lda_sweep_k{r.num_topics}_{k[4:]}": v for k, v in r.metrics().items()})
    return metrics


def topic_plots(lda: LdaTopics, train: Corpus, plots: Path, seed: int) -> None:
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


def report_topics(
    config: ExperimentConfig,
    lda: LdaTopics,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    tracker: Any,
) -> dict[str, float]:
    """All topic metrics of a run; writes the topic plots under ``run_dir/plots``."""
    plots = run_dir / "plots"
    metrics = topic_quality_metrics(lda, train.texts)
    if config.model.lda.labeller.enabled:
        metrics.update(labeller_metrics(config, lda, train, test))
    if config.model.lda.stability_runs >= 2:
        metrics.update(stability_metrics(config, lda, train.texts))
    if config.model.lda.sweep.num_topics:
        metrics.update(sweep_metrics(config, lda, train, test, tracker, plots))
    topic_plots(lda, train, plots, config.seed)
    return metrics


def _key(name: str) -> str:
    return name.replace(" ", "_")
