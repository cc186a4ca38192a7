#!/usr/bin/env python3
"""Speed perturbation of a training data dir, as Kaldi's and ESPnet's recipes do it.

Each factor f other than 1 adds a copy of every utterance played f times as fast (sox ``speed``:
tempo and pitch together, resampled back to the recording's rate), with ids, speakers and
recordings prefixed ``sp<f>-``; factor 1 keeps the originals under their own ids. Audio is not
written: ``wav.scp`` gets sox pipe entries, read like any other entry by the next stage. Segment
times are divided by f. Every other per-utterance (``text*``, ``utt2*``) and per-speaker
(``spk2*``) table is carried over with its keys renamed, so nothing is dropped, but for lengths
(``utt2dur``, ``utt2num_samples``), which the speed changes and the next stages measure again.

Usage:
    python local/perturb_speed.py --src data/train --dst data/train_sp --factors 0.9 1.0 1.1
"""

import argparse
import shlex
import sys
from pathlib import Path
from typing import Dict

from espnet_smoe.recipe.datadir import read_table, spk2utt, write_table


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    parser.add_argument("--factors", type=float, nargs="+", required=True)
    return parser.parse_args()


def prefix(factor: float) -> str:
    return "" if factor == 1.0 else f"sp{factor:g}-"


def perturbed(entry: str, factor: float) -> str:
    """A ``wav.scp`` value (path or ``cmd |``) played ``factor`` times as fast, as a pipe."""
    if factor == 1.0:
        return entry
    speed = f"-t wav - speed {factor:g} |"
    if entry.endswith("|"):
        return f"{entry} sox -D -V1 -t wav - {speed}"
    return f"sox -D -V1 {shlex.quote(entry)} {speed}"


def renamed(table: Dict[str, str], factor: float, value=lambda v: v) -> Dict[str, str]:
    return {prefix(factor) + key: value(v) for key, v in table.items()}


def main():
    args = get_args()
    if any(f <= 0 for f in args.factors) or len(set(args.factors)) != len(args.factors):
        sys.exit(f"--factors {args.factors}: positive and distinct, please")
    src, dst = args.src, args.dst
    dst.mkdir(parents=True, exist_ok=True)
    segmented = (src / "segments").is_file()
    tables = {}
    for f in args.factors:
        out = tables.setdefault("wav.scp", {})
        out.update(renamed(read_table(src / "wav.scp"), f, lambda v: perturbed(v, f)))
        if segmented:
            def scaled(v, f=f):
                rec, start, end = v.split()
                return f"{prefix(f)}{rec} {float(start) / f:.3f} {float(end) / f:.3f}"
            tables.setdefault("segments", {}).update(renamed(read_table(src / "segments"), f, scaled))
        tables.setdefault("utt2spk", {}).update(
            renamed(read_table(src / "utt2spk"), f, lambda spk: prefix(f) + spk))
        for path in sorted(src.iterdir()):
            name = path.name
            if path.is_file() and (name.startswith(("text", "utt2", "spk2")) and name not in
                                   ("utt2spk", "spk2utt", "utt2num_samples", "utt2dur")):
                tables.setdefault(name, {}).update(renamed(read_table(path), f))
    tables["spk2utt"] = spk2utt(tables["utt2spk"])
    for name, table in tables.items():
        write_table(dst / name, dict(sorted(table.items())))
    print(f"{dst}: {len(tables['utt2spk'])} utterances (speed factors {' '.join(f'{f:g}' for f in args.factors)})")


if __name__ == "__main__":
    main()
