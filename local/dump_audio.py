#!/usr/bin/env python3
"""Stage 3: dump a 16 kHz data directory's audio to a kaldiio ark/scp, with shape files.

The ark stores float32 waveforms in [-1, 1] (what ``Speech2Text`` receives at inference, so
training and decoding see the same scale). Copies the text files, ``utt2bw``, ``utt2channel`` and speakers, and
writes ``utt2num_samples``; ESPnet reads the audio with type ``kaldi_ark``. Stage 2's lists of
skipped and cut utterances (``skipped``, ``cut``) travel along, for scoring to report. The input
is stage 2's clean output: any audio problem here is an error.

Usage:
    python local/dump_audio.py --src data/test_nb --dst dump/raw/test_nb
"""

import argparse
import shutil
from pathlib import Path

import kaldiio
from tqdm import tqdm

from espnet_smoe.audio.bandwidth import WB_RATE
from espnet_smoe.recipe.datadir import DataDirError, check_data_dir, iter_audio, write_table


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--dst", type=Path, required=True)
    return parser.parse_args()


def main():
    args = get_args()
    utts = check_data_dir(args.src)
    (args.dst / "data").mkdir(parents=True, exist_ok=True)
    ark, scp = (args.dst / "data" / "wav.ark").resolve(), args.dst / "wav.scp"
    num_samples = {}
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") as writer:
        for utt, wav, rate in tqdm(iter_audio(args.src), total=len(utts), desc=args.dst.name):
            if rate != WB_RATE:
                raise DataDirError(f"{args.src}: '{utt}' is at {rate} Hz; run stage 2 (16 kHz) first")
            writer(utt, wav)
            num_samples[utt] = str(len(wav))
    write_table(args.dst / "utt2num_samples", num_samples)
    texts = [p.name for p in args.src.glob("text*")]
    for name in ["utt2spk", "spk2utt", "utt2bw", "utt2channel", "bw_disagree", "skipped", "cut", *texts]:
        if (args.src / name).is_file():
            shutil.copyfile(args.src / name, args.dst / name)
    print(f"{args.dst}: {len(num_samples)} utterances, "
          f"{sum(map(int, num_samples.values())) / WB_RATE / 3600:.2f} h")


if __name__ == "__main__":
    main()
