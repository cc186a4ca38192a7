"""How often :func:`espnet_smoe.audio.detect.detect` gets the bandwidth right, per condition.

Every utterance of the source data dirs (any rate, e.g. data/test at the corpus's 22.05 kHz) is
made into each condition below and detected at 16 kHz; conditions the detector was tuned on and
conditions it never saw:

=====================  =====  ===========================================================
condition              truth  made by
=====================  =====  ===========================================================
wb                     wb     resampled to 16 kHz (torchaudio)
nb_lowpass             nb     the old channel: 8 kHz band, torchaudio resampling
nb_lowpass_mulaw       nb     the same, G.711 mu-law coded
nb_telephone           nb     the recipe's telephone channel (espnet_smoe/audio/channel.py)
nb_telephone_silence   nb     the same with 1 s of digital silence before and after
unseen_sox_ulaw        nb     a plain sox chain: 8 kHz mu-law written and read back by sox
unseen_amr_nb_4.75     nb     AMR-NB at its lowest bitrate (sox -C 0), read back by sox
unseen_sox_quick_...   nb     the 8 kHz band written at 8 kHz, then upsampled by sox's lowest quality
                              resampler (rate -q: no anti-imaging to speak of)
unseen_rate_11025      wb     11.025 kHz audio (sox), brought to 16 kHz: content up to 5.5 kHz
unseen_rate_12000      wb     12 kHz audio (sox), brought to 16 kHz: content up to 6 kHz
unseen_wb_treble-12    wb     wideband with little high-frequency energy: sox treble -12 dB at 3 kHz
=====================  =====  ===========================================================

:func:`evaluate` gives, per condition, the accuracy, the misses by utterance, and the
distribution of the detector's evidence (high-band level, mirror correlation); :func:`markdown`
its table (the command line: local/bandwidth_report.py).
"""

from pathlib import Path
from typing import Dict, List

import numpy as np
import torch
import torchaudio.functional as AF
from tqdm import tqdm

from espnet_smoe.audio.bandwidth import NB_RATE, WB_RATE
from espnet_smoe.audio.channel import Channel, telephone, through_sox, to_narrowband, to_wideband
from espnet_smoe.audio.detect import DETECT_THRESHOLD_DB, MIRROR_THRESHOLD, detect, evidence
from espnet_smoe.recipe.datadir import check_data_dir, iter_audio


def conditions(seed: int) -> Dict[str, tuple]:
    """name -> (truth, make(wav, rate, utt) -> 16 kHz audio)."""
    def tel(w, r, u):
        return telephone(w, r, Channel.draw(seed, u), seed, u)

    silence = torch.zeros(WB_RATE)
    return {
        "wb": ("wb", lambda w, r, u: to_wideband(w, r)),
        "nb_lowpass": ("nb", lambda w, r, u: to_narrowband(w, r)),
        "nb_lowpass_mulaw": ("nb", lambda w, r, u: to_narrowband(w, r, mulaw=True)),
        "nb_telephone": ("nb", tel),
        "nb_telephone_silence": ("nb", lambda w, r, u: torch.cat([silence, tel(w, r, u), silence])),
        "unseen_sox_ulaw": ("nb", lambda w, r, u: through_sox(w, r, ["-t", "ul", "-r", "8000"])),
        "unseen_amr_nb_4.75": ("nb", lambda w, r, u: through_sox(w, r, ["-t", "amr-nb", "-r", "8000"],
                                                                 write=["-C", "0"])),
        "unseen_sox_quick_upsampling": ("nb", lambda w, r, u: through_sox(
            AF.resample(w, r, NB_RATE), NB_RATE, ["-t", "f32", "-r", "16000"], ["rate", "-q", "16000"])),
        "unseen_rate_11025": ("wb", lambda w, r, u: through_sox(w, r, ["-t", "f32", "-r", "11025"])),
        "unseen_rate_12000": ("wb", lambda w, r, u: through_sox(w, r, ["-t", "f32", "-r", "12000"])),
        "unseen_wb_treble-12": ("wb", lambda w, r, u: through_sox(w, r, ["-t", "f32"], ["treble", "-12", "3000"])),
    }


def evaluate(data: List[Path], seed: int) -> Dict[str, Dict]:
    """condition -> its truth, utterances, accuracy (%), misses and evidence (min/median/max),
    over every utterance of the data dirs ``data``; ``seed``: the telephone channel's."""
    conds: Dict[str, tuple] = conditions(seed)
    found = {name: {"truth": truth, "evidence": [], "misses": []} for name, (truth, _) in conds.items()}
    total = sum(len(check_data_dir(d)) for d in data)
    with tqdm(total=total, desc="detect") as bar:
        for d in data:
            for utt, wav, rate in iter_audio(d):
                wav = torch.from_numpy(wav)
                for name, (truth, make) in conds.items():
                    audio = make(wav, rate, utt)
                    found[name]["evidence"].append(evidence(audio, WB_RATE))
                    if detect(audio, WB_RATE) != truth:
                        found[name]["misses"].append(f"{d.name}/{utt}")
                bar.update()
    for row in found.values():
        seen = [e for e in row.pop("evidence") if e is not None]
        row["utterances"] = total
        row["accuracy"] = round(100.0 * (total - len(row["misses"])) / total, 2)
        for field, digits in (("level_db", 1), ("mirror", 2)):
            values = np.array([getattr(e, field) for e in seen])
            row[field] = {k: round(float(f(values)), digits) for k, f in
                          (("min", np.min), ("median", np.median), ("max", np.max))}
    return found


def markdown(found: Dict[str, Dict], data: List[Path]) -> str:
    """The report of :func:`evaluate`'s results: the detector's rule, then a row per condition."""
    lines = [f"# Bandwidth detection on {', '.join(map(str, data))}", "",
             "`espnet_smoe.audio.detect.detect`: `nb` where the high-band level (99th percentile over "
             "speech frames of the strongest 5.0-7.5 kHz band against the strongest 0.25-3.5 kHz "
             f"band) is at most {DETECT_THRESHOLD_DB} dB or the mirror correlation (4.3-7.7 kHz "
             f"against 0.3-3.7 kHz mirrored at 4 kHz) at least {MIRROR_THRESHOLD}.", "",
             "| condition | truth | utterances | accuracy (%) | level (dB) min / median / max "
             "| mirror min / median / max | misses |", "|---|---|---:|---:|---|---|---|"]
    for name, r in found.items():
        lv, mi = r["level_db"], r["mirror"]
        misses = ", ".join(r["misses"][:5]) + (" ..." if len(r["misses"]) > 5 else "")
        lines.append(f"| {name} | {r['truth']} | {r['utterances']} | {r['accuracy']:.2f} | "
                     f"{lv['min']} / {lv['median']} / {lv['max']} | {mi['min']} / {mi['median']} / "
                     f"{mi['max']} | {misses or '-'} |")
    return "\n".join(lines) + "\n"
