#!/usr/bin/env python3
"""Stage 3: dump a 16 kHz data directory's audio to a kaldiio ark/scp, with shape files
(espnet_smoe/recipe/data/dump.py).

Usage:
    python local/dump_audio.py --src data/test_nb --dst dump/raw/test_nb
"""

import argparse
from pathlib import Path

from espnet_smoe.audio.bandwidth import WB_RATE
from espnet_smoe.recipe.data.dump import dump_audio


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    return parser.parse_args()


def main():
    args = get_args()
    num_samples = dump_audio(args.src, args.dst)
    print(f"{args.dst}: {len(num_samples)} utterances, {sum(num_samples.values()) / WB_RATE / 3600:.2f} h")


if __name__ == "__main__":
    main()
