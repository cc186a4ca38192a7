"""Stage 5: a dumped data directory turned into multitask examples with guiding tokens.

Each utterance gives one example per task (``<utt>_asr``, ``<utt>_st_eng``, ...): ``text`` holds
``<src_lang><task>target``, ``text.ctc`` the source transcript, ``text.prev`` ``<na>``; audio,
``utt2bw`` and shapes are shared by reference. With ``interleaved`` batching (the paper's
scheme) it also writes ``utt2category`` = task, which makes ESPnet's folded batch sampler build
single-task batches that the shuffled iterator interleaves; ``mixed`` leaves tasks mixed.
"""

from pathlib import Path
from typing import Dict, Sequence

from espnet_smoe.recipe.datadir import read_table, write_table
from espnet_smoe.text.multitask import examples

BATCHING = ("interleaved", "mixed")
SHARED = ("wav.scp", "utt2num_samples", "utt2bw", "utt2spk")  # per utterance, by reference


def make_multitask_set(src: Path, dst: Path, src_lang: str, tgt_langs: Sequence[str],
                       batching: str = "interleaved") -> Dict[str, Dict[str, str]]:
    """Write the examples of data directory ``src`` to ``dst``; return its tables."""
    if batching not in BATCHING:
        raise ValueError(f"batching {batching!r}: one of {BATCHING}")
    src, dst = Path(src), Path(dst)
    source = {name: read_table(src / name) for name in (*SHARED, "text")}
    translations = {lang: read_table(src / f"text.{lang}") for lang in tgt_langs}
    out = {name: {} for name in (*SHARED, "text", "text.ctc", "text.prev", "utt2category")}
    for utt, transcript in source["text"].items():
        targets = {lang: table[utt] for lang, table in translations.items()}
        for example, task, text in examples(utt, transcript, targets, src_lang):
            for name in SHARED:
                out[name][example] = source[name][utt]
            out["text"][example] = text
            out["text.ctc"][example] = transcript
            out["text.prev"][example] = "<na>"
            out["utt2category"][example] = task
    dst.mkdir(parents=True, exist_ok=True)
    if batching == "mixed":
        del out["utt2category"]
        (dst / "utt2category").unlink(missing_ok=True)
    for name, table in out.items():
        write_table(dst / name, table)
    return out
