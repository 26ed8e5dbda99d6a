"""The standard-library WordPiece against the ``tokenizers`` library it stands in for:
every code point, tricky strings, the shipped datasets, and the shapes it declines."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import needs_encoder_extra
from tests.test_datasets import shipped_data_config
from topics.families.encoder.pretrained import resolve_pretrained
from topics.kernels import wordpiece
from topics.kernels.transformer import encode, load_encoder_tokenizer, load_tokenizer
from topics.run.cache import load_corpus_from_config

pytestmark = pytest.mark.skipif(
    unicodedata.unidata_version != wordpiece.UNICODE_VERSION,
    reason=f"the tables are for Unicode {wordpiece.UNICODE_VERSION} (Python 3.11)",
)


@pytest.fixture(scope="module")
def minilm_json() -> str:
    path = Path(resolve_pretrained("sentence-transformers/all-MiniLM-L6-v2")) / "tokenizer.json"
    if not path.is_file():
        needs_encoder_extra()
        pytest.skip(f"the packaged MiniLM is not installed ({path} missing)")
    return path.read_text(encoding="utf-8")


def both(tokenizer_json: str, max_length: int) -> tuple[wordpiece.WordPiece, object]:
    ours = wordpiece.load(tokenizer_json, max_length)
    assert ours is not None
    return ours, load_tokenizer(tokenizer_json, max_length)


def library_ids(library: object, texts: list[str]) -> list[list[int]]:
    return [encoding.ids for encoding in library.encode_batch(texts)]  # type: ignore[attr-defined]


def test_every_code_point_tokenizes_as_the_library(minilm_json: str) -> None:
    # each code point inside a word, alone, and before a letter; the texts long enough
    # that the library's truncation never cuts them
    ours, library = both(minilm_json, 1 << 20)
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    step = 2048
    chunks = [points[k : k + step] for k in range(0, len(points), step)]
    texts = [" ".join(f"a{chr(c)}b {chr(c)} {chr(c)}x" for c in chunk) for chunk in chunks]
    expected = library_ids(library, texts)
    for chunk, text, want in zip(chunks, texts, expected, strict=True):
        if ours.ids(text) != want:
            wrong = [
                c
                for c in chunk
                if ours.ids(f"a{chr(c)}b") != library_ids(library, [f"a{chr(c)}b"])[0]
            ]
            pytest.fail(f"code points tokenized unlike the library: {[hex(c) for c in wrong[:20]]}")


TRICKY = [
    "",
    "   ",
    "Kazakhstan's rail-freight volume rose 12.5% (to 1,200 t) in 2024!",
    "[CLS] already [SEP] there [MASK]x[UNK]y [PAD]",
    "[cls] is not special in lower case; [CLS][SEP] adjacent",
    "ΟΔΟΣ Σίσυφος — final sigma, accents: Ελλάδα",
    "İstanbul ǅungla ß ﬁnance Åland naïve café Ångström",
    "Алматы и Астана: новая железная дорога",
    "中华人民共和国 signs 協定 with 日本 and 한국",
    "control\x00chars\x07and\ufffdreplacement\u200bzero-width\u00adsoft\x1chyphen",
    "tab\there\nnewline\r\nand\u3000ideographic\u2028line\u00a0nbsp",
    "emoji 🚆🚄 and flags 🇰🇿 ok",
    "x" * 100 + " " + "y" * 101 + " supercalifragilisticexpialidocious",
    "e\u0301 e\u0308\u0301 \u0915\u093f \u05d0\u05b8",  # combining marks
    "word " * 300,
]


@pytest.mark.parametrize("max_length", [2, 3, 8, 128])
def test_tricky_texts_tokenize_as_the_library(minilm_json: str, max_length: int) -> None:
    ours, library = both(minilm_json, max_length)
    assert ours.ids_batch(TRICKY) == library_ids(library, TRICKY)


def test_long_texts_stop_at_the_budget(minilm_json: str) -> None:
    ours, library = both(minilm_json, 16)
    text = "Reuters reports the railway " * 10_000
    assert ours.ids(text) == library_ids(library, [text])[0]
    assert len(ours.ids(text)) == 16


def test_the_encoder_tokenizer_is_ours_where_it_can_be(minilm_json: str) -> None:
    tokenizer = load_encoder_tokenizer(minilm_json, 128)
    assert isinstance(tokenizer, wordpiece.WordPiece)
    assert tokenizer.get_vocab_size() == load_tokenizer(minilm_json, 128).get_vocab_size()
    ids, mask = encode(tokenizer, ["a short one", "a somewhat longer text here"])
    assert ids.shape == mask.shape == (2, 7) and mask[0].tolist() == [1] * 5 + [0] * 2


@pytest.mark.parametrize(
    "edit",
    [
        lambda spec: spec["normalizer"].update(lowercase=False),
        lambda spec: spec["normalizer"].update(strip_accents=True),
        lambda spec: spec.update(pre_tokenizer={"type": "Whitespace"}),
        lambda spec: spec["added_tokens"][0].update(normalized=True),  # as MPNet's <unk>
        lambda spec: spec["added_tokens"][0].update(lstrip=True),  # as MPNet's <mask>
        lambda spec: spec["post_processor"]["single"].pop(),
    ],
)
def test_other_shapes_fall_back_to_the_library(minilm_json: str, edit: object) -> None:
    spec = json.loads(minilm_json)
    edit(spec)  # type: ignore[operator]
    assert not wordpiece.supports(spec)
    tokenizer = load_encoder_tokenizer(json.dumps(spec), 32)
    assert not isinstance(tokenizer, wordpiece.WordPiece)
    text = "Almaty's [MASK] Metro"
    expected = [encoding.ids for encoding in tokenizer.tokenizer.encode_batch([text])]
    assert tokenizer.ids_batch([text]) == expected


def test_declining_is_not_an_error_but_building_one_is(minilm_json: str) -> None:
    spec = json.loads(minilm_json)
    spec["normalizer"]["lowercase"] = False
    assert wordpiece.load(json.dumps(spec), 8) is None
    with pytest.raises(ValueError, match="not a BERT WordPiece"):
        wordpiece.WordPiece(spec, 8)


@pytest.mark.data
@pytest.mark.parametrize("name", ["reuters21578", "nyt-cap", "20newsgroups"])
def test_shipped_datasets_tokenize_as_the_library(minilm_json: str, name: str) -> None:
    texts = list(load_corpus_from_config(shipped_data_config(name)).texts)
    ours, library = both(minilm_json, 128)
    expected = library_ids(library, texts)
    wrong = [i for i, ids in enumerate(ours.ids_batch(texts)) if ids != expected[i]]
    assert not wrong, (
        f"{len(wrong)} of {len(texts)} texts differ, the first {texts[wrong[0]][:200]!r}"
    )
