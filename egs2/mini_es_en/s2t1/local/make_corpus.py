#!/usr/bin/env python3
"""Make the mini_es_en corpus: Spanish speech with Spanish transcripts and translations, from
Debian packages (espnet_smoe/recipe/corpora/mini_es_en.py: sentences, voices, splits, test_ood).

Levers (recipe README, "Levers"): --train_size, --ui_train, --train_speakers, --prosody.

Usage:
    python local/make_corpus.py --size default --seed 777 --out data --wavdir downloads/wav --nj 2
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_smoe.recipe.corpora.apertium import MODES, ApertiumError
from espnet_smoe.recipe.corpora.mini_es_en import PROSODIES, SIZES, SPEAKERS, make_corpus
from espnet_smoe.recipe.corpora.prep import PrepError


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--wavdir", type=Path, default=Path("downloads/mini_es_en/wav"))
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--tgt_langs", nargs="+", default=["eng"], choices=sorted(MODES),
                        help="translation targets (ISO 639-3), each a text.<l>")
    parser.add_argument("--train_size", type=int, help="fortunes sentences for training "
                        "(default: the size's; the first N of a larger N's)")
    parser.add_argument("--ui_train", type=int, help="also train on this many messages of "
                        "TRAIN_DOMAINS (espnet_smoe/recipe/corpora/ui_strings.py; default: the "
                        "size's, UI_TRAIN)")
    parser.add_argument("--train_speakers", type=int, default=SPEAKERS["train"])
    parser.add_argument("--prosody", choices=PROSODIES, default="speaker",
                        help="a speed and pitch per speaker, or per training utterance around it")
    return parser.parse_args()


def main():
    args = get_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        make_corpus(args.out, args.wavdir, size=args.size, seed=args.seed, tgt_langs=args.tgt_langs,
                    train_size=args.train_size, ui_train=args.ui_train,
                    train_speakers=args.train_speakers, prosody=args.prosody, nj=args.nj)
    except (PrepError, ApertiumError) as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
