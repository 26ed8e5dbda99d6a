"""The two LDA training engines behind :class:`topics.families.lda.model.LdaTopics`.

Both take documents as lists of in-vocabulary tokens and return the same thing,
a :class:`TrainedLda`: the variational parameter ``lambda_`` (K x V, in our
vocabulary order) and the document prior ``alpha``. Doc-topic inference then runs
in numpy (:mod:`topics.kernels.lda`) from ``exp(E[log beta])``, whatever the engine.

- ``gensim``: online variational Bayes (``LdaModel``); lambda is gensim's own.
- ``tomotopy``: collapsed Gibbs sampling (``LDAModel``); lambda = eta + the
  topic-word counts of the final sample, the posterior Dirichlet parameter of
  each topic's word distribution given that sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from topics.progress import progress

TERM_WEIGHTS = ("one", "idf", "pmi")
# gensim: documents whose per-word bound is computed after each pass (training history)
BOUND_SAMPLE = 1000


@dataclass
class TrainedLda:
    lambda_: np.ndarray  # (K, V) posterior Dirichlet parameters of the topics
    alpha: np.ndarray  # (K,) document-topic prior
    model: Any  # the engine's own model object (not saved in the bundle)
    log_likelihood_per_word: float | None = None
    # one record per pass (gensim) or per chunk of Gibbs sweeps (tomotopy): "step" and
    # "log_likelihood_per_word", the training curve
    history: list[dict[str, float]] = field(default_factory=list)


def train_gensim(
    docs: Sequence[list[str]],
    token2id: dict[str, int],
    num_topics: int,
    eta: np.ndarray | str,
    *,
    alpha: str | float,
    passes: int,
    iterations: int,
    random_state: int,
) -> TrainedLda:
    from gensim.corpora import Dictionary
    from gensim.models import LdaModel

    dictionary = Dictionary()
    dictionary.token2id = dict(token2id)
    dictionary.id2token = {}
    corpus = [dictionary.doc2bow(doc) for doc in docs]
    model = LdaModel(
        id2word=dictionary,
        num_topics=num_topics,
        iterations=iterations,
        alpha=alpha,
        eta=eta,
        random_state=random_state,
        dtype=np.float64,
        eval_every=None,
    )
    # One update per pass so a terminal shows progress pass by pass.
    sample = corpus[:: max(1, -(-len(corpus) // BOUND_SAMPLE))]
    history = []
    for done in progress(range(1, passes + 1), desc="LDA passes", unit="pass"):
        model.update(corpus, passes=1)
        history.append({"step": float(done), "log_likelihood_per_word": _bound(model, sample)})
    return TrainedLda(
        lambda_=np.asarray(model.state.get_lambda(), dtype=np.float64),
        alpha=np.asarray(model.alpha, dtype=np.float64),
        model=model,
        history=history,
    )


def _bound(model: Any, sample: list[Any]) -> float:
    """gensim's per-word variational bound on ``sample``; it draws from the model's
    random state, which is restored so training goes on as without it."""
    state = model.random_state.get_state()
    try:
        return float(model.log_perplexity(sample))
    finally:
        model.random_state.set_state(state)


def train_tomotopy(
    docs: Sequence[list[str]],
    vocabulary: list[str],
    num_topics: int,
    eta: np.ndarray,
    *,
    alpha: float,
    iterations: int,
    term_weight: str,
    optim_interval: int,
    workers: int,
    random_state: int,
    step: int = 50,
) -> TrainedLda:
    """Gibbs LDA; ``eta`` is the (K, V) prior, its non-uniform columns set per word."""
    try:
        import tomotopy as tp
    except ImportError as exc:  # pragma: no cover - tomotopy is a dependency
        raise ImportError("engine 'tomotopy' needs tomotopy: pip install tomotopy") from exc

    base_eta = float(eta.min())
    weight = {"one": tp.TermWeight.ONE, "idf": tp.TermWeight.IDF, "pmi": tp.TermWeight.PMI}
    model = tp.LDAModel(
        tw=weight[term_weight], k=num_topics, alpha=alpha, eta=base_eta, seed=random_state
    )
    for doc in docs:
        if doc:
            model.add_doc(doc)
    for v in np.flatnonzero(np.any(eta != base_eta, axis=0)):
        model.set_word_prior(vocabulary[v], [float(x) for x in eta[:, v]])
    model.optim_interval = optim_interval
    done = 0
    history = []
    with warnings.catch_warnings():
        # tomotopy warns on every call with workers > 1 that results may vary: known.
        warnings.filterwarnings("ignore", message="The training result may differ")
        for _ in progress(range(-(-iterations // step)), desc="LDA Gibbs sweeps", unit="x50"):
            chunk = min(step, iterations - done)
            model.train(chunk, workers=workers, parallel=tp.ParallelScheme.DEFAULT)
            done += chunk
            history.append({"step": float(done), "log_likelihood_per_word": model.ll_per_word})
    index = {word: i for i, word in enumerate(vocabulary)}
    columns = np.array([index[word] for word in model.used_vocabs], dtype=np.int64)
    lambda_ = np.empty((num_topics, len(vocabulary)))
    lambda_[:] = eta  # words tomotopy never saw keep their prior
    raw = np.array(
        [model.get_topic_word_dist(k, normalize=False) for k in range(num_topics)],
        dtype=np.float64,
    )
    lambda_[:, columns] = raw  # counts + eta, as tomotopy reports them
    return TrainedLda(
        lambda_=lambda_,
        alpha=np.asarray(model.alpha, dtype=np.float64),
        model=model,
        log_likelihood_per_word=float(model.ll_per_word),
        history=history,
    )
