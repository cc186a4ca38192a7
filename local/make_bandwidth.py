#!/usr/bin/env python3
"""Stage 2: make the wideband / narrowband versions of a data directory, all stored at 16 kHz.

WB = resampled to 16 kHz. NB = anti-aliased down to 8 kHz (optionally G.711 mu-law coded), then
back up to 16 kHz, so both bandwidths share one frontend. Writes audio, the usual Kaldi files
and ``utt2bw``; utterance ids gain a ``-wb`` / ``-nb`` suffix.

--mode wb | nb : every utterance in that bandwidth (test sets exist once in each)
--mode split   : each utterance in one bandwidth, half and half, drawn with --seed
--mode both    : each utterance twice, once in each bandwidth
--mode native  : keep the bandwidth the source's utt2bw records (real NB recordings)

Utterances whose audio is unusable (see espnet_smoe/datadir.py: unreadable, empty, truncated,
bad_segment, overshoot, too_short) are left out of every output file and listed, by source id, in
``<dst>/skipped``; segments cut at their recording's end are kept and listed in ``<dst>/cut``.

Usage:
    python local/make_bandwidth.py --src data/train --dst data/train_mix --mode split --seed 1
"""

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

import soundfile as sf
import torch
from tqdm import tqdm

from espnet_smoe.bandwidth import BANDWIDTHS, WB_RATE, read_utt2bw, to_narrowband, to_wideband
from espnet_smoe.datadir import (
    REASONS, DataDirError, check_data_dir, iter_audio, read_table, write_report, write_table,
)


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    parser.add_argument("--mode", choices=["wb", "nb", "split", "both", "native"], required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mulaw", action="store_true", help="G.711 mu-law code the NB audio")
    parser.add_argument("--min_duration", type=float, default=0.0,
                        help="skip utterances shorter than this many seconds (0: keep all)")
    parser.add_argument("--max_overshoot", type=float, default=0.5,
                        help="seconds a segment may end past its recording's end and be cut there")
    return parser.parse_args()


def assign(utts, mode, seed, src):
    """utt -> list of bandwidths it appears in."""
    if mode in BANDWIDTHS:
        return {u: [mode] for u in utts}
    if mode == "both":
        return {u: list(BANDWIDTHS) for u in utts}
    if mode == "native":
        if not (src / "utt2bw").is_file():
            raise DataDirError(f"{src}/utt2bw: needed by --mode native")
        return {u: [BANDWIDTHS[i]] for u, i in read_utt2bw(src / "utt2bw").items()}
    order = sorted(utts)
    random.Random(seed).shuffle(order)
    return {u: [BANDWIDTHS[i % 2]] for i, u in enumerate(order)}


def main():
    args = get_args()
    utts = check_data_dir(args.src)
    texts = sorted(p.name for p in args.src.glob("text*"))
    plan = assign(utts, args.mode, args.seed, args.src)
    (args.dst / "wav").mkdir(parents=True, exist_ok=True)
    tables = {name: {} for name in ["wav.scp", "utt2spk", "utt2bw", *texts]}
    sources = {name: read_table(args.src / name) for name in ["utt2spk", *texts]}
    report = []
    usable = iter_audio(args.src, report, args.max_overshoot, args.min_duration)
    for utt, wav, rate in tqdm(usable, total=len(utts), desc=f"{args.dst.name}"):
        audio = torch.from_numpy(wav)
        for bw in plan[utt]:
            if args.mode == "native" and bw == "nb":
                out = to_wideband(audio, rate)  # already narrowband: only bring it to 16 kHz
            elif bw == "nb":
                out = to_narrowband(audio, rate, mulaw=args.mulaw)
            else:
                out = to_wideband(audio, rate)
            new = f"{utt}-{bw}"
            path = (args.dst / "wav" / f"{new}.wav").resolve()
            sf.write(path, out.clamp(-1, 1).numpy(), WB_RATE, subtype="PCM_16")
            tables["wav.scp"][new] = str(path)
            tables["utt2bw"][new] = bw
            for name, table in sources.items():
                tables[name][new] = table[utt]
    for name, table in tables.items():
        write_table(args.dst / name, table)
    write_report(args.dst, report)
    spk2utt = {}
    for utt, spk in tables["utt2spk"].items():
        spk2utt.setdefault(spk, []).append(utt)
    write_table(args.dst / "spk2utt", {s: " ".join(sorted(u)) for s, u in spk2utt.items()})
    counts = {bw: sum(v == bw for v in tables["utt2bw"].values()) for bw in BANDWIDTHS}
    print(f"{args.dst}: {len(tables['wav.scp'])} utterances {counts}; {summary(report)}")
    for note in report[:10]:
        print(f"{args.dst}: {note.utt}: {note.reason} {note.detail}", file=sys.stderr)


def summary(report):
    """'skipped N (reason count, ...); cut M': the counts of ``<dst>/skipped`` and ``<dst>/cut``."""
    skipped = Counter(note.reason for note in report if note.reason != "cut")
    reasons = ", ".join(f"{r} {skipped[r]}" for r in REASONS if skipped[r])
    return (f"skipped {sum(skipped.values())}" + (f" ({reasons})" if reasons else "")
            + f"; cut {len(report) - sum(skipped.values())}")


if __name__ == "__main__":
    main()
