#!/usr/bin/env python3
"""Speed perturbation of a training data dir, as Kaldi's and ESPnet's recipes do it
(espnet_smoe/recipe/data/speed_perturb.py): sox pipes in wav.scp, ids prefixed ``sp<f>-``.

Usage:
    python local/perturb_speed.py --src data/train --dst data/train_sp --factors 0.9 1.0 1.1
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.recipe.data.speed_perturb import perturb_speed


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    parser.add_argument("--factors", type=float, nargs="+", required=True)
    return parser.parse_args()


def main():
    args = get_args()
    try:
        n = perturb_speed(args.src, args.dst, args.factors)
    except ValueError as e:
        sys.exit(str(e))
    print(f"{args.dst}: {n} utterances (speed factors {' '.join(f'{f:g}' for f in args.factors)})")


if __name__ == "__main__":
    main()
