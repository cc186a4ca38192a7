#!/usr/bin/env python3
"""Stage 4: train the byte-level BPE tokenizer and write the ESPnet token list.

BBPE is trained on every output text (transcripts and translations); the language and task
tokens of the multitask scheme are added as atomic tokens (see espnet_smoe/text/multitask.py).

Usage:
    python local/train_bbpe.py --text dump/raw/train/text --text dump/raw/train/text.eng \
        --src_lang spa --tgt_langs eng --vocab_size 1000 --outdir data/token_list/bbpe1000
"""

import argparse
from pathlib import Path

from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.text.multitask import special_tokens
from espnet_smoe.text.tokenizer import make_token_list, train_bbpe


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
    texts = [t for path in args.text for t in read_table(path).values()]
    args.outdir.mkdir(parents=True, exist_ok=True)
    model = train_bbpe(texts, args.outdir / "bbpe", args.vocab_size, num_threads=args.nj)
    tokens = make_token_list(model, special_tokens(args.src_lang, args.tgt_langs))
    (args.outdir / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    print(f"{args.outdir}: {len(tokens)} tokens from {len(texts)} texts")


if __name__ == "__main__":
    main()
