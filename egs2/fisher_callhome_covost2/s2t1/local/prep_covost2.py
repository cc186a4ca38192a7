#!/usr/bin/env python3
"""CoVoST 2 Spanish->English on Common Voice clips -> Kaldi data dirs data/covost_{train,dev,test}
(espnet_smoe/recipe/corpora/covost2.py: the columns read, the splits, the files written).

Usage:
    prep_covost2.py --covost_tsv /corpora/covost2/covost_v2.es_en.tsv \\
        --cv_root /corpora/cv-corpus-4/es [--cv_tsv /corpora/cv-corpus-4/es/validated.tsv] --out data
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_smoe.recipe.corpora.covost2 import prepare
from espnet_smoe.recipe.corpora.prep import PrepError


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--covost_tsv", type=Path, required=True)
    parser.add_argument("--cv_root", type=Path, required=True)
    parser.add_argument("--cv_tsv", type=Path, default=None, help="Common Voice validated.tsv")
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--prefix", default="covost", help="data dirs <prefix>_<split>")
    parser.add_argument("--src_case", choices=["lc.rm", "tc"], default="lc.rm")
    parser.add_argument("--tgt_case", choices=["tc", "lc.rm"], default="tc")
    parser.add_argument("--durations", action="store_true",
                        help="also sum the clips' durations (opens every MP3: slow on the full set)")
    return parser.parse_args()


def main():
    args = get_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        prepare(args.covost_tsv, args.cv_root, args.out, cv_tsv=args.cv_tsv, prefix=args.prefix,
                src_case=args.src_case, tgt_case=args.tgt_case, durations=args.durations)
    except PrepError as e:
        sys.exit(f"prep_covost2.py: error: {e}")


if __name__ == "__main__":
    main()
