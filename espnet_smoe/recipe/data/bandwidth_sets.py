"""Stage 2: the wideband / narrowband versions of a data directory, all stored at 16 kHz.

WB = resampled to 16 kHz. NB = a narrowband channel at 8 kHz, brought back to 16 kHz, so both
bandwidths share one frontend (``nb_channel``):

telephone  a call (espnet_smoe/audio/channel.py): band 300-3400 Hz, handset colouring, noise at
           10-30 dB SNR, G.711 mu/A-law, GSM or AMR-NB, drawn per utterance from ``seed``
lowpass    anti-aliased down to 8 kHz, optionally G.711 mu-law (``mulaw``): only the band differs

Writes audio, the usual Kaldi files, ``utt2bw`` and ``utt2channel`` (what made each utterance);
utterance ids gain a ``-wb`` / ``-nb`` suffix.

mode wb | nb : every utterance in that bandwidth (test sets exist once in each)
mode split   : each utterance in one bandwidth, half and half, drawn with ``seed``
mode both    : each utterance twice, once in each bandwidth
mode native  : real recordings in their own bandwidth, labelled by ``labels``: utt2bw (the
               source's file), rate (<= 8 kHz source audio is NB) or detect
               (espnet_smoe.audio.detect.detect). With labels not from the file, where the
               source also has utt2bw, the utterances on which they differ are listed in
               ``<dst>/bw_disagree``. Other modes ignore a source utt2bw, and say so.

Utterances whose audio is unusable (see espnet_smoe/recipe/datadir.py: unreadable, empty,
truncated, bad_segment, overshoot, too_short) are left out of every output file and listed, by
source id, in ``<dst>/skipped``; segments cut at their recording's end are kept and listed in
``<dst>/cut``.
"""

import dataclasses
import random
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import soundfile as sf
import torch
from tqdm import tqdm

from espnet_smoe.audio.bandwidth import BANDWIDTHS, WB_RATE, by_rate, read_utt2bw
from espnet_smoe.audio.channel import Channel, telephone, to_narrowband, to_wideband
from espnet_smoe.audio.detect import detect
from espnet_smoe.recipe.datadir import (
    REASONS, AudioNote, DataDirError, check_data_dir, iter_audio, read_table, spk2utt, write_report,
    write_table,
)

MODES = ("wb", "nb", "split", "both", "native")
NB_CHANNELS = ("telephone", "lowpass")
LABELS = ("utt2bw", "rate", "detect")


@dataclasses.dataclass(frozen=True)
class BandwidthOptions:
    """How stage 2 makes one data directory (see the module docstring)."""

    mode: str
    seed: int = 1
    nb_channel: str = "telephone"
    mulaw: bool = False
    labels: str = "utt2bw"
    min_duration: float = 0.0  # s; shorter utterances are skipped (0: keep all)
    max_overshoot: float = 0.5  # s a segment may end past its recording's end and be cut there


@dataclasses.dataclass(frozen=True)
class BandwidthSet:
    """What :func:`make_bandwidth_set` wrote: the utterance count per bandwidth, the audio
    notes (skipped and cut utterances) and, natively labelled by rate or detection, the
    utterances whose label differs from the source's utt2bw (None: nothing to compare)."""

    dst: Path
    counts: Dict[str, int]
    report: List[AudioNote]
    disagree: Optional[Dict[str, str]]

    def summary(self) -> str:
        """'<dst>: N utterances {...}; skipped N (reason count, ...); cut M'."""
        skipped = Counter(note.reason for note in self.report if note.reason != "cut")
        reasons = ", ".join(f"{r} {skipped[r]}" for r in REASONS if skipped[r])
        return (f"{self.dst}: {sum(self.counts.values())} utterances {self.counts}; skipped "
                f"{sum(skipped.values())}" + (f" ({reasons})" if reasons else "")
                + f"; cut {len(self.report) - sum(skipped.values())}")


def unused_utt2bw(src: Path, opts: BandwidthOptions) -> Optional[str]:
    """The note that a simulated mode leaves the source's own utt2bw aside (None: nothing to say)."""
    given = src / "utt2bw"
    if opts.mode == "native" or not given.is_file():
        return None
    return (f"{given} is not used: --mode {opts.mode} assigns bandwidths itself "
            "(--mode native keeps them)")


def plan(opts: BandwidthOptions, utts: List[str]) -> Dict[str, List[str]]:
    """utt -> the bandwidths it appears in, for every mode but native (labelled per audio)."""
    if opts.mode in BANDWIDTHS:
        return {u: [opts.mode] for u in utts}
    if opts.mode == "both":
        return {u: list(BANDWIDTHS) for u in utts}
    order = sorted(utts)
    random.Random(opts.seed).shuffle(order)
    return {u: [BANDWIDTHS[i % 2]] for i, u in enumerate(order)}


def native_label(src: Path, opts: BandwidthOptions, utt: str, wav: torch.Tensor, rate: int,
                 given: Dict[str, int]) -> str:
    """The recorded bandwidth of one utterance, by ``opts.labels``."""
    if opts.labels == "utt2bw":
        if utt not in given:
            raise DataDirError(f"{src}/utt2bw: no label for '{utt}' (--labels rate|detect "
                               "derive them)")
        return BANDWIDTHS[given[utt]]
    if opts.labels == "rate":
        return by_rate(rate) or "wb"
    return detect(wav, rate)


def convert(opts: BandwidthOptions, utt: str, audio: torch.Tensor, rate: int, bw: str):
    """(16 kHz audio, what made it) of one utterance in bandwidth ``bw``."""
    if opts.mode == "native":
        return to_wideband(audio, rate), f"native-{bw}"  # already in its bandwidth
    if bw == "wb":
        return to_wideband(audio, rate), "wb"
    if opts.nb_channel == "lowpass":
        return to_narrowband(audio, rate, mulaw=opts.mulaw), "lowpass" + "+mulaw" * opts.mulaw
    channel = Channel.draw(opts.seed, utt)
    return telephone(audio, rate, channel, opts.seed, utt), channel.describe()


def make_bandwidth_set(src: Path, dst: Path, opts: BandwidthOptions) -> BandwidthSet:
    """Write ``dst``, the version of data directory ``src`` that ``opts`` asks for."""
    src, dst = Path(src), Path(dst)
    utts = check_data_dir(src)
    native = opts.mode == "native"
    if native and opts.labels == "utt2bw" and not (src / "utt2bw").is_file():
        raise DataDirError(f"{src}/utt2bw: needed by --mode native --labels utt2bw")
    given = read_utt2bw(src / "utt2bw") if (src / "utt2bw").is_file() else {}
    texts = sorted(p.name for p in src.glob("text*"))
    bandwidths = None if native else plan(opts, utts)
    (dst / "wav").mkdir(parents=True, exist_ok=True)
    tables = {name: {} for name in ["wav.scp", "utt2spk", "utt2bw", "utt2channel", *texts]}
    sources = {name: read_table(src / name) for name in ["utt2spk", *texts]}
    report, disagree = [], {}
    usable = iter_audio(src, report, opts.max_overshoot, opts.min_duration)
    for utt, wav, rate in tqdm(usable, total=len(utts), desc=dst.name):
        audio = torch.from_numpy(wav)
        if bandwidths is None:
            label = native_label(src, opts, utt, audio, rate, given)
            if opts.labels != "utt2bw" and utt in given and BANDWIDTHS[given[utt]] != label:
                disagree[utt] = f"{opts.labels}={label} utt2bw={BANDWIDTHS[given[utt]]}"
        for bw in [label] if bandwidths is None else bandwidths[utt]:
            out, made_by = convert(opts, utt, audio, rate, bw)
            new = f"{utt}-{bw}"
            path = (dst / "wav" / f"{new}.wav").resolve()
            sf.write(path, out.clamp(-1, 1).numpy(), WB_RATE, subtype="PCM_16")
            tables["wav.scp"][new] = str(path)
            tables["utt2bw"][new] = bw
            tables["utt2channel"][new] = made_by
            for name, table in sources.items():
                tables[name][new] = table[utt]
    for name, table in tables.items():
        write_table(dst / name, table)
    write_report(dst, report)
    write_table(dst / "spk2utt", spk2utt(tables["utt2spk"]))
    compared = native and opts.labels != "utt2bw" and bool(given)
    if compared:
        write_table(dst / "bw_disagree", disagree)
    counts = {bw: sum(v == bw for v in tables["utt2bw"].values()) for bw in BANDWIDTHS}
    return BandwidthSet(dst, counts, report, disagree if compared else None)
