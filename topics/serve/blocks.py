"""How the predictor reads a bundle's feature blocks (TF-IDF, LDA topics, a
transformer's pooled vectors, embedding topics, static token vectors) with the numpy
kernels of :mod:`topics.kernels`, and the checks every array and setting passes
before it is used: a bundle is untrusted input."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from topics.kernels.embedding_topics import topic_proportions, unit_rows
from topics.kernels.lda import DEFAULT_MAX_ITER, DEFAULT_TOL, infer_topics_flat
from topics.kernels.sparse import SparseRows, TermCounter, tfidf_weight
from topics.kernels.static import static_tokenizer, text_vectors, token_ids, token_rows
from topics.kernels.transformer import (
    RELATIVE_BIAS,
    SCALE,
    WORDS,
    NumpyEncoder,
    encode_by_length,
    load_encoder_tokenizer,
)
from topics.kernels.vocabulary import Terms
from topics.text import (
    TopicTokenizer,
    analyzer_from_dict,
    field_error,
    keep_header_fields,
    required,
    required_bool,
    required_strings,
)

# Bounds on settings a bundle carries: what training writes, with room to spare.
MAX_LDA_ITERATIONS = 100_000
MAX_ENCODER_LAYERS = 64
MAX_ENCODER_HEADS = 128
MAX_ENCODER_LENGTH = 8192


class ArrayError(ValueError):
    """An array of the bundle that is missing or not the shape its spec implies;
    ``key`` is its name without the block or model prefix."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


def array(
    arrays: dict[str, np.ndarray], key: str, shape: Sequence[int | None], kinds: str = "f"
) -> np.ndarray:
    """``arrays[key]``, checked: its dtype kind in ``kinds`` and its shape ``shape``
    (None: any size on that axis)."""
    if key not in arrays:
        raise ArrayError(key, "missing")
    value = arrays[key]
    if (
        value.dtype.kind not in kinds
        or len(value.shape) != len(shape)
        or any(
            want is not None and want != got for want, got in zip(shape, value.shape, strict=True)
        )
    ):
        wanted = "(" + ", ".join("n" if n is None else str(n) for n in shape) + ")"
        raise ArrayError(
            key, f"expected {wanted} of kind {kinds!r}, found {value.dtype.str} {list(value.shape)}"
        )
    return value


def within(prefix: str, exc: Exception) -> ValueError:
    """``exc`` (a field error inside ``prefix``) with its field named from ``prefix``."""
    if isinstance(exc, ArrayError):
        return exc
    return ValueError(f"{prefix}.{exc}")


def terms(spec: dict[str, Any], key: str) -> list[str]:
    """A vocabulary: distinct strings."""
    words = required_strings(spec, key)
    if len(set(words)) != len(words):
        raise field_error(key, "distinct terms", f"{len(words) - len(set(words))} repeated")
    return words


def integer(spec: dict[str, Any], key: str, low: int, high: int, default: int | None = None) -> int:
    value = spec.get(key, default) if default is not None else required(spec, key)
    if type(value) is not int or not low <= value <= high:
        raise field_error(key, f"an integer in [{low}, {high}]", value)
    return value


def number(
    spec: dict[str, Any], key: str, low: float, high: float, default: float | None = None
) -> float:
    value = spec.get(key, default) if default is not None else required(spec, key)
    if type(value) not in (int, float) or not low <= value <= high:
        raise field_error(key, f"a number in [{low:g}, {high:g}]", value)
    return float(value)


def zero_one(values: np.ndarray, key: str) -> np.ndarray:
    if not np.isin(values, (0, 1)).all():
        raise ArrayError(key, "expected 0/1 values")
    return values


def vocabulary_terms(spec: dict[str, Any]) -> Terms:
    """A TF-IDF block's vocabulary: ``terms``, every term concatenated (one string
    parses and sits in memory at a fraction of a list's cost), and ``term_lengths``."""
    text, lengths = required(spec, "terms"), required(spec, "term_lengths")
    if not isinstance(text, str):
        raise field_error("terms", "a string: the terms concatenated", type(text).__name__)
    integers = isinstance(lengths, list) and set(map(type, lengths)) <= {int}
    if not integers or min(lengths, default=1) < 1:
        raise field_error("term_lengths", "a list of positive integers", lengths)
    if sum(lengths) != len(text):
        raise field_error("term_lengths", f"lengths adding up to {len(text)}", sum(lengths))
    return Terms(text, np.array(lengths, dtype=np.int64))


class TfidfBlock:
    """TF-IDF rows of texts, as the fitted ``TfidfVectorizer`` computes them."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        try:
            self.analyzer = analyzer_from_dict(required(spec, "analyzer"))
        except ValueError as exc:
            raise within("analyzer", exc) from exc
        self.vocabulary = vocabulary_terms(spec)
        self.sublinear_tf = required_bool(spec, "sublinear_tf")
        if spec.get("norm", "l2") != "l2":
            raise field_error("norm", "'l2'", spec.get("norm"))
        self.idf = array(arrays, "idf", (len(self.vocabulary),))
        if not (self.idf > 0).all():
            raise ArrayError("idf", "expected positive values")
        self.width = len(self.vocabulary)
        self.counter = TermCounter(self.analyzer, self.vocabulary)
        if self.counter.n_terms != self.width:  # checked as the counter holds the terms
            repeated = self.width - self.counter.n_terms
            raise field_error("vocabulary", "distinct terms", f"{repeated} repeated")

    def transform(self, texts: Sequence[str]) -> SparseRows:
        return tfidf_weight(self.counter.count(texts), self.idf, self.sublinear_tf)


class LdaBlock:
    """Topic proportions ``(n, K)`` of texts, by the same numpy E-step as training."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        try:
            self.tokenizer = TopicTokenizer.from_dict(required(spec, "tokenizer"))
        except ValueError as exc:
            raise within("tokenizer", exc) from exc
        vocabulary = terms(spec, "vocabulary")
        self.index = {term: i for i, term in enumerate(vocabulary)}
        self.max_iter = integer(spec, "max_iter", 1, MAX_LDA_ITERATIONS, DEFAULT_MAX_ITER)
        self.tol = number(spec, "tol", 0.0, 1.0, DEFAULT_TOL)
        self.exp_elog_beta = array(arrays, "exp_elog_beta", (None, len(vocabulary)))
        n_topics = self.exp_elog_beta.shape[0]
        if n_topics < 1 or not (self.exp_elog_beta >= 0).all():
            raise ArrayError("exp_elog_beta", "expected non-negative weights of >= 1 topic")
        self.alpha = array(arrays, "alpha", (n_topics,))
        if not (self.alpha > 0).all():
            raise ArrayError("alpha", "expected positive values")
        self.top_words, self.topic_names = topic_terms(spec, n_topics)
        self.width = n_topics

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        bows = SparseRows.count([self.tokenizer(text) for text in texts], self.index)
        return infer_topics_flat(
            bows.docs,
            bows.ids,
            bows.values,
            bows.n_docs,
            self.exp_elog_beta,
            self.alpha,
            self.max_iter,
            self.tol,
        )


def topic_terms(spec: dict[str, Any], n_topics: int) -> tuple[list[list[str]], list[str]]:
    """``spec["top_words"]`` and ``spec["topic_names"]``, checked: ``n_topics`` lists of
    words and ``n_topics`` names (``topic k`` in bundles written before topics had names)."""
    top_words = required(spec, "top_words")
    if not (
        isinstance(top_words, list)
        and len(top_words) == n_topics
        and all(isinstance(words, list) for words in top_words)
        and all(isinstance(word, str) for words in top_words for word in words)
    ):
        raise field_error("top_words", f"{n_topics} lists of words (one per topic)", top_words)
    names = spec.get("topic_names", [f"topic {k}" for k in range(n_topics)])
    if not (
        isinstance(names, list)
        and len(names) == n_topics
        and all(isinstance(name, str) for name in names)
    ):
        raise field_error("topic_names", f"{n_topics} names (one per topic)", names)
    return top_words, names


class PooledTransformer:
    """The bundle's transformer (``spec["encoder"]``, arrays ``bert.*``), checked before
    use; :meth:`embed` gives mean-pooled sentence vectors by the numpy forward pass."""

    batch_size = 64

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        try:
            settings = required(spec, "encoder")
            layers = integer(settings, "num_layers", 1, MAX_ENCODER_LAYERS)
            heads = integer(settings, "num_heads", 1, MAX_ENCODER_HEADS)
            eps = number(settings, "layer_norm_eps", 1e-30, 1.0)
            max_length = integer(settings, "max_length", 1, MAX_ENCODER_LENGTH)
            tokenizer_json = required(settings, "tokenizer")
            if not isinstance(tokenizer_json, str):
                raise field_error("tokenizer", "a tokenizer's JSON text", type(tokenizer_json))
            self.header_fields = (
                required_strings(settings, "header_fields") if "header_fields" in settings else None
            )
        except ValueError as exc:
            raise within("encoder", exc) from exc
        weights = {key[5:]: value for key, value in arrays.items() if key.startswith("bert.")}
        self.hidden = _check_encoder_weights(weights, layers, heads, max_length)
        self.encoder = NumpyEncoder(weights, layers, heads, eps)
        try:
            self.tokenizer = load_encoder_tokenizer(tokenizer_json, max_length)
        except Exception as exc:  # the tokenizers library raises its own exception type
            raise field_error("encoder.tokenizer", "a tokenizer's JSON", str(exc)) from exc
        n_words = weights["embeddings.word_embeddings.weight"].shape[0]
        if self.tokenizer.get_vocab_size() > n_words:
            raise field_error(
                "encoder.tokenizer", f"at most {n_words} tokens", self.tokenizer.get_vocab_size()
            )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.header_fields is not None:
            texts = [keep_header_fields(text, self.header_fields) for text in texts]
        pooled = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for rows, ids, mask in encode_by_length(self.tokenizer, texts, self.batch_size):
            pooled[rows] = self.encoder(ids, mask)
        return pooled

    def unit_vectors(self, texts: Sequence[str]) -> np.ndarray:
        return unit_rows(self.embed(texts))


class EmbeddingTopicsBlock:
    """Topic proportions ``(n, K)`` of texts from their sentence embeddings, as
    :class:`topics.families.embedding_topics.EmbeddingTopics`: the encoder's numpy
    forward pass, then the softmax of cosine similarity to the topic centroids."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.transformer = PooledTransformer(spec, arrays)
        hidden = self.transformer.hidden
        self.centroids = array(arrays, "centroids", (None, hidden))
        self.temperature = float(array(arrays, "temperature", (1,))[0])
        if not 0 < self.temperature <= 1e3:
            raise ArrayError(
                "temperature", f"expected a number in (0, 1000], found {self.temperature}"
            )
        n_topics = self.centroids.shape[0]
        self.top_words, self.topic_names = topic_terms(spec, n_topics)
        self.width = n_topics

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return topic_proportions(self.transformer.embed(texts), self.centroids, self.temperature)


class StaticBlock:
    """Unit static vectors ``(n, hidden)`` of texts, as
    :class:`topics.families.static.StaticVectors`: a tokenization and a lookup."""

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        tokenizer_json = required(spec, "tokenizer")
        if not isinstance(tokenizer_json, str):
            raise field_error("tokenizer", "a tokenizer's JSON text", type(tokenizer_json))
        try:
            self.tokenizer = static_tokenizer(tokenizer_json)
        except Exception as exc:  # the tokenizers library raises its own exception type
            raise field_error("tokenizer", "a tokenizer's JSON", str(exc)) from exc
        n_tokens = self.tokenizer.get_vocab_size()
        ids = array(arrays, "ids", (None,), "iu")
        if len(np.unique(ids)) != len(ids) or not ((ids >= 0) & (ids < n_tokens)).all():
            raise ArrayError("ids", f"expected distinct token ids in [0, {n_tokens})")
        self.rows = token_rows(n_tokens, ids)
        self.table = array(arrays, "vectors", (len(ids), None), "f")
        self.width = self.table.shape[1]

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return text_vectors(*token_ids(self.tokenizer, texts), self.rows, self.table)


FEATURE_BLOCKS: dict[str, Callable[[dict[str, Any], dict[str, np.ndarray]], Any]] = {
    "tfidf": TfidfBlock,
    "lda": LdaBlock,
    "embedding_topics": EmbeddingTopicsBlock,
    "static": StaticBlock,
}


class Batch:
    """Texts being scored; each feature block is computed at most once for them."""

    def __init__(self, texts: Sequence[str], blocks: dict[str, Any]) -> None:
        self.texts = texts
        self.blocks = blocks
        self.computed: dict[str, Any] = {}

    def features(self, name: str) -> Any:
        if name not in self.computed:
            self.computed[name] = self.blocks[name].transform(self.texts)
        return self.computed[name]


def _check_scales(weights: dict[str, np.ndarray]) -> set[str]:
    """The names of the int8 matrices, each checked against its ``SCALE``."""
    int8 = {name for name, value in weights.items() if value.dtype.kind != "f"}
    for name in int8:
        rows = _bert_array(weights, name, (None, None), "i").shape[0]
        scale = _bert_array(weights, name + SCALE, (rows,))
        if not (np.isfinite(scale).all() and (scale > 0).all()):
            raise ArrayError(f"bert.{name}{SCALE}", "expected finite positive scales")
    return int8


def _bert_array(
    weights: dict[str, np.ndarray], key: str, shape: Sequence[int | None], kinds: str = "f"
) -> np.ndarray:
    """:func:`array`, its error naming the bundle's array (``bert.`` + ``key``)."""
    try:
        return array(weights, key, shape, kinds)
    except ArrayError as exc:
        raise ArrayError(f"bert.{key}", str(exc).split(": ", 1)[1]) from exc


def _kinds(int8: set[str], name: str) -> str:
    return "i" if name in int8 else "f"


def _check_encoder_weights(
    weights: dict[str, np.ndarray], layers: int, heads: int, max_length: int
) -> int:
    """The hidden size, once every weight the numpy encoder reads is there with its
    shape (a BERT encoder of ``layers`` layers); a matrix stored as int8 rows
    has a positive scale per row."""
    int8 = _check_scales(weights)
    words = _bert_array(weights, WORDS, (None, None), _kinds(int8, WORDS))
    hidden = words.shape[1]
    if hidden < heads or hidden % heads:
        raise ArrayError(
            "bert.embeddings.word_embeddings.weight", f"width not a multiple of {heads} heads"
        )
    expected: dict[str, tuple[int | None, ...]] = {
        "embeddings.position_embeddings.weight": (None, hidden),
        "embeddings.token_type_embeddings.weight": (None, hidden),
        "embeddings.LayerNorm.weight": (hidden,),
        "embeddings.LayerNorm.bias": (hidden,),
    }
    inner = weights.get("encoder.layer.0.intermediate.dense.bias", np.zeros(0)).shape[0]
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        for part in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ):
            expected[p + part + ".weight"] = (hidden, hidden)
            expected[p + part + ".bias"] = (hidden,)
        expected[p + "intermediate.dense.weight"] = (inner, hidden)
        expected[p + "intermediate.dense.bias"] = (inner,)
        expected[p + "output.dense.weight"] = (hidden, inner)
        expected[p + "output.dense.bias"] = (hidden,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            expected[p + norm + ".weight"] = (hidden,)
            expected[p + norm + ".bias"] = (hidden,)
    for key, shape in expected.items():
        _bert_array(weights, key, shape, _kinds(int8, key))
    if weights["embeddings.position_embeddings.weight"].shape[0] < max_length:
        raise ArrayError(
            "bert.embeddings.position_embeddings.weight", f"fewer rows than max_length {max_length}"
        )
    if weights["embeddings.token_type_embeddings.weight"].shape[0] < 1:
        raise ArrayError("bert.embeddings.token_type_embeddings.weight", "expected >= 1 row")
    if RELATIVE_BIAS in weights:  # an MPNet encoder's
        buckets = _bert_array(weights, RELATIVE_BIAS, (None, heads)).shape[0]
        if not 4 <= buckets <= 1024 or buckets % 2:
            raise ArrayError(f"bert.{RELATIVE_BIAS}", f"an even 4 to 1024 rows, found {buckets}")
    return hidden
