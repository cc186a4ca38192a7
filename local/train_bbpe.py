#!/usr/bin/env python3
"""Stage 4: train the byte-level BPE tokenizer and write the ESPnet token list
(espnet_smoe/recipe/data/token_list.py).

Usage:
    python local/train_bbpe.py --text dump/raw/train/text --text dump/raw/train/text.eng \
        --src_lang spa --tgt_langs eng --vocab_size 1000 --outdir data/token_list/bbpe1000
"""

import argparse
from pathlib import Path

from espnet_smoe.recipe.data.token_list import write_token_list


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, action="append", required=True, help="Kaldi text file")
    parser.add_argument("--src_lang", required=True)
    parser.add_argument("--tgt_langs", nargs="*", default=[])
    parser.add_argument("--vocab_size", type=int, required=True)
    parser.add_argument("--outdir", type=Path, required=True)
    parser.add_argument("--nj", type=int, default=2)
    return parser.parse_args()


def main():
    args = get_args()
    tokens = write_token_list(args.text, args.src_lang, args.tgt_langs, args.vocab_size, args.outdir,
                              num_threads=args.nj)
    print(f"{args.outdir}: {len(tokens)} tokens from {len(args.text)} text files")


if __name__ == "__main__":
    main()
