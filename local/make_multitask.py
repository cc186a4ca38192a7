#!/usr/bin/env python3
"""Stage 5: turn a dumped data directory into multitask examples with guiding tokens.

Each utterance gives one example per task (``<utt>_asr``, ``<utt>_st_eng``, ...): ``text`` holds
``<src_lang><task>target``, ``text.ctc`` the source transcript, ``text.prev`` ``<na>``; audio,
``utt2bw`` and shapes are shared by reference. With ``--batching interleaved`` (the paper's
scheme) it also writes ``utt2category`` = task, which makes ESPnet's folded batch sampler build
single-task batches that the shuffled iterator interleaves; ``mixed`` leaves tasks mixed.

Usage:
    python local/make_multitask.py --src dump/raw/train_mix --dst dump/raw/train_mix_mt \
        --src_lang spa --tgt_langs eng --batching interleaved
"""

import argparse
from pathlib import Path

from espnet_smoe.recipe.datadir import read_table, write_table
from espnet_smoe.text.multitask import examples


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    parser.add_argument("--src_lang", required=True)
    parser.add_argument("--tgt_langs", nargs="*", default=[])
    parser.add_argument("--batching", choices=["interleaved", "mixed"], default="interleaved")
    return parser.parse_args()


def main():
    args = get_args()
    src = {name: read_table(args.src / name)
           for name in ["wav.scp", "utt2num_samples", "utt2bw", "utt2spk", "text"]}
    translations = {lang: read_table(args.src / f"text.{lang}") for lang in args.tgt_langs}
    names = ["wav.scp", "utt2num_samples", "utt2bw", "utt2spk", "text", "text.ctc", "text.prev",
             "utt2category"]
    out = {name: {} for name in names}
    for utt, transcript in src["text"].items():
        targets = {lang: table[utt] for lang, table in translations.items()}
        for example, task, text in examples(utt, transcript, targets, args.src_lang):
            for name in ("wav.scp", "utt2num_samples", "utt2bw", "utt2spk"):
                out[name][example] = src[name][utt]
            out["text"][example] = text
            out["text.ctc"][example] = transcript
            out["text.prev"][example] = "<na>"
            out["utt2category"][example] = task
    args.dst.mkdir(parents=True, exist_ok=True)
    if args.batching == "mixed":
        del out["utt2category"]
        (args.dst / "utt2category").unlink(missing_ok=True)
    for name, table in out.items():
        write_table(args.dst / name, table)
    print(f"{args.dst}: {len(out['text'])} examples from {len(src['text'])} utterances "
          f"({args.batching} batches)")


if __name__ == "__main__":
    main()
