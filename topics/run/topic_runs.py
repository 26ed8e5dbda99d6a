"""The run side of the topic model's report: what needs data, fits or the tracker.

- ``model.lda.labeller.eval_path``: the labeller's extra gold-labelled corpus is
  loaded here;
- ``model.lda.stability_runs``: the run's model is refitted with the next seeds;
- ``model.lda.sweep.num_topics``: the K sweep is a preset of ``topics sweep``, one
  trial per K (the run's config with ``model.lda.num_topics: K``), run by the same
  executor (:func:`topics.run.trials.execute`) and logged the same way, as one nested
  run per K named ``<experiment>-k<K>``.

Then :func:`topics.evaluate.topic_report.report_topics` turns the fitted models
into metrics and plots; evaluation never loads, fits or tracks.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from topics.config import DataConfig, ExperimentConfig
from topics.data.corpus import DATE_META, Corpus
from topics.evaluate.k_sweep import KScore, score_k
from topics.evaluate.over_time import PeriodTotals, period_of, write_over_time
from topics.evaluate.topic_report import report_topics
from topics.families.lda.family import make_lda
from topics.families.lda.model import LdaTopics
from topics.run.cache import load_corpus_from_config
from topics.run.trackers import Tracker
from topics.run.trials import Trial, TrialFailed, TrialResult, execute, log_child_run, make_trials

logger = logging.getLogger(__name__)

__all__ = [
    "fit_k_trial",
    "k_sweep_trials",
    "log_topic_names",
    "over_time_outputs",
    "run_k_sweep",
    "stability_refits",
    "topic_metrics",
]


def topic_metrics(
    config: ExperimentConfig,
    lda: LdaTopics,
    train: Corpus,
    test: Corpus,
    run_dir: Path,
    tracker: Tracker,
) -> dict[str, float]:
    """All topic metrics of a run (see :mod:`topics.evaluate.topic_report`); the K
    sweep's children are logged under ``tracker``'s current run."""
    settings = config.model.lda
    labeller = settings.labeller
    extra = labeller_corpus(config) if labeller.enabled and labeller.eval_path else None
    refits = (
        stability_refits(lda, train.texts, settings.stability_runs)
        if settings.stability_runs >= 2
        else None
    )
    k_scores = run_k_sweep(config, train, test, tracker) if settings.sweep.num_topics else None
    log_topic_names(tracker, lda.topic_names_)
    return report_topics(
        lda,
        train,
        test,
        run_dir,
        seed=config.seed,
        labeller_threshold=labeller.threshold if labeller.enabled else None,
        labeller_tune=labeller.tune,
        labeller_extra=extra,
        stability_topic_words=refits,
        k_scores=k_scores,
        k_select_by=settings.sweep.select_by,
    )


def log_topic_names(tracker: Tracker, names: Sequence[str], prefix: str = "topics.topic") -> None:
    """Each topic's name as the run's tag ``<prefix>.<k>.name`` (params stay small),
    when the tracker takes tags (the MLflow tracker does)."""
    log_tags = getattr(tracker, "log_tags", None)
    if log_tags is not None:
        log_tags({f"{prefix}.{k}.name": name for k, name in enumerate(names)})


def over_time_outputs(
    config: ExperimentConfig,
    lda: LdaTopics | None,
    train: Corpus,
    test: Corpus,
    predicted_test: np.ndarray | None,
    folder: Path,
) -> list[Path]:
    """Topics over time (``data.date_field``), written into ``folder``; see
    :mod:`topics.evaluate.over_time`.

    Topic prevalence and true-label prevalence cover every document of the run
    (train and test); predicted-label prevalence, the primary model's labels on the
    test split. Documents without a usable date are left out, with one warning.
    """
    field, period = config.data.date_field, config.data.period
    if field is None:
        return []
    everything = [*train.meta.get(DATE_META, []), *test.meta.get(DATE_META, [])]
    periods = [period_of(value, period) for value in everything]
    missing = sum(p is None for p in periods)
    if missing:
        logger.warning(
            "%d of %d documents have no usable date in data.date_field '%s' (missing, or "
            "not a year, year-month or ISO date that gives a %s); they are left out of "
            "the topics-over-time files",
            missing,
            len(periods),
            field,
            period,
        )
    theta = None if lda is None else lda.transform([*train.texts, *test.texts])
    y = np.vstack([train.label_matrix(), test.label_matrix()])
    totals = PeriodTotals.accumulate(periods, theta, y)
    labels = {"true (train and test)": totals}
    if predicted_test is not None:
        test_periods = periods[len(train) :]
        labels["predicted (test split)"] = PeriodTotals.accumulate(test_periods, y=predicted_test)
    return write_over_time(
        folder,
        totals if lda is not None else None,
        [] if lda is None else lda.topic_names_,
        labels,
        list(train.label_names),
        date_field=field,
        period=period,
    )


def labeller_corpus(config: ExperimentConfig) -> Corpus:
    """``model.lda.labeller.eval_path`` (JSONL under the data root), with the run's labels."""
    return gold_corpus(config, "labeller-eval", config.model.lda.labeller.eval_path or "")


def gold_corpus(config: ExperimentConfig, name: str, path: str) -> Corpus:
    """A labelled JSONL file beside the run's data (``path`` resolves as ``data.path``),
    read with the run's labels."""
    extra = DataConfig(
        name=name, root=config.data.root, path=path, format="jsonl", labels=config.data.labels
    )
    return load_corpus_from_config(extra)


def stability_refits(lda: LdaTopics, texts: Sequence[str], runs: int) -> list[np.ndarray]:
    """Topic-word matrices of ``lda`` (first) and ``runs - 1`` refits of it, seeded
    ``random_state + 1``, ``+ 2``, ..."""
    from sklearn.base import clone

    topic_words = [lda.topic_word_]
    for i in range(1, runs):
        other = clone(lda).set_params(random_state=lda.random_state + i).fit(texts)
        topic_words.append(other.topic_word_)
    return topic_words


def k_sweep_trials(config: ExperimentConfig) -> list[Trial]:
    """The K sweep as sweep trials: ``model.lda.num_topics`` over ``model.lda.sweep.num_topics``."""
    ks = config.model.lda.sweep.num_topics
    return make_trials(
        config, [{"model.lda.num_topics": k} for k in ks], [f"{config.name}-k{k}" for k in ks]
    )


def run_k_sweep(
    config: ExperimentConfig, train: Corpus, test: Corpus, tracker: Tracker
) -> list[KScore]:
    """Fit and score one LDA per K through the sweep executor, one child run per K.

    Trials run one after another here (a run may itself be a sweep trial on a
    worker). A K that fails is logged as a FAILED child and fails the run.
    """
    trials = k_sweep_trials(config)
    by_index = {trial.index: trial for trial in trials}
    work = partial(fit_k_trial, train_texts=train.texts, heldout_texts=test.texts)
    # Each K trains on the run's training split: that is the children's dataset input.
    dataset = (config.data.name, str(config.data.resolved_path()))
    digest = train.fingerprint()
    scores: dict[int, KScore] = {}
    for result in execute(trials, work, n_jobs=1, address=None):
        trial = by_index[result.index]
        result.data_fingerprint = digest
        log_child_run(tracker, trial.name, trial.overrides, result, result.metrics, dataset=dataset)
        if result.error is not None:
            raise TrialFailed(f"K sweep {trial.name}: {result.error}")
        num_topics = trial.config.model.lda.num_topics
        scores[trial.index] = KScore.from_metrics(num_topics, result.metrics)
        # On the run itself, K as the step: the UI draws each score against K.
        stepped = {f"lda_sweep_{key[4:]}": value for key, value in result.metrics.items()}
        tracker.log_metrics(stepped, step=num_topics)
    return [scores[index] for index in sorted(scores)]


def fit_k_trial(
    trial: Trial, train_texts: Sequence[str], heldout_texts: Sequence[str]
) -> TrialResult:
    """Fit the LDA ``trial.config`` describes on ``train_texts`` and score it
    (:func:`topics.evaluate.k_sweep.score_k`); never raises."""
    started = time.perf_counter()
    result = TrialResult(index=trial.index, host=f"{socket.gethostname()}:{os.getpid()}")
    config = trial.config
    try:
        lda = make_lda(config.model.lda, config.features.tfidf.stop_words, config.seed)
        fit_started = time.perf_counter()
        lda.fit(list(train_texts))
        fit_seconds = time.perf_counter() - fit_started
        result.metrics = score_k(lda, train_texts, heldout_texts, fit_seconds).metrics()
    except Exception as exc:  # reported in the result; the caller decides
        result.error = f"{exc.__class__.__name__}: {exc}"
    result.seconds = time.perf_counter() - started
    return result
