#!/usr/bin/env python3
"""The experiment matrix's report (espnet_smoe/recipe/reports/matrix.py): for every variant over
its seeds, scores, cost and significance against the baseline, the routing ablation and the
learned gates' expert usage -> RESULTS.md, results.json and matrix.png.

Usage:
    python local/matrix_report.py --exp exp/matrix --conf conf/mini --dump dump/raw \
        --variants base dec_ffnx2 dec_smoe encdec_smoe learned_moe --seeds 1
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.recipe.reports.matrix import matrix_report


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", type=Path, required=True, help="exp/matrix")
    parser.add_argument("--conf", type=Path, required=True, help="the configs' folder")
    parser.add_argument("--variants", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", required=True)
    parser.add_argument("--baseline", default="base")
    parser.add_argument("--dump", type=Path, default=Path("dump/raw"),
                        help="the test sets' data dirs (references, utt2bw)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where RESULTS.md, results.json and matrix.png go (default: --exp)")
    return parser.parse_args()


def main():
    args = get_args()
    try:
        report = matrix_report(args.exp, args.conf, args.variants, args.seeds, args.baseline, args.dump, args.out)
    except ValueError as e:
        sys.exit(str(e))
    print(report)


if __name__ == "__main__":
    main()
