"""Text of the Spanish-English corpora in the style of ESPnet's Fisher-Callhome recipe: LDC
transcripts' markup removed, Spanish source and English target normalised. CoVoST 2's text goes
through the same functions, so a training set that joins the corpora has one style."""

import re
import unicodedata

_COMMENT = re.compile(r"\[\[.*?\]\]")                 # CallHome [[transcriber comments]]
_TAG = re.compile(r"<[^<>]*>")                        # <laugh>, <foreign lang="English">, <English x>
_BRACED = re.compile(r"\{[^{}]*\}")                   # CallHome {laugh}, {breath}
_BRACKETED = re.compile(r"\[[^\[\]]*\]")              # [noise], [distortion]
_BROKEN_TAG = re.compile(r"</?\s*[A-Za-z]+(\s+lang\S*)?")  # a tag left open: "<foreign langenglish"
_MARKS = re.compile(r"[()+*/#<>\[\]{}]")              # (( )) uncertain speech, +mispron+, #overlap
_SPACES = re.compile(r"\s+")


def strip_markup(text: str) -> str:
    """LDC transcript -> words: annotation tags, noise events and comments go; the words of
    uncertain ``(( ))`` speech and of foreign-language tags stay (Post et al.'s Spanish side)."""
    text = unicodedata.normalize("NFC", text)
    for pattern in (_COMMENT, _TAG, _BRACED, _BRACKETED, _BROKEN_TAG, _MARKS):
        text = pattern.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _drop_punctuation(text: str, keep: str = "") -> str:
    """Every punctuation mark or symbol (Unicode P*, S*) but those in ``keep`` -> a space."""
    return "".join(" " if unicodedata.category(c)[0] in "PS" and c not in keep else c for c in text)


def normalize_source(text: str, case: str = "lc.rm", markup: bool = True) -> str:
    """Spanish training text. ``lc.rm`` (default, ESPnet's src_case for this corpus): lower-cased,
    punctuation and symbols removed (as scoring normalises for WER); ``tc``: as written."""
    text = strip_markup(text) if markup else _SPACES.sub(" ", unicodedata.normalize("NFC", text))
    if case == "lc.rm":
        text = _drop_punctuation(text.lower())
    elif case != "tc":
        raise ValueError(f"case must be lc.rm or tc, not {case!r}")
    return _SPACES.sub(" ", text).strip()


_NOTE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|<[^<>]*>|\{[^{}]*\}")  # translators' notes
_ALTERNATIVE = re.compile(r"\b(\w+)/\w+\b")                           # he/she -> he
_NOISY = re.compile(r"[<>\[\]{}()\\/;~=·*]")
_LEADING = re.compile(r"^[\s,.!]+")


def normalize_target(text: str, case: str = "tc", notes: bool = True) -> str:
    """English reference. ``tc`` (default): cased, punctuated, whitespace-normalised (sacreBLEU
    scores it as CoVoST's published results are); ``lc.rm``: also lower-cased with punctuation
    removed but apostrophes (ESPnet's Fisher-Callhome BLEU). ``notes``: also drop translators'
    bracketed notes and ``a/b`` alternatives (the Fisher-Callhome translations have them)."""
    text = unicodedata.normalize("NFC", text).replace("¿", " ").replace("¡", " ")
    text = text.replace("`", "'").replace("´", "'").replace("_", " ")
    if notes:
        text = _ALTERNATIVE.sub(r"\1", _NOTE.sub(" ", text))
        text = _NOISY.sub(" ", text)
    text = _LEADING.sub("", _SPACES.sub(" ", text).strip())
    if not _drop_punctuation(text).strip():  # only punctuation left
        return ""
    if case == "lc.rm":
        text = _drop_punctuation(text.lower(), keep="'")
    elif case != "tc":
        raise ValueError(f"case must be lc.rm or tc, not {case!r}")
    return _SPACES.sub(" ", text).strip()

