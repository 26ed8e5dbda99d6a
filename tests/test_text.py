from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from topics.text import Analyzer, TopicTokenizer, keep_header_fields

TEXTS = [
    "Kazakhstan's GDP grew 5.1% — the Trans-Caspian route (TITR) carried 4.5m tonnes.",
    "The ombudsman's report: 12 detainees, café owners and ÉTAT officials in Almaty",
    "",
    "   ",
    "a b c",
]


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3)], ids=["uni", "uni-bi", "bi-tri"])
@pytest.mark.parametrize("stop_words", [None, "english"], ids=["keep", "english"])
def test_analyzer_matches_sklearn(ngram_range: tuple[int, int], stop_words: str | None) -> None:
    reference = CountVectorizer(ngram_range=ngram_range, stop_words=stop_words).build_analyzer()
    ours = Analyzer(ngram_range, stop_words=ENGLISH_STOP_WORDS if stop_words else ())
    for text in TEXTS:
        assert ours(text) == reference(text)


def test_analyzer_round_trips_through_dict_and_pickle() -> None:
    analyzer = Analyzer((1, 2), stop_words=["the"])
    assert Analyzer.from_dict(analyzer.to_dict())(TEXTS[0]) == analyzer(TEXTS[0])
    assert pickle.loads(pickle.dumps(analyzer))(TEXTS[1]) == analyzer(TEXTS[1])


def test_topic_tokenizer_keeps_words_of_letters() -> None:
    tokenizer = TopicTokenizer(min_length=3, stop_words=["the"])
    assert tokenizer("The 2 railways of Kazakhstan's GDP, 5.1%") == [
        "railways",
        "kazakhstan",
        "gdp",
    ]
    assert tokenizer("") == []
    restored = TopicTokenizer.from_dict(tokenizer.to_dict())
    assert restored(TEXTS[0]) == tokenizer(TEXTS[0])


@given(text=st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_analyzer_matches_sklearn_on_any_unicode(text: str) -> None:
    reference = CountVectorizer(ngram_range=(1, 2), stop_words="english").build_analyzer()
    assert Analyzer((1, 2), stop_words=ENGLISH_STOP_WORDS)(text) == reference(text)


@given(text=st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_topic_tokenizer_accepts_any_unicode(text: str) -> None:
    tokens = TopicTokenizer(min_length=3)(text)
    assert all(len(token) >= 3 and token == token.lower() for token in tokens)


def test_topic_tokenizer_merges_known_phrases_and_round_trips() -> None:
    from topics.text import TopicTokenizer

    tokenizer = TopicTokenizer(3, ["the"], phrases=["silk road", "road rail"])
    assert tokenizer("The Silk Road rail link") == ["silk_road", "rail", "link"]
    assert TopicTokenizer.from_dict(tokenizer.to_dict())("silk road rail") == ["silk_road", "rail"]
    assert "phrases" not in TopicTokenizer(3).to_dict()  # bundles without phrases are unchanged


@pytest.mark.parametrize(
    "text",
    ["Rail", "a I  x\n\tTHE Silk-Road rail link, 2024!", "", "ab c", "Ünïcode wörds"],
    ids=["word", "mixed", "empty", "short-words", "unicode"],
)
def test_char_analyzer_matches_sklearn_char_wb(text: str) -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    from topics.text import CharAnalyzer, analyzer_from_dict

    sklearn_analyzer = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    ours = CharAnalyzer(ngram_range=(2, 5))
    assert ours(text) == sklearn_analyzer(text)
    assert analyzer_from_dict(ours.to_dict())(text) == ours(text)


def test_word_char_analyzer_emits_both_kinds_without_collisions() -> None:
    from topics.text import Analyzer, CharAnalyzer, WordCharAnalyzer, analyzer_from_dict

    words, chars = Analyzer(ngram_range=(1, 2)), CharAnalyzer(ngram_range=(2, 3))
    union = WordCharAnalyzer(words, chars)
    text = "Rail link: ail, il"
    features = union(text)
    assert features == words(text) + ["char:" + gram for gram in chars(text)]
    # "ail" as a word and as a character trigram stay two features.
    assert "ail" in features and "char:ail" in features
    assert analyzer_from_dict(union.to_dict())(text) == features


POST = (
    "From: ann@lamar.colostate.edu (Ann)\r\nArticle-I.D.: ul.1993\r\nSubject: Re: clipper chip\r\n"
    "  and key escrow\r\nOrganization: CSU\r\nLines: 2\r\n\r\nNote: the body.\r\nBye"
)


def test_keep_header_fields_cuts_the_header_block_only() -> None:
    cut = "Subject: Re: clipper chip\r\n  and key escrow\r\n\r\nNote: the body.\r\nBye"
    assert keep_header_fields(POST, ["SUBJECT"]) == cut
    assert keep_header_fields(POST, []) == "\r\nNote: the body.\r\nBye"
    # what does not open with headers ending in a blank line comes back whole
    # nor does an article whose first paragraph is one "Name: value" line
    for text in [
        "",
        "Almaty, May 3: the body\nsays\n\nmore",
        "Subject: no body",
        "Update: the vote is on Friday.\n\nThe body.",
        *TEXTS,
    ]:
        assert keep_header_fields(text, ["subject"]) == text


@given(text=st.text(alphabet="ab: \n\t-", max_size=80))
@settings(max_examples=300, deadline=None)
def test_keep_header_fields_is_idempotent_and_keeps_the_body(text: str) -> None:
    cut = keep_header_fields(text, ["a"])
    assert keep_header_fields(cut, ["a"]) == cut
    lines, kept = text.splitlines(keepends=True), cut.splitlines(keepends=True)
    blank = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    head = len(kept) - (len(lines) - blank)  # the lines kept before the body
    assert kept[head:] == lines[blank:]  # the body whole
    assert all(line in lines[:blank] for line in kept[:head])
