#!/usr/bin/env python3
"""Stage 5: turn a dumped data directory into multitask examples with guiding tokens
(espnet_smoe/recipe/data/multitask_data.py).

Usage:
    python local/make_multitask.py --src dump/raw/train_mix --dst dump/raw/train_mix_mt \
        --src_lang spa --tgt_langs eng --batching interleaved
"""

import argparse
from pathlib import Path

from espnet_smoe.recipe.data.multitask_data import BATCHING, make_multitask_set
from espnet_smoe.text.multitask import utterance_id


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    parser.add_argument("--src_lang", required=True)
    parser.add_argument("--tgt_langs", nargs="*", default=[])
    parser.add_argument("--batching", choices=BATCHING, default="interleaved")
    return parser.parse_args()


def main():
    args = get_args()
    tables = make_multitask_set(args.src, args.dst, args.src_lang, args.tgt_langs, args.batching)
    utterances = {utterance_id(example) for example in tables["text"]}
    print(f"{args.dst}: {len(tables['text'])} examples from {len(utterances)} utterances "
          f"({args.batching} batches)")


if __name__ == "__main__":
    main()
