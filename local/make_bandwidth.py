#!/usr/bin/env python3
"""Stage 2: make the wideband / narrowband versions of a data directory, all stored at 16 kHz.

WB = resampled to 16 kHz. NB = a narrowband channel at 8 kHz, brought back to 16 kHz, so both
bandwidths share one frontend (``--nb_channel``):

telephone  a call (espnet_smoe/audio/channel.py): band 300-3400 Hz, handset colouring, noise at
           10-30 dB SNR, G.711 mu/A-law, GSM or AMR-NB, drawn per utterance from --seed (default)
lowpass    anti-aliased down to 8 kHz, optionally G.711 mu-law (--mulaw): only the band differs

Writes audio, the usual Kaldi files, ``utt2bw`` and ``utt2channel`` (what made each utterance);
utterance ids gain a ``-wb`` / ``-nb`` suffix.

--mode wb | nb : every utterance in that bandwidth (test sets exist once in each)
--mode split   : each utterance in one bandwidth, half and half, drawn with --seed
--mode both    : each utterance twice, once in each bandwidth
--mode native  : real recordings in their own bandwidth, labelled by --labels: utt2bw (the
                 source's file), rate (<= 8 kHz source audio is NB) or detect
                 (espnet_smoe.audio.detect.detect). With labels not from the file, where the
                 source also has utt2bw, the utterances on which they differ are counted and
                 listed in <dst>/bw_disagree. Other modes ignore a source utt2bw, and say so.

Utterances whose audio is unusable (see espnet_smoe/recipe/datadir.py: unreadable, empty, truncated,
bad_segment, overshoot, too_short) are left out of every output file and listed, by source id, in
``<dst>/skipped``; segments cut at their recording's end are kept and listed in ``<dst>/cut``.

Usage:
    python local/make_bandwidth.py --src data/train --dst data/train_mix --mode split --seed 1
    python local/make_bandwidth.py --src data/test --dst data/test_native --mode native --labels rate
"""

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

import soundfile as sf
import torch
from tqdm import tqdm

from espnet_smoe.audio.bandwidth import BANDWIDTHS, WB_RATE, by_rate, read_utt2bw
from espnet_smoe.audio.channel import Channel, telephone, to_narrowband, to_wideband
from espnet_smoe.audio.detect import detect
from espnet_smoe.recipe.datadir import (
    REASONS, DataDirError, check_data_dir, iter_audio, read_table, spk2utt, write_report, write_table,
)


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    parser.add_argument("--mode", choices=["wb", "nb", "split", "both", "native"], required=True)
    parser.add_argument("--seed", type=int, default=1, help="split and telephone-channel draws")
    parser.add_argument("--nb_channel", choices=["telephone", "lowpass"], default="telephone")
    parser.add_argument("--mulaw", action="store_true", help="lowpass: G.711 mu-law code the NB audio")
    parser.add_argument("--labels", choices=["utt2bw", "rate", "detect"], default="utt2bw",
                        help="native mode: where each utterance's bandwidth comes from")
    parser.add_argument("--min_duration", type=float, default=0.0,
                        help="skip utterances shorter than this many seconds (0: keep all)")
    parser.add_argument("--max_overshoot", type=float, default=0.5,
                        help="seconds a segment may end past its recording's end and be cut there")
    return parser.parse_args()


def plan(args, utts):
    """utt -> the bandwidths it appears in, for every mode but native (labelled per audio)."""
    given = args.src / "utt2bw"
    if args.mode != "native" and given.is_file():
        print(f"{args.dst}: note: {given} is not used: --mode {args.mode} assigns bandwidths "
              "itself (--mode native keeps them)", file=sys.stderr)
    if args.mode in BANDWIDTHS:
        return {u: [args.mode] for u in utts}
    if args.mode == "both":
        return {u: list(BANDWIDTHS) for u in utts}
    order = sorted(utts)
    random.Random(args.seed).shuffle(order)
    return {u: [BANDWIDTHS[i % 2]] for i, u in enumerate(order)}


def native_label(args, utt, wav, rate, given):
    """The recorded bandwidth of one utterance, by --labels."""
    if args.labels == "utt2bw":
        if utt not in given:
            raise DataDirError(f"{args.src}/utt2bw: no label for '{utt}' (--labels rate|detect "
                               "derive them)")
        return BANDWIDTHS[given[utt]]
    if args.labels == "rate":
        return by_rate(rate) or "wb"
    return detect(wav, rate)


def convert(args, utt, audio, rate, bw):
    """(16 kHz audio, what made it) of one utterance in bandwidth ``bw``."""
    if args.mode == "native":
        return to_wideband(audio, rate), f"native-{bw}"  # already in its bandwidth
    if bw == "wb":
        return to_wideband(audio, rate), "wb"
    if args.nb_channel == "lowpass":
        return to_narrowband(audio, rate, mulaw=args.mulaw), "lowpass" + "+mulaw" * args.mulaw
    channel = Channel.draw(args.seed, utt)
    return telephone(audio, rate, channel, args.seed, utt), channel.describe()


def main():
    args = get_args()
    utts = check_data_dir(args.src)
    if args.mode == "native" and args.labels == "utt2bw" and not (args.src / "utt2bw").is_file():
        raise DataDirError(f"{args.src}/utt2bw: needed by --mode native --labels utt2bw")
    given = read_utt2bw(args.src / "utt2bw") if (args.src / "utt2bw").is_file() else {}
    texts = sorted(p.name for p in args.src.glob("text*"))
    bandwidths = None if args.mode == "native" else plan(args, utts)
    (args.dst / "wav").mkdir(parents=True, exist_ok=True)
    tables = {name: {} for name in ["wav.scp", "utt2spk", "utt2bw", "utt2channel", *texts]}
    sources = {name: read_table(args.src / name) for name in ["utt2spk", *texts]}
    report, disagree = [], {}
    usable = iter_audio(args.src, report, args.max_overshoot, args.min_duration)
    for utt, wav, rate in tqdm(usable, total=len(utts), desc=f"{args.dst.name}"):
        audio = torch.from_numpy(wav)
        if bandwidths is None:
            label = native_label(args, utt, audio, rate, given)
            if args.labels != "utt2bw" and utt in given and BANDWIDTHS[given[utt]] != label:
                disagree[utt] = f"{args.labels}={label} utt2bw={BANDWIDTHS[given[utt]]}"
        for bw in [label] if bandwidths is None else bandwidths[utt]:
            out, made_by = convert(args, utt, audio, rate, bw)
            new = f"{utt}-{bw}"
            path = (args.dst / "wav" / f"{new}.wav").resolve()
            sf.write(path, out.clamp(-1, 1).numpy(), WB_RATE, subtype="PCM_16")
            tables["wav.scp"][new] = str(path)
            tables["utt2bw"][new] = bw
            tables["utt2channel"][new] = made_by
            for name, table in sources.items():
                tables[name][new] = table[utt]
    for name, table in tables.items():
        write_table(args.dst / name, table)
    write_report(args.dst, report)
    write_table(args.dst / "spk2utt", spk2utt(tables["utt2spk"]))
    counts = {bw: sum(v == bw for v in tables["utt2bw"].values()) for bw in BANDWIDTHS}
    print(f"{args.dst}: {len(tables['wav.scp'])} utterances {counts}; {summary(report)}")
    for note in report[:10]:
        print(f"{args.dst}: {note.utt}: {note.reason} {note.detail}", file=sys.stderr)
    if args.mode == "native" and args.labels != "utt2bw" and given:
        write_table(args.dst / "bw_disagree", disagree)
        print(f"{args.dst}: labels by {args.labels} differ from {args.src}/utt2bw on "
              f"{len(disagree)} of {len(tables['wav.scp'])} utterances (see {args.dst}/bw_disagree)")


def summary(report):
    """'skipped N (reason count, ...); cut M': the counts of ``<dst>/skipped`` and ``<dst>/cut``."""
    skipped = Counter(note.reason for note in report if note.reason != "cut")
    reasons = ", ".join(f"{r} {skipped[r]}" for r in REASONS if skipped[r])
    return (f"skipped {sum(skipped.values())}" + (f" ({reasons})" if reasons else "")
            + f"; cut {len(report) - sum(skipped.values())}")


if __name__ == "__main__":
    main()
