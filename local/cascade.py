#!/usr/bin/env python3
"""Stage 9's cascade: the model's own transcripts through a text translator
(espnet_smoe/recipe/evaluation/cascade.py), written as task ``cascade_st_<tgt>`` beside the decodes, which
score.py scores against the same references as ``st_<tgt>``.

Usage:
    python local/cascade.py --decode_dir exp/s2t/decode --test_sets test_wb test_nb \
        --tgt_langs eng --mt "apertium -u spa-{tgt}"
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.recipe.evaluation.cascade import cascade


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decode_dir", type=Path, required=True)
    parser.add_argument("--test_sets", nargs="+", required=True)
    parser.add_argument("--tgt_langs", nargs="+", required=True)
    parser.add_argument("--mt", required=True,
                        help="command reading sentences on stdin, one per line; {tgt}: target language")
    return parser.parse_args()


def main():
    args = get_args()
    try:
        for written in cascade(args.decode_dir, args.test_sets, args.tgt_langs, args.mt):
            print(written)
    except RuntimeError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
