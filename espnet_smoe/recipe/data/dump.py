"""Stage 3: a 16 kHz data directory's audio dumped to a kaldiio ark/scp, with shape files.

The ark stores float32 waveforms in [-1, 1] (what ``Speech2Text`` receives at inference, so
training and decoding see the same scale); ESPnet reads it with type ``kaldi_ark``. The text
files, ``utt2bw``, ``utt2channel`` and speakers are copied, and ``utt2num_samples`` written.
Stage 2's lists of skipped and cut utterances (``skipped``, ``cut``) travel along, for scoring to
report. The input is stage 2's clean output: any audio problem here is an error.
"""

import shutil
from pathlib import Path
from typing import Dict

import kaldiio
from tqdm import tqdm

from espnet_smoe.audio.bandwidth import WB_RATE
from espnet_smoe.recipe.datadir import DataDirError, check_data_dir, iter_audio, write_table

CARRIED = ("utt2spk", "spk2utt", "utt2bw", "utt2channel", "bw_disagree", "skipped", "cut")


def dump_audio(src: Path, dst: Path) -> Dict[str, int]:
    """Dump data directory ``src`` to ``dst``; return each utterance's number of samples."""
    src, dst = Path(src), Path(dst)
    utts = check_data_dir(src)
    (dst / "data").mkdir(parents=True, exist_ok=True)
    ark, scp = (dst / "data" / "wav.ark").resolve(), dst / "wav.scp"
    num_samples = {}
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") as writer:
        for utt, wav, rate in tqdm(iter_audio(src), total=len(utts), desc=dst.name):
            if rate != WB_RATE:
                raise DataDirError(f"{src}: '{utt}' is at {rate} Hz; run stage 2 (16 kHz) first")
            writer(utt, wav)
            num_samples[utt] = len(wav)
    write_table(dst / "utt2num_samples", {utt: str(n) for utt, n in num_samples.items()})
    texts = [p.name for p in src.glob("text*")]
    for name in [*CARRIED, *texts]:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
    return num_samples
