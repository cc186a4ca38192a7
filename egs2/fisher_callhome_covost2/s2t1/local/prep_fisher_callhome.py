#!/usr/bin/env python3
"""Fisher Spanish + CallHome Spanish with the English of the Fisher-Callhome Spanish-English
corpus (Post et al. 2013) -> Kaldi data dirs data/<set> for the seven official splits
(espnet_smoe/recipe/corpora/fisher_callhome.py: the layouts read, the files written).

Usage:
    prep_fisher_callhome.py --fisher_speech /corpora/LDC2010S01 --fisher_transcripts /corpora/LDC2010T04 \\
        --callhome_speech /corpora/LDC96S35 --callhome_transcripts /corpora/LDC96T17 \\
        --translations /corpora/Fisher-Callhome-corpus --out data
"""

import argparse
import logging
import sys

from espnet_smoe.recipe.corpora.fisher_callhome import CALLHOME_SETS, FISHER_SETS, prepare
from espnet_smoe.recipe.corpora.prep import PrepError


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fisher_speech", help="LDC2010S01 root")
    parser.add_argument("--fisher_transcripts", help="LDC2010T04 root")
    parser.add_argument("--callhome_speech", help="LDC96S35 root")
    parser.add_argument("--callhome_transcripts", help="LDC96T17 root")
    parser.add_argument("--translations", required=True, help="Fisher-Callhome-corpus root")
    parser.add_argument("--out", default="data")
    parser.add_argument("--sets", nargs="+", default=[*FISHER_SETS, *CALLHOME_SETS],
                        choices=[*FISHER_SETS, *CALLHOME_SETS])
    parser.add_argument("--src_case", choices=["lc.rm", "tc"], default="lc.rm")
    parser.add_argument("--tgt_case", choices=["tc", "lc.rm"], default="tc")
    parser.add_argument("--sph2pipe", default="", help="sph2pipe executable (default: from PATH)")
    return parser.parse_args()


def main():
    args = get_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        prepare(args.out, args.translations, fisher_speech=args.fisher_speech,
                fisher_transcripts=args.fisher_transcripts, callhome_speech=args.callhome_speech,
                callhome_transcripts=args.callhome_transcripts, sets=args.sets,
                src_case=args.src_case, tgt_case=args.tgt_case, sph2pipe=args.sph2pipe)
    except PrepError as e:
        sys.exit(f"prep_fisher_callhome.py: error: {e}")


if __name__ == "__main__":
    main()
