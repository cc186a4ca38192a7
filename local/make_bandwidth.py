#!/usr/bin/env python3
"""Stage 2: make the wideband / narrowband versions of a data directory, all stored at 16 kHz
(espnet_smoe/recipe/data/bandwidth_sets.py describes the modes, channels and labels).

Usage:
    python local/make_bandwidth.py --src data/train --dst data/train_mix --mode split --seed 1
    python local/make_bandwidth.py --src data/test --dst data/test_native --mode native --labels rate
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.recipe.data.bandwidth_sets import (
    LABELS, MODES, NB_CHANNELS, BandwidthOptions, make_bandwidth_set, unused_utt2bw,
)


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--seed", type=int, default=1, help="split and telephone-channel draws")
    parser.add_argument("--nb_channel", choices=NB_CHANNELS, default="telephone")
    parser.add_argument("--mulaw", action="store_true", help="lowpass: G.711 mu-law code the NB audio")
    parser.add_argument("--labels", choices=LABELS, default="utt2bw",
                        help="native mode: where each utterance's bandwidth comes from")
    parser.add_argument("--min_duration", type=float, default=0.0,
                        help="skip utterances shorter than this many seconds (0: keep all)")
    parser.add_argument("--max_overshoot", type=float, default=0.5,
                        help="seconds a segment may end past its recording's end and be cut there")
    return parser.parse_args()


def main():
    args = get_args()
    opts = BandwidthOptions(args.mode, args.seed, args.nb_channel, args.mulaw, args.labels,
                            args.min_duration, args.max_overshoot)
    note = unused_utt2bw(args.src, opts)
    if note:
        print(f"{args.dst}: note: {note}", file=sys.stderr)
    made = make_bandwidth_set(args.src, args.dst, opts)
    print(made.summary())
    for note in made.report[:10]:
        print(f"{args.dst}: {note.utt}: {note.reason} {note.detail}", file=sys.stderr)
    if made.disagree is not None:
        print(f"{args.dst}: labels by {args.labels} differ from {args.src}/utt2bw on "
              f"{len(made.disagree)} of {sum(made.counts.values())} utterances (see {args.dst}/bw_disagree)")


if __name__ == "__main__":
    main()
