"""Topic-model peers and ours on the same tokens: 20 Newsgroups train, K=20, top-10 words.

Every model trains on the reference tokens of :mod:`benchmarks.newsgroups_reference`
(10,980 docs, 15,231 words) and is scored against those tokenized texts with gensim's
``CoherenceModel`` (c_v, c_npmi of the top 10 words) and topic diversity (unique words
in the top 25 of every topic / 25K). Each row is the mean over ``--seeds`` seeds; train
seconds are wall-clock of model construction + training (ours also tokenizes the raw
text and builds its vocabulary inside ``fit``); cpu s is this process's CPU time for
the same span (all threads), which other jobs on the machine do not inflate.

Embedding-based models (ours ``embedding-topics``, BERTopic, FASTopic) embed the
raw (stripped) text of the same documents with the packaged all-MiniLM-L6-v2, run
by our encoder (torch, ``max_length`` of the experiment). Ours is fitted as the
experiment fits it, embedding included (its ``fit_sample`` texts when the
experiment sets one), and timed whole. The peers share one pass over every
document: their train s is its seconds plus their own, so they differ only in what
they do with the vectors. Their terms are counted on the reference tokens (ours:
its own tokenizer, asserted to give the same 15,231 words), and coherence uses the
same reference texts as every other row.
BERTopic and FASTopic are benchmark-only dependencies
(``pip install -r benchmarks/requirements-peers.txt`` in a separate environment).

    .venv/bin/python benchmarks/topics_peers.py [--seeds 3] [--models ours,tomotopy-2]

Writes a markdown table to stdout and, with ``--out``, to a file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402
from benchmarks.newsgroups_reference import ARCHIVE, read_texts, reference_tokens  # noqa: E402
from topics.config import deep_merge  # noqa: E402
from topics.evaluate.topic_quality import coherence  # noqa: E402
from topics.families.embedding_topics import (  # noqa: E402
    EmbeddingTopics,
    EmbeddingTopicsSettings,
)
from topics.families.lda.family import LdaSettings, make_lda  # noqa: E402
from topics.families.sentence_encoder import TorchBertEmbedder  # noqa: E402

K = 20
TOP_N = 10
EXPERIMENT = REPO / "experiments" / "20newsgroups-lda.yaml"
EMBEDDING_EXPERIMENT = REPO / "experiments" / "20newsgroups-embedding-topics.yaml"
EMBEDDING_MODELS = ("embedding-topics", "bertopic", "fastopic")
GOAL = {"c_v": 0.73, "c_npmi": 0.15, "diversity": 0.85}

TopicWords = list[list[str]]


def gensim_lda(docs: list[list[str]], seed: int, multicore: bool) -> tuple[float, np.ndarray]:
    from gensim.corpora import Dictionary
    from gensim.models import LdaModel, LdaMulticore

    dictionary = Dictionary(docs)
    corpus = [dictionary.doc2bow(d) for d in docs]
    start = time.perf_counter()
    if multicore:
        model = LdaMulticore(
            corpus, id2word=dictionary, num_topics=K, passes=10, workers=2, random_state=seed
        )
    else:
        model = LdaModel(
            corpus, id2word=dictionary, num_topics=K, passes=10, alpha="symmetric",
            random_state=seed,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    return seconds, _words(model.get_topics(), [dictionary[i] for i in range(len(dictionary))])


def sklearn_lda(docs: list[list[str]], seed: int) -> tuple[float, np.ndarray]:
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(analyzer=lambda d: d)
    counts = vectorizer.fit_transform(docs)
    start = time.perf_counter()
    model = LatentDirichletAllocation(
        n_components=K, learning_method="online", n_jobs=2, random_state=seed
    ).fit(counts)
    seconds = time.perf_counter() - start
    return seconds, _words(model.components_, list(vectorizer.get_feature_names_out()))


def tomotopy_lda(docs: list[list[str]], seed: int, workers: int) -> tuple[float, np.ndarray]:
    import tomotopy as tp

    start = time.perf_counter()
    model = tp.LDAModel(k=K, seed=seed)
    for d in docs:
        model.add_doc(d)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The training result may differ")
        model.train(1000, workers=workers)
    seconds = time.perf_counter() - start
    dist = np.array([model.get_topic_word_dist(k) for k in range(K)])
    return seconds, _words(dist, list(model.used_vocabs))


def ours(docs: list[list[str]], seed: int) -> tuple[float, np.ndarray]:

    lda = make_lda(ours_settings(), "english", seed)
    texts = [" ".join(d) for d in docs]
    start = time.perf_counter()
    lda.fit(texts)
    seconds = time.perf_counter() - start
    assert len(lda.vocabulary_) == 15231, f"vocabulary {len(lda.vocabulary_)} != reference 15231"
    return seconds, _words(lda.topic_word_, lda.vocabulary_)


class Shared:
    """The raw texts of the reference documents and, once computed, their embeddings."""

    def __init__(self, texts: list[str], cache_dir: Path | None = None) -> None:
        self.texts = texts
        self.cache_dir = cache_dir
        self.vectors: np.ndarray | None = None
        self.seconds = 0.0
        self.row = {text: i for i, text in enumerate(texts)}

    def embeddings(self) -> np.ndarray:
        if self.vectors is not None:
            return self.vectors
        from topics.families.features import _texts_digest
        from topics.run.cache import FitCache

        settings = embedding_settings()
        cache = FitCache(self.cache_dir) if self.cache_dir else None
        parts = (settings.pretrained, settings.max_length, _texts_digest(self.texts))
        key = cache.key("benchmark-embeddings", *parts) if cache else ""
        entry = cache.load("benchmark-embeddings", key) if cache else None
        if entry is not None:  # the seconds measured when they were computed
            self.vectors, self.seconds = entry[1]["vectors"], float(entry[0]["seconds"])
            return self.vectors
        start = time.perf_counter()
        embedder = TorchBertEmbedder(settings.pretrained, settings.max_length)
        self.vectors = embedder.embed(self.texts)
        self.seconds = time.perf_counter() - start
        print(f"embedded in {self.seconds:.1f} s", file=sys.stderr, flush=True)
        if cache:
            cache.save(
                "benchmark-embeddings", key, {"seconds": self.seconds}, {"vectors": self.vectors}
            )
        return self.vectors

    # what EmbeddingTopics calls: the shared vectors of texts it was given
    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embeddings()[[self.row[t] for t in texts]]

    def export(self) -> tuple[dict, dict]:
        raise NotImplementedError("the benchmark does not export")


SHARED: Shared | None = None


def embedding_ours(docs: list[list[str]], seed: int) -> tuple[float, np.ndarray]:
    assert SHARED is not None
    settings = embedding_settings()
    topics = EmbeddingTopics(
        num_topics=K,
        pretrained=settings.pretrained,
        max_length=settings.max_length,
        reduce_dims=settings.reduce_dims,
        fit_sample=settings.fit_sample,
        min_token_length=settings.min_token_length,
        no_below=settings.no_below,
        no_above=settings.no_above,
        term_score=settings.term_score,
        random_state=seed,
    )
    start = time.perf_counter()
    topics.fit(SHARED.texts)
    seconds = time.perf_counter() - start
    vocabulary = topics.vocabulary_
    assert len(vocabulary) == 15231, f"vocabulary {len(vocabulary)} != reference 15231"
    return seconds, _words(topics.topic_term_, vocabulary)


def minilm_sentence_transformer() -> object:
    from sentence_transformers import SentenceTransformer

    from topics.families.encoder import resolve_pretrained

    return SentenceTransformer(resolve_pretrained(embedding_settings().pretrained), device="cpu")


def bertopic(docs: list[list[str]], seed: int) -> tuple[float, np.ndarray]:
    """BERTopic's defaults (UMAP 5-d, HDBSCAN, c-TF-IDF), reduced to K topics; the
    outlier topic -1 is not a topic."""
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    assert SHARED is not None
    vectors = SHARED.embeddings()
    start = time.perf_counter()
    model = BERTopic(
        embedding_model=minilm_sentence_transformer(),
        umap_model=UMAP(
            n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
        ),
        vectorizer_model=CountVectorizer(tokenizer=str.split, lowercase=False, token_pattern=None),
        nr_topics=K + 1,  # K topics besides the outliers
        top_n_words=25,
    )
    model.fit([" ".join(d) for d in docs], vectors)
    seconds = time.perf_counter() - start + SHARED.seconds
    topics = [t for t in sorted(model.get_topics()) if t != -1]
    words = [[w for w, _ in model.get_topic(t)][:25] for t in topics]
    print(f"bertopic: {len(topics)} topics besides the outliers", file=sys.stderr, flush=True)
    width = min(len(w) for w in words)
    return seconds, np.array([w[:width] for w in words])


def fastopic(docs: list[list[str]], seed: int) -> tuple[float, np.ndarray]:
    """FASTopic (200 epochs, its defaults) on the reference tokens and the shared vectors."""
    import torch

    offline_torchvision_stub()
    from fastopic import FASTopic
    from topmost.preprocess import Preprocess

    assert SHARED is not None
    vectors = SHARED.embeddings()
    torch.manual_seed(seed)
    np.random.seed(seed)
    start = time.perf_counter()
    model = FASTopic(
        K,
        preprocess=Preprocess(stopwords=[], min_length=3, verbose=False),
        doc_embed_model=minilm_sentence_transformer(),
        num_top_words=25,
        verbose=False,
    )
    model.fit([" ".join(d) for d in docs], preset_doc_embeddings=vectors)
    seconds = time.perf_counter() - start + SHARED.seconds
    return seconds, _words(model.get_beta(), list(model.vocab))


def offline_torchvision_stub() -> None:
    """topmost imports ``torchvision.datasets.utils.download_url`` only to download its
    own datasets, never called here; PyPI's torchvision does not import beside the CPU
    torch. Without a torchvision installed, that one name is registered for this
    process (after transformers has looked for torchvision, so it still sees none)."""
    import importlib.util
    import types

    import transformers  # noqa: F401  (it looks for torchvision on import: first)

    if importlib.util.find_spec("torchvision") is not None:
        return

    def download_url(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the topic-model benchmark downloads nothing")

    for name in ("torchvision", "torchvision.datasets", "torchvision.datasets.utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["torchvision.datasets.utils"].download_url = download_url  # type: ignore[attr-defined]


def _words(topic_word: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    order = np.argsort(-np.asarray(topic_word), axis=1, kind="stable")[:, :25]
    return np.array([[vocabulary[i] for i in row] for row in order])


def ours_settings() -> LdaSettings:
    """``model.lda`` of the 20newsgroups-lda experiment (over configs/models/default.yaml)."""
    import yaml

    base = yaml.safe_load((REPO / "configs" / "models" / "default.yaml").read_text())["lda"]
    override = yaml.safe_load(EXPERIMENT.read_text())["model"]["lda"]
    return LdaSettings.model_validate(deep_merge(base, override))


def embedding_settings() -> EmbeddingTopicsSettings:
    """``model.embedding_topics`` of the 20newsgroups-embedding-topics experiment."""
    import yaml

    settings = yaml.safe_load(EMBEDDING_EXPERIMENT.read_text())["model"]["embedding_topics"]
    return EmbeddingTopicsSettings.model_validate(settings)


def embedding_label() -> str:
    settings = embedding_settings()
    reduce = f"PCA {settings.reduce_dims}" if settings.reduce_dims else "no reduction"
    sample = f"fit_sample={settings.fit_sample}, " if settings.fit_sample else ""
    return (
        f"**topics embedding_topics** (MiniLM max_length={settings.max_length}, {sample}"
        f"{reduce}, spherical k-means, terms by {settings.term_score})"
    )


def ours_label() -> str:
    lda = ours_settings()
    return (
        f"**topics** ({lda.engine}, {lda.iterations} sweeps, tw={lda.term_weight}, "
        f"eta={lda.eta}, workers={lda.workers})"
    )


MODELS: dict[str, tuple[str, Callable[[list[list[str]], int], tuple[float, np.ndarray]]]] = {
    "gensim": ("gensim LdaModel, passes=10, alpha symmetric", lambda d, s: gensim_lda(d, s, False)),
    "gensim-multicore": (
        "gensim LdaMulticore, workers=2, passes=10",
        lambda d, s: gensim_lda(d, s, True),
    ),
    "sklearn": ("sklearn LatentDirichletAllocation, online, n_jobs=2", sklearn_lda),
    "tomotopy-1": (
        "tomotopy LDAModel, 1000 iterations, workers=1",
        lambda d, s: tomotopy_lda(d, s, 1),
    ),
    "tomotopy-2": (
        "tomotopy LDAModel, 1000 iterations, workers=2",
        lambda d, s: tomotopy_lda(d, s, 2),
    ),
    "ours": ("ours", ours),
    "embedding-topics": ("embedding topics (ours)", embedding_ours),
    "bertopic": (
        "BERTopic (UMAP, HDBSCAN, nr_topics=21: 20 topics + outliers; the same MiniLM vectors)",
        bertopic,
    ),
    "fastopic": ("FASTopic (200 epochs; the same MiniLM vectors)", fastopic),
}


LABELS: dict[str, Callable[[], str]] = {"ours": ours_label, "embedding-topics": embedding_label}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--data", default=os.environ.get("TOPICS_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--embeddings-cache",
        type=Path,
        help="keep the MiniLM vectors here between runs (their train s stays the measured one)",
    )
    args = parser.parse_args(argv)
    names = args.models.split(",")
    commit = provenance.commit()
    texts, _ = read_texts(Path(args.data) / ARCHIVE)
    docs, kept = reference_tokens(texts)
    global SHARED
    SHARED = Shared([texts[i] for i in kept], args.embeddings_cache)
    n_words = len({w for d in docs for w in d})
    load_before = os.getloadavg()[0]
    # Seeds outer, models inner: the models of one seed run back to back, under
    # about the same load from other jobs on the machine.
    runs: dict[str, list[tuple[float, ...]]] = {name: [] for name in names}
    failed: dict[str, str] = {}
    for seed in range(1, args.seeds + 1):
        for name in names:
            if name in failed:
                continue
            cpu = time.process_time()
            try:
                seconds, top = MODELS[name][1](docs, seed)
            except Exception as exc:  # a peer that cannot run here: say why in the table
                failed[name] = f"{exc.__class__.__name__}: {exc}".replace("|", "/")[:300]
                print(f"{name} failed: {failed[name]}", file=sys.stderr, flush=True)
                continue
            cpu_seconds = time.process_time() - cpu
            scores = coherence([list(r[:TOP_N]) for r in top], docs, ("c_v", "c_npmi"), TOP_N)
            diversity = len(np.unique(top)) / top.size
            runs[name].append((seconds, scores["c_v"], scores["c_npmi"], diversity, cpu_seconds))
            print(f"{name} seed {seed}: {runs[name][-1]}", file=sys.stderr, flush=True)
    rows = [
        (
            LABELS[name]() if name in LABELS else MODELS[name][0],
            np.mean(runs[name], axis=0),
            runs[name],
        )
        for name in names
        if runs[name]
    ]
    load_after = os.getloadavg()[0]
    lines = [
        f"# Topic-model peers: 20 Newsgroups train, K={K}, top-{TOP_N} words",
        "",
        f"Commit {commit}, {time.strftime('%Y-%m-%d')}. "
        f"{len(docs):,} docs, {n_words:,} words (reference tokens); mean of {args.seeds} "
        f"seeds; {os.cpu_count()} cores; load average {load_before:.1f} before, "
        f"{load_after:.1f} after.",
        "",
        "| model | train s | c_v | c_npmi | diversity (top-25) | cpu s "
        "| per seed (s, c_v, c_npmi, div) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, mean, model_runs in rows:
        per_seed = "; ".join(f"{r[0]:.1f}, {r[1]:.3f}, {r[2]:.3f}, {r[3]:.3f}" for r in model_runs)
        lines.append(
            f"| {label} | {mean[0]:.1f} | {mean[1]:.3f} | {mean[2]:.3f} | {mean[3]:.3f} | "
            f"{mean[4]:.1f} | {per_seed} |"
        )
    for name in failed:
        lines.append(f"| {MODELS[name][0]} | could not run: {failed[name]} | | | | | |")
    lines += [
        "",
        f"Goal for topics: c_v >= {GOAL['c_v']}, c_npmi >= {GOAL['c_npmi']}, "
        f"diversity >= {GOAL['diversity']}, train s <= tomotopy workers=2 in the same run.",
        "Goal for embedding topics: c_npmi >= 0.19 with diversity >= 0.85, at or above every "
        "peer on c_npmi at equal or better diversity, train s <= 3x ours (LDA).",
        "",
        f"Command: `.venv/bin/python benchmarks/topics_peers.py --seeds {args.seeds}"
        f" --models {args.models}`",
    ]
    if SHARED.vectors is not None:
        lines.insert(
            -2,
            f"The peers' MiniLM embedding of the {len(docs):,} texts: "
            f"{SHARED.seconds:.1f} s (in their train s; ours embeds inside its own fit).",
        )
    if runs.get("ours") and runs.get("embedding-topics"):
        ratio = np.mean(runs["embedding-topics"], axis=0)[0] / np.mean(runs["ours"], axis=0)[0]
        lines.insert(-2, f"Embedding topics' train s / ours (LDA): {ratio:.1f}x.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
