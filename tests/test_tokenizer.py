"""Byte-level BPE: lossless round trips for any UTF-8, atomic special tokens, safe decoding."""

import pickle
import random

import pytest

from espnet_smoe.text.tokenizer import (
    BYTE_SYMBOLS,
    BBPETokenizer,
    build_tokenizer,
    bytes_to_symbols,
    make_token_list,
    symbols_to_text,
    train_bbpe,
)

SPECIALS = ["<spa>", "<eng>", "<asr>", "<st_eng>"]


@pytest.fixture(scope="module")
def bbpe(tmp_path_factory):
    texts = ["el niño come pan con mantequilla", "¿dónde está la biblioteca?",
             "the cat sat on the mat", "hola mundo, ¡qué tal!"] * 20
    model = train_bbpe(texts, tmp_path_factory.mktemp("bbpe") / "bbpe", vocab_size=320)
    tokens = make_token_list(model, SPECIALS)
    return build_tokenizer("bbpe", str(model), tokens), tokens


@pytest.mark.parametrize("text", [
    "el niño come pan", "¿Dónde está la biblioteca?", "한국어 텍스트", "emoji 😀🎉 ok",
    "  dos  espacios ", "tab\tand\nnewline", "ünïcödé ÀÉÎÕÜ ßøå",
])
def test_round_trip(bbpe, text):
    tok, tokens = bbpe
    pieces = tok.text2tokens(text)
    assert "<unk>" not in pieces and all(p in tokens for p in pieces)
    assert tok.tokens2text(pieces) == text


def test_special_tokens_stay_atomic(bbpe):
    tok, _ = bbpe
    pieces = tok.text2tokens("<spa><st_eng>hello <b> world")
    assert pieces[:2] == ["<spa>", "<st_eng>"]
    assert "<b>" not in pieces  # not a special token: plain bytes
    assert tok.tokens2text(pieces) == "<spa><st_eng>hello <b> world"


def test_every_byte_symbol_is_in_the_vocabulary(bbpe):
    _, tokens = bbpe
    vocab = set(tokens)
    assert all(s in vocab or s == " " for s in BYTE_SYMBOLS)


def test_invalid_byte_sequences_decode_with_replacement(bbpe):
    tok, _ = bbpe
    lone_continuation = BYTE_SYMBOLS[0x80]
    truncated = BYTE_SYMBOLS[0xE2] + BYTE_SYMBOLS[0x82]  # first 2 of the 3 bytes of "€"
    assert tok.tokens2text([lone_continuation, "▁hola"]) == "\ufffd hola"
    assert "\ufffd" in tok.tokens2text([truncated])
    assert symbols_to_text("ab\u2047c") == "ab\ufffdc"  # a non-byte symbol


def test_byte_mapping_is_a_bijection_on_random_text():
    rng = random.Random(0)
    for _ in range(200):
        text = "".join(chr(rng.choice([rng.randint(32, 0x2FF), rng.randint(0x4E00, 0x4E50),
                                       rng.randint(0x1F600, 0x1F64F)])) for _ in range(20))
        symbols = bytes_to_symbols(text)
        assert len(symbols) == len(text.encode("utf-8"))
        assert symbols_to_text(symbols) == text


def test_tokenizer_pickles_before_and_after_use(bbpe):
    tok, _ = bbpe
    fresh = BBPETokenizer(tok.model, SPECIALS)
    assert pickle.loads(pickle.dumps(fresh)).text2tokens("hola") == tok.text2tokens("hola")
    tok.text2tokens("hola")  # loads the sentencepiece processor
    assert pickle.loads(pickle.dumps(tok)).tokens2text(["▁hola"]) == "hola"


def test_vocabulary_must_hold_the_byte_alphabet(tmp_path):
    with pytest.raises(ValueError, match="256"):
        train_bbpe(["abc"], tmp_path / "m", vocab_size=200)
