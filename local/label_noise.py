#!/usr/bin/env python3
"""Label-noise curves: WER and BLEU of each run against the fraction of flipped bandwidth labels
(stage 9's ``flip<p>`` rows; espnet_smoe/recipe/reports/label_noise.py), with detection routing
as a point: ``label_noise.{md,json,png}`` in ``--out``.

Usage:
    python local/label_noise.py --exp exp/matrix/encdec_smoe_seed1 --out exp/label_noise
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.recipe.reports.label_noise import label_noise_report


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", type=Path, nargs="+", required=True, help="exp dirs (their results.json)")
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


def main():
    args = get_args()
    try:
        print(label_noise_report(args.exp, args.out))
    except ValueError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
