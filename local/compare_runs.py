#!/usr/bin/env python3
"""Compare finished runs side by side: one row per run, each test set's scores as WB / NB, and
each run's training time (espnet_smoe/recipe/reports/compare_runs.py).

Usage:
    python local/compare_runs.py --run "default=exp/s2t_dec_smoe" --run "SpecAugment x2=exp/lever_specaug" \
        --test_sets test test_ood --out exp/levers.md
"""

import argparse
from pathlib import Path

from espnet_smoe.recipe.reports.compare_runs import load_run, tables


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, help="name=exp dir; repeat")
    parser.add_argument("--test_sets", nargs="+", required=True, help="sets as named before stage 2")
    parser.add_argument("--out", type=Path, help="also write the tables here")
    return parser.parse_args()


def main():
    args = get_args()
    report = tables([load_run(name, Path(exp)) for name, _, exp in (s.partition("=") for s in args.run)],
                    args.test_sets)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
