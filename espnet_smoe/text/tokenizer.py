"""Byte-level BPE (BBPE) on sentencepiece, exposed to ESPnet as token type ``bbpe``.

Sentencepiece has no byte-level mode, so every UTF-8 byte is first mapped to one printable
symbol (GPT-2's table; the space byte stays a space so sentencepiece keeps its word boundaries),
then BPE runs over those symbols. All 256 symbols are in the base vocabulary, so any UTF-8 text
(Korean, emoji, ...) encodes without ``<unk>``; decoding maps symbols back to bytes and decodes
with replacement, so even an invalid byte sequence from a model never raises.

Special tokens (``<spa>``, ``<asr>``, ...) are cut out of the text before byte mapping and kept
as atomic tokens: they live in the ESPnet token list, not in the sentencepiece model.
"""

import re
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

from espnet2.text.abs_tokenizer import AbsTokenizer

from espnet_smoe._imports import offline_import

with offline_import():  # espnet2's build_tokenizer imports g2p_en, which downloads at import
    from espnet2.text.build_tokenizer import build_tokenizer as espnet_build_tokenizer

SPECIAL = re.compile(r"<[^<>\s]+>")
# The symbols the ESPnet S2T model needs besides language and task tokens.
S2T_SPECIALS = ("<blank>", "<unk>", "<na>", "<sop>", "<sos>", "<eos>")


def _byte_table() -> List[str]:
    """GPT-2's byte -> printable character table, except that the space byte maps to ' '."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    table[ord(" ")] = " "
    return [table[b] for b in range(256)]


BYTE_SYMBOLS = _byte_table()
SYMBOL_BYTES: Dict[str, int] = {s: b for b, s in enumerate(BYTE_SYMBOLS)}


def bytes_to_symbols(text: str) -> str:
    """UTF-8 text -> one printable symbol per byte."""
    return "".join(BYTE_SYMBOLS[b] for b in text.encode("utf-8"))


def symbols_to_text(symbols: str) -> str:
    """Inverse of :func:`bytes_to_symbols`; bad bytes or symbols become U+FFFD, never an error."""
    out, pending = [], bytearray()
    for ch in symbols:
        if ch in SYMBOL_BYTES:
            pending.append(SYMBOL_BYTES[ch])
        else:  # not a byte symbol (e.g. sentencepiece's unk mark): flush and replace
            out.append(pending.decode("utf-8", errors="replace") + "\ufffd")
            pending = bytearray()
    out.append(pending.decode("utf-8", errors="replace"))
    return "".join(out)


class BBPETokenizer(AbsTokenizer):
    """Text <-> BBPE tokens; ``special_tokens`` found in the text pass through whole.

    Args:
        model: The sentencepiece model trained by :func:`train_bbpe`.
        special_tokens: Atomic tokens such as ``<spa>`` or ``<asr>``.
    """

    def __init__(self, model: Union[str, Path], special_tokens: Iterable[str] = ()):
        self.model = str(model)
        self.special_tokens = frozenset(special_tokens)
        self._sp = None  # loaded lazily: SentencePieceProcessor does not pickle (data workers)

    def __repr__(self):
        return f'{type(self).__name__}(model="{self.model}", specials={len(self.special_tokens)})'

    def __getstate__(self):
        return {**self.__dict__, "_sp": None}

    @property
    def sp(self):
        if self._sp is None:
            import sentencepiece as spm

            self._sp = spm.SentencePieceProcessor(model_file=self.model)
        return self._sp

    def text2tokens(self, line: str) -> List[str]:
        tokens, start = [], 0
        for m in SPECIAL.finditer(line):
            if m.group() in self.special_tokens:
                tokens += self._encode(line[start : m.start()]) + [m.group()]
                start = m.end()
        return tokens + self._encode(line[start:])

    def _encode(self, text: str) -> List[str]:
        return self.sp.encode(bytes_to_symbols(text), out_type=str) if text else []

    def tokens2text(self, tokens: Iterable[str]) -> str:
        out, pieces = [], []
        for token in tokens:
            if token in self.special_tokens:
                out += [self._decode(pieces), token]
                pieces = []
            else:
                pieces.append(token)
        return "".join(out + [self._decode(pieces)])

    def _decode(self, pieces: List[str]) -> str:
        return symbols_to_text(self.sp.decode_pieces(pieces)) if pieces else ""


def train_bbpe(
    texts: Iterable[str],
    model_prefix: Union[str, Path],
    vocab_size: int,
    input_sentence_size: int = 1_000_000,
    num_threads: int = 2,
) -> Path:
    """Train a BBPE sentencepiece model on plain texts (no special tokens); returns the model path.

    ``vocab_size`` counts the 256 byte symbols and ``<unk>``; on a small corpus it is an upper
    bound (BPE stops when no pair is left to merge).
    """
    import sentencepiece as spm

    if vocab_size < 257:
        raise ValueError(f"vocab_size {vocab_size} cannot hold the 256 byte symbols + <unk>")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "bytes.txt"
        n = 0
        with open(corpus, "w", encoding="utf-8") as f:
            for text in texts:
                f.write(bytes_to_symbols(text.rstrip("\n")) + "\n")
                n += 1
            # every byte symbol once, so unseen bytes (Korean, emoji, ...) still encode
            f.write(" ".join(s for s in BYTE_SYMBOLS if s != " ") + "\n")
        if n == 0:
            raise ValueError("no text to train BBPE on")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(model_prefix),
            vocab_size=vocab_size,
            model_type="bpe",
            character_coverage=1.0,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            hard_vocab_limit=False,
            input_sentence_size=input_sentence_size,
            shuffle_input_sentence=True,
            num_threads=num_threads,
            minloglevel=2,
        )
    return Path(f"{model_prefix}.model")


def make_token_list(model: Union[str, Path], special_tokens: Sequence[str]) -> List[str]:
    """The ESPnet token list: S2T specials, then ``special_tokens`` (languages, tasks), then the
    BBPE pieces (sentencepiece's own ``<unk>`` is the list's ``<unk>``)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_unknown(i)]
    specials = [*S2T_SPECIALS, *(t for t in special_tokens if t not in S2T_SPECIALS)]
    clash = sorted(set(specials) & set(pieces))
    if clash:
        raise ValueError(f"special tokens {clash} are also BBPE pieces")
    return specials + pieces


def build_tokenizer(
    token_type: str, bpemodel: Optional[str], token_list: Optional[Sequence[str]], **kwargs
) -> AbsTokenizer:
    """ESPnet's ``build_tokenizer`` plus ``bbpe``, whose specials are the ``<...>`` entries of the
    token list."""
    if token_type != "bbpe":
        return espnet_build_tokenizer(token_type=token_type, bpemodel=bpemodel, **kwargs)
    if bpemodel is None or token_list is None:
        raise ValueError("token_type bbpe needs --bpemodel and --token_list")
    return BBPETokenizer(bpemodel, [t for t in token_list if SPECIAL.fullmatch(t)])
