#!/usr/bin/env python3
"""How often does ``espnet_smoe.audio.detect.detect`` get the bandwidth right, per condition?
(the conditions: espnet_smoe/recipe/reports/detection.py)

Writes ``<out>/detection.{md,json}``: accuracy, the misses by utterance, and the distribution of
the detector's evidence (high-band level, mirror correlation) per condition.

Usage:
    python local/bandwidth_report.py --data data/test --data data/dev --out results/bandwidth
"""

import argparse
import json
from pathlib import Path

from espnet_smoe.recipe.reports.detection import evaluate, markdown


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1, help="the telephone channel's (stage 2's)")
    return parser.parse_args()


def main():
    args = get_args()
    found = evaluate(args.data, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detection.json").write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    (args.out / "detection.md").write_text(markdown(found, args.data), encoding="utf-8")
    print((args.out / "detection.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
