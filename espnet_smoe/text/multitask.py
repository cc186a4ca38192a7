"""The multitask token scheme: what the decoder prefix says, and so which expert runs.

Every target sequence is ``<src_lang> <task> text`` and the model prepends ``<sos>``, so the
decoder input starts ``<sos> <src_lang> <task>`` and the guiding token sits at ``<sos>+2``
(the decoder's ``route_offset``):

========================  ====================================  ==========================
task                      target text                           guiding token
========================  ====================================  ==========================
transcribe                the source-language transcript        ``<asr>``
translate into ``l``      the translation (``text.<l>``)        ``<st_l>``, e.g. ``<st_eng>``
========================  ====================================  ==========================

Language tokens are ISO 639-3 codes in angle brackets (``<spa>``, ``<eng>``), as OWSM's. A new
target language adds one ``<st_l>`` token; a new task adds one task token; the decoder's
``route_tokens`` map each guiding token to an expert, by hand or by a scheme that follows the
token list, so a new target language needs no edit of the configs (:func:`route_map`):

``per_task``  ``<asr>`` -> 0, then each ``<st_l>`` its own expert, in token-list order
``per_kind``  ``<asr>`` -> 0, every ``<st_l>`` -> 1 (transcribe / translate)

CTC always learns the source transcript (``text.ctc``), whatever the task.
"""

import re
from typing import Dict, List, Sequence, Tuple

ASR = "asr"
CASCADE = "cascade_"  # cascade_st_l: translation into l as transcription then a text translator
GUIDING_OFFSET = 2  # the task token's place after <sos>: the decoder's default route_offset
PREFIX_LENGTH = GUIDING_OFFSET + 1  # <sos> <src_lang> <task>: forced at decoding


def lang_token(lang: str) -> str:
    return f"<{lang}>"


def is_task_token(symbol: str) -> bool:
    """``<asr>`` or ``<st_l>``: a guiding token."""
    return symbol == task_token(ASR) or (symbol.startswith("<st_") and symbol.endswith(">"))


def is_lang_token(symbol: str) -> bool:
    """``<l>`` for an ISO 639-3 code ``l`` (three lower-case letters), other than ``<asr>``
    (also the code of Asuri, but the transcription task here)."""
    code = symbol[1:-1]
    return (symbol == lang_token(code) and len(code) == 3 and code.isalpha() and code.islower()
            and not is_task_token(symbol))


def task_names(tgt_langs: Sequence[str]) -> List[str]:
    """``["asr", "st_eng", ...]``: transcription, then one translation task per target."""
    return [ASR, *(f"st_{lang}" for lang in tgt_langs)]


ROUTE_SCHEMES = ("per_task", "per_kind")


def route_map(scheme: str, token_list: Sequence[str]) -> Dict[str, int]:
    """Guiding token -> expert of a named scheme over the task tokens of ``token_list``."""
    tasks = [t for t in token_list if is_task_token(t)]
    asr = task_token(ASR)
    tasks = ([asr] if asr in tasks else []) + [t for t in tasks if t != asr]
    if not tasks:
        raise ValueError("route_tokens: the token list has no task tokens (<asr>, <st_l>)")
    if scheme == "per_task":
        return {t: e for e, t in enumerate(tasks)}
    if scheme == "per_kind":
        return {t: int(t != asr) for t in tasks}
    raise ValueError(f"route_tokens '{scheme}': a map of guiding token -> expert, or one of {ROUTE_SCHEMES}")


def reference_file(task: str) -> str:
    """The data-dir file holding a task's references: ``text`` for transcription, ``text.<l>``
    for translation into ``l``, end to end (``st_l``) or as a cascade (``cascade_st_l``)."""
    target = target_lang(task.removeprefix(CASCADE))
    return "text" if target is None else f"text.{target}"


def task_token(task: str) -> str:
    return f"<{task}>"


def task_of(symbol: str) -> str:
    """The task a guiding token names: ``<asr>`` -> ``asr``, ``<st_eng>`` -> ``st_eng``."""
    if not is_task_token(symbol):
        raise ValueError(f"'{symbol}' is not a task token such as '<asr>' or '<st_eng>'")
    return symbol[1:-1]


def target_lang(task: str) -> "str | None":
    """The target language of a translation task (``st_eng`` -> ``eng``); None for ``asr``."""
    return None if task == ASR else task.removeprefix("st_")


def describe(task: str) -> str:
    """``transcribe`` or ``translate into <l>``, for people."""
    target = target_lang(task)
    return "transcribe" if target is None else f"translate into {target}"


def decoder_prefix(sos: int, lang: int, task: int) -> List[int]:
    """The prefix forced at decoding, ``<sos> <src_lang> <task>`` (ids; PREFIX_LENGTH long)."""
    return [sos, lang, task]


def special_tokens(src_lang: str, tgt_langs: Sequence[str]) -> List[str]:
    """Language and task tokens, for the token list (they stay atomic under BBPE)."""
    langs = list(dict.fromkeys([src_lang, *tgt_langs]))
    return [*map(lang_token, langs), *map(task_token, task_names(tgt_langs))]


def examples(
    utt: str, transcript: str, translations: Dict[str, str], src_lang: str
) -> List[Tuple[str, str, str]]:
    """One utterance -> ``(example id, task, prefixed target text)`` per task."""
    targets = {ASR: transcript, **{f"st_{lang}": t for lang, t in translations.items()}}
    return [
        (f"{utt}_{task}", task, f"{lang_token(src_lang)}{task_token(task)}{text}")
        for task, text in targets.items()
    ]


def utterance_id(example_id: str) -> str:
    """The utterance of a multitask example id (``<utt>_asr``, ``<utt>_st_eng``: see
    :func:`examples`): its tasks share one recording, so one bandwidth label."""
    return re.sub(r"_(asr|st_[a-z]{3})$", "", example_id)
