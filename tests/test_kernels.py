"""The numpy scoring kernels shared by training and serving (topics/kernels/linear.py,
topics/kernels/sparse.py and its TermCounter, topics/kernels/vocabulary.py); the
bundle-equals-pipeline tests in test_predict.py and test_encoder.py hold them to the
estimators end to end."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from topics.kernels.linear import (
    decide,
    fine_margins,
    mix,
    normalise_rows,
    platt_proba,
    sigmoid,
    stacked_proba,
)
from topics.kernels.passages import best_of, best_rows, by_passage, passages, ranks
from topics.kernels.sparse import SparseRows, TermCounter, tfidf_weight
from topics.kernels.vocabulary import CodeTable
from topics.text import Analyzer, CharAnalyzer, WordCharAnalyzer


def test_sigmoid_is_stable_at_the_extremes() -> None:
    values = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert not np.isnan(values).any()


def test_platt_proba_is_sigmoid_of_the_scaled_margin() -> None:
    margins = np.array([[1.0, -2.0]])
    np.testing.assert_allclose(
        platt_proba(margins, np.array([2.0, 0.5]), np.array([0.0, 1.0])), sigmoid([[2.0, 0.0]])
    )


def test_fine_margins_compare_each_labels_best_class_with_the_best_other() -> None:
    scores = np.array([[3.0, 1.0, 2.0]])  # classes a, b, c
    groups = np.array([[1, 0], [1, 0], [0, 1]])  # a, b -> label 0; c -> label 1
    assert fine_margins(scores, groups).tolist() == [[1.0, -1.0]]


def test_stacked_proba_weighs_both_margins_per_label() -> None:
    fine, direct = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    w, b = np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([0.0, -2.0])
    assert stacked_proba(fine, direct, w, b).tolist() == sigmoid([[2.0, 0.0]]).tolist()


def test_mix_takes_per_label_weights() -> None:
    first, second = np.array([[1.0, 1.0]]), np.array([[0.0, 0.0]])
    shares = np.array([0.25, 1.0])
    assert mix([first, second], [shares, 1 - shares]).tolist() == [[0.25, 1.0]]


def test_normalise_rows_and_decide() -> None:
    proba = np.array([[0.2, 0.6], [0.0, 0.0]])
    assert normalise_rows(proba)[0].tolist() == pytest.approx([0.25, 0.75])
    assert normalise_rows(proba)[1].tolist() == [0.0, 0.0]  # no division by zero
    assert decide(proba, np.array([0.5, 0.5]), single_label=False).tolist() == [[0, 1], [0, 0]]
    assert decide(proba, np.array([0.9, 0.9]), single_label=True).tolist() == [[0, 1], [1, 0]]


def test_sparse_tfidf_rows_equal_sklearns() -> None:
    texts = ["rail cargo rail", "port cargo", "", "unknown words only"]
    fitted = TfidfVectorizer(sublinear_tf=True).fit(texts[:2])
    index = fitted.vocabulary_
    rows = tfidf_weight(
        SparseRows.count([t.split() for t in texts], index), fitted.idf_, sublinear_tf=True
    )
    dense = rows.dot(np.eye(len(index)))
    np.testing.assert_allclose(dense, fitted.transform(texts).toarray(), atol=1e-12)


# Texts for the term counter: unicode (accents, Greek final sigma, a ligature, "İ" that
# lowercases to two characters, an emoji beyond the BMP, a lone surrogate), punctuation,
# empty and blank texts, repeated words, words longer than the n-gram range and shorter
# than its low end, characters no training text had.
COUNTER_TEXTS = [
    "Rail cargo RAIL rail, port-of-call; e-mail rail@port.org!!",
    "Café Straße ΣΊΣΥΦΟΣ ﬁne İstanbul naïve 🚆 train\tsleeper\nwagon",
    "",
    "   \n\t ",
    "a b c I x",
    "supercalifragilisticexpialidocious antidisestablishmentarianism rail",
    "rail rail rail rail rail rail rail rail",
    "ÆØÅ ÞÐ ŒŸ \ud800lone ░▒▓ 42 3.14 --- ...",
    "Port cargo: the RAIL link, the rail LINK and the Rail Link.",
]
COUNTER_TRAIN = COUNTER_TEXTS[:2] + COUNTER_TEXTS[5:7] + ["port cargo link wagon café"]


def _fitted_analyzer(analyzer: str, lowercase: bool, char_range: tuple[int, int]) -> Any:
    from topics.families.features import make_vectorizer

    vectorizer = make_vectorizer(
        analyzer=analyzer,
        ngram_range=char_range if analyzer == "char_wb" else (1, 2),
        char_ngram_range=char_range,
        lowercase=lowercase,
        stop_words=None,
        sublinear_tf=True,
    )
    return vectorizer.fit(COUNTER_TRAIN)


def _terms(fitted: Any) -> list[str]:
    """The fitted vectorizer's vocabulary as a list: each term at its column."""
    return sorted(fitted.vocabulary_, key=fitted.vocabulary_.get)


@pytest.mark.parametrize("lowercase", [True, False], ids=["lowercase", "cased"])
@pytest.mark.parametrize("analyzer", ["word", "char_wb", "word+char_wb"])
def test_term_counter_gives_the_string_lookups_rows_and_the_fitted_vectorizers_tfidf(
    analyzer: str, lowercase: bool
) -> None:
    fitted = _fitted_analyzer(analyzer, lowercase, (2, 5))
    index = fitted.vocabulary_
    by_string = SparseRows.count([fitted.analyzer(text) for text in COUNTER_TEXTS], index)
    counter = TermCounter(fitted.analyzer, _terms(fitted))
    assert counter.n_terms == len(index)
    # character and word n-grams are all held as codes, none as strings
    assert (counter.codes is not None) == (analyzer != "word")
    assert (counter.word_codes is not None) == (analyzer != "char_wb")
    assert counter.index == {}
    words = {term: i for term, i in index.items() if " " not in term and ":" not in term}
    assert counter.single_words() == (words if analyzer != "char_wb" else {})
    for _ in range(2):  # a cold cache, then a warm one
        by_word = counter.count(COUNTER_TEXTS)
        assert by_word.docs.tolist() == by_string.docs.tolist()
        assert by_word.ids.tolist() == by_string.ids.tolist()
        assert by_word.values.tolist() == by_string.values.tolist()
    rows = tfidf_weight(counter.count(COUNTER_TEXTS), fitted.idf_, sublinear_tf=True)
    dense = rows.dot(np.eye(len(index)))
    np.testing.assert_allclose(dense, fitted.transform(COUNTER_TEXTS).toarray(), atol=1e-12)


@pytest.mark.parametrize("block", [1, 2, 3])
def test_term_counter_counts_by_blocks_of_texts_as_in_one(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted = _fitted_analyzer("word+char_wb", True, (2, 5))
    whole = TermCounter(fitted.analyzer, _terms(fitted)).count(COUNTER_TEXTS)
    counter = TermCounter(fitted.analyzer, _terms(fitted))
    counter.COUNT_BLOCK = block  # empty texts fall inside and at the ends of blocks
    batches: list[int] = []
    from_keys = SparseRows.from_keys.__func__  # type: ignore[attr-defined]

    def counted(cls: type[SparseRows], keys: np.ndarray, n_docs: int, width: int) -> SparseRows:
        batches.append(n_docs)
        return from_keys(cls, keys, n_docs, width)

    monkeypatch.setattr(SparseRows, "from_keys", classmethod(counted))
    rows = counter.count(COUNTER_TEXTS)
    assert batches == [
        len(COUNTER_TEXTS[i : i + block]) for i in range(0, len(COUNTER_TEXTS), block)
    ]
    assert rows.n_docs == whole.n_docs == len(COUNTER_TEXTS)
    for got, want in [(rows.docs, whole.docs), (rows.ids, whole.ids), (rows.values, whole.values)]:
        assert got.dtype == want.dtype
        assert got.tolist() == want.tolist()


def test_term_counter_looks_up_strings_when_gram_codes_would_overflow_int64() -> None:
    fitted = _fitted_analyzer("char_wb", True, (1, 16))  # base ** 16 > 2 ** 63
    by_string = SparseRows.count([fitted.analyzer(t) for t in COUNTER_TEXTS], fitted.vocabulary_)
    counter = TermCounter(fitted.analyzer, _terms(fitted))
    by_word = counter.count(COUNTER_TEXTS)
    assert counter.codes is None and len(counter.index) == len(fitted.vocabulary_)
    words = WordCharAnalyzer(Analyzer(), fitted.analyzer)
    mixed = TermCounter(words, ["rail", "rail link", *("char:" + t for t in _terms(fitted))])
    assert mixed.word_codes is None and mixed.single_words() == {"rail": 0}
    assert (by_word.ids.tolist(), by_word.values.tolist()) == (
        by_string.ids.tolist(),
        by_string.values.tolist(),
    )


def test_term_counter_looks_up_strings_when_word_codes_would_overflow_int64() -> None:
    terms = ["a" + chr(0x4E00 + k) for k in range(20)]  # 20 tokens: 21 ** 16 > 2 ** 63
    vocabulary = [*terms, " ".join(terms[:16]), " ".join(terms[:3])]
    analyzer = Analyzer(ngram_range=(1, 16), lowercase=False)
    texts = [" ".join(terms), " ".join(terms[:3]), "a" + chr(0x4E00)]
    counter = TermCounter(analyzer, vocabulary)
    assert counter.word_codes is None and len(counter.index) == len(vocabulary)
    by_string = SparseRows.count(
        [analyzer(t) for t in texts], dict(map(reversed, enumerate(vocabulary)))
    )
    found = counter.count(texts)
    assert (found.docs.tolist(), found.ids.tolist()) == (
        [0] * 22 + [1] * 4 + [2],
        [*range(22), 0, 1, 2, 21, 0],
    )
    assert found.ids.tolist() == by_string.ids.tolist()
    # up to trigrams, the same vocabulary is held as codes, and counted the same
    short = TermCounter(Analyzer(ngram_range=(1, 3), lowercase=False), vocabulary)
    assert short.word_codes is not None and list(short.index) == [vocabulary[20]]
    assert short.count(texts[1:]).ids.tolist() == [0, 1, 2, 21, 0]


def test_word_codes_hold_odd_terms_apart_and_never_match_them() -> None:
    # terms no analyzer makes (a bundle is untrusted): empty, spaces at the ends, twice
    vocabulary = ["", " ", "rail  link", "rail", " rail", "rail link", "link", "link rail "]
    counter = TermCounter(Analyzer(ngram_range=(1, 3)), vocabulary)
    assert counter.word_codes is not None and counter.index == {}
    assert counter.n_terms == len(vocabulary)
    found = counter.count(["Rail link rail", "", "  "])
    assert (found.docs.tolist(), found.ids.tolist(), found.values.tolist()) == (
        [0, 0, 0],
        [3, 5, 6],
        [2.0, 1.0, 1.0],
    )


@pytest.mark.parametrize("n", [0, 1, 5, 1000, 50_000])
def test_code_table_finds_what_a_dict_finds(n: int) -> None:
    rng = np.random.default_rng(n)
    codes = rng.integers(0, 3 * n + 1, n)  # repeats, and runs of neighbouring slots
    table = CodeTable(codes, np.arange(n))
    first = {int(code): i for i, code in reversed(list(enumerate(codes)))}
    queries = np.r_[codes, rng.integers(0, 2**62, 1000), np.arange(3 * n + 2)]
    expected = [first.get(int(code), -1) for code in queries]
    assert table.find(queries).tolist() == expected
    assert len(table) == len(first)
    # codes hashed to the last slots probe on past them, not round to the start
    end = 2 ** (64 - int(table.shift))
    crowded = codes[table._slots(codes) >= end - 8]
    assert table.find(crowded).tolist() == [first[int(code)] for code in crowded]


def test_term_counter_counts_repeated_terms_once() -> None:
    analyzer = CharAnalyzer(ngram_range=(2, 2))
    assert TermCounter(analyzer, [" r", "ai", " r"]).n_terms == 2
    assert TermCounter(Analyzer(), ["rail", "port", "rail"]).n_terms == 2
    assert TermCounter(Analyzer((1, 2)), ["rail port", "port", "rail port"]).n_terms == 2


def test_term_counter_cache_stays_bounded_across_batches() -> None:
    fitted = _fitted_analyzer("word+char_wb", True, (2, 5))
    counter = TermCounter(fitted.analyzer, _terms(fitted))
    counter.CACHED_WORDS = 4
    for start in range(len(COUNTER_TEXTS)):
        batch = COUNTER_TEXTS[start:] + COUNTER_TEXTS[:start]
        expected = SparseRows.count([fitted.analyzer(t) for t in batch], fitted.vocabulary_)
        found = counter.count(batch)
        assert len(counter._cache) <= 4
        assert (found.docs.tolist(), found.ids.tolist(), found.values.tolist()) == (
            expected.docs.tolist(),
            expected.ids.tolist(),
            expected.values.tolist(),
        )


@pytest.mark.parametrize("layout", ["coef.T", "C"])
@pytest.mark.parametrize("block", [1, 2, 3, 5, 1 << 15])
def test_sparse_dot_by_blocks_of_documents_equals_the_dense_product(
    block: int, layout: str
) -> None:
    rng = np.random.default_rng(0)
    docs = np.array([1, 1, 4, 4, 4, 7, 8, 8])  # documents 0, 2, 3, 5, 6 have no entries
    rows = SparseRows(docs, np.array([0, 3, 1, 2, 5, 9, 0, 9]), rng.random(8), n_docs=10)
    coef = rng.standard_normal((3, 10))
    weights_t = coef.T if layout == "coef.T" else np.ascontiguousarray(coef.T)
    dense = np.zeros((10, 10))
    dense[rows.docs, rows.ids] = rows.values
    rows.DOT_BLOCK = block
    np.testing.assert_allclose(rows.dot(weights_t), dense @ weights_t, rtol=0, atol=1e-12)


def test_a_short_text_is_one_passage_itself() -> None:
    text = "Rail freight grows.  Ports expand\nacross the Caspian."
    assert passages(text, 0) == [text]
    assert passages(text, 5) == [text]  # 8 words: under 2 x 5


def test_a_long_text_is_cut_into_windows_of_whole_sentences() -> None:
    sentences = [f"Sentence {i} has exactly six words." for i in range(7)]
    windows = passages("\n\n".join(sentences), 10)
    # 6 words a sentence: two per window; the seventh (6 >= 10 / 2) stands alone
    assert windows == [
        " ".join(sentences[0:2]),
        " ".join(sentences[2:4]),
        " ".join(sentences[4:6]),
        sentences[6],
    ]
    # a last sentence of fewer than 10 / 2 words joins the window before
    tail = passages(" ".join([*sentences[:4], "Short end."]), 10)
    assert tail == [" ".join(sentences[0:2]), " ".join([*sentences[2:4], "Short end."])]


def test_by_passage_gives_each_label_its_best_passage() -> None:
    long = " ".join(["Banks lend more."] * 4 + ["Trains run late."] * 4)  # 24 words

    def score(texts: list[str]) -> np.ndarray:
        return np.array([[t.count("Banks") / 8, t.count("Trains") / 8] for t in texts])

    scores = by_passage(score, ["Banks lend.", long, ""], 6)
    # whole, the long text's two halves would score 0.5 each; by passage, 0.5 of 4 each
    np.testing.assert_allclose(scores, [[1 / 8, 0], [2 / 8, 2 / 8], [0, 0]])
    np.testing.assert_allclose(by_passage(score, [long], 0), [[0.5, 0.5]])
    assert by_passage(score, [], 6).shape == (0,)


def test_passage_support_scores_a_long_texts_label_by_its_kth_best_passage() -> None:
    # a text of 5 passages and one of 2; support 2: the 3rd best of 5, the best of 2
    scores = np.array(
        [[0.9, 0.6], [0.1, 0.7], [0.1, 0.8], [0.2, 0.1], [0.1, 0.2], [0.4, 0.3], [0.5, 0.1]]
    )
    starts = np.array([0, 5])
    np.testing.assert_array_equal(ranks(starts, 7, 2), [2, 0])
    np.testing.assert_allclose(best_of(scores, starts, 2), [[0.1, 0.6], [0.5, 0.3]])
    np.testing.assert_allclose(best_of(scores, starts), [[0.9, 0.8], [0.5, 0.3]])
    np.testing.assert_allclose(best_of(scores, starts, 5), best_of(scores, starts))
    rows = best_rows(scores, starts, 2)
    np.testing.assert_array_equal(rows, [[1, 0], [6, 5]])  # the first of equal scores
    np.testing.assert_array_equal(scores[rows, np.arange(2)], best_of(scores, starts, 2))


def test_best_rows_names_the_passage_behind_each_best_score() -> None:
    scores = np.array([[0.1, 0.9], [0.5, 0.2], [0.3, 0.3], [0.7, 0.1]])
    starts = np.array([0, 1, 3])  # texts of 1, 2 and 1 passages
    rows = best_rows(scores, starts)
    np.testing.assert_array_equal(rows, [[0, 0], [1, 2], [3, 3]])
    np.testing.assert_array_equal(scores[rows, np.arange(2)], best_of(scores, starts))
