#!/usr/bin/env python3
"""Stage 9: score every decoded test set x task x decode condition; write RESULTS.md and
results.json (espnet_smoe/recipe/evaluation/scoring.py: the metrics; espnet_smoe/recipe/evaluation/results.py: the
rows; espnet_smoe/recipe/evaluation/results_md.py: RESULTS.md in ESPnet's layout).

The conditions other than ``trained`` are scored from their own decode dirs beside
``--decode_dir`` (``<decode_dir>_swap_<stack>``, ``<decode_dir>_flip<p>``, ``<decode_dir>_auto``),
named by ``--conditions`` or by ``--swap_routes``, ``--bw_flips`` and ``--bw_auto``.

Usage:
    python local/score.py --decode_dir exp/s2t/decode_beam5 --dump dump/raw \
        --test_sets test_wb test_nb --tasks asr st_eng --out exp/s2t [--conditions trained swap_encoder]
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.recipe.evaluation.conditions import DecodeCondition, conditions
from espnet_smoe.recipe.evaluation.scoring import score_run


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decode_dir", type=Path, required=True)
    parser.add_argument("--dump", type=Path, required=True, help="dir holding the test sets")
    parser.add_argument("--test_sets", nargs="+", required=True)
    parser.add_argument("--tasks", nargs="+", required=True, help="asr, st_<lang>, ...")
    parser.add_argument("--out", type=Path, required=True, help="where RESULTS.md/results.json go")
    parser.add_argument("--cascade_mt", default="",
                        help="the text translator of the cascade_st_<l> tasks (local/cascade.py), for the notes")
    parser.add_argument("--conditions", nargs="+", type=DecodeCondition.parse,
                        help="decode conditions to score: trained, swap_<stack>, flip<p>, auto "
                        "(instead of the three options below)")
    parser.add_argument("--swap_routes", nargs="*", default=[],
                        help="also score <decode_dir>_swap_<stack> for these stacks")
    parser.add_argument("--bw_flips", nargs="*", default=[],
                        help="also score <decode_dir>_flip<p>, decoded with that fraction of the "
                        "bandwidth labels flipped")
    parser.add_argument("--bw_auto", action="store_true",
                        help="also score <decode_dir>_auto, routed by each utterance's detected bandwidth")
    args = parser.parse_args()
    if args.conditions and (args.swap_routes or args.bw_flips or args.bw_auto):
        parser.error("--conditions names every condition: leave out --swap_routes, --bw_flips, --bw_auto")
    return args


def main():
    args = get_args()
    try:
        report = score_run(args.dump, args.decode_dir, args.test_sets, args.tasks, args.out,
                           repo=Path(__file__).resolve().parent, cascade_mt=args.cascade_mt,
                           conditions=args.conditions or conditions(args.swap_routes, args.bw_flips, args.bw_auto))
    except ValueError as e:
        sys.exit(str(e))
    print(report)


if __name__ == "__main__":
    main()
