"""Bandwidth: the encoder's routing rule, and the NB/WB audio it is read from.

An utterance is wideband (``wb``, 16 kHz) or narrowband (``nb``, telephone-like 8 kHz). Both are
stored at 16 kHz so they share one frontend; NB audio is band-limited to 4 kHz first, so the
encoder must tell them apart from content, and the label routes it: WB -> expert 0, NB -> 1.
"""

from pathlib import Path
from typing import Dict, Union

import torch
import torchaudio.functional as AF

BANDWIDTHS = ("wb", "nb")  # position = encoder expert id
WB_RATE = 16000
NB_RATE = 8000


def bandwidth_id(label: str, where: str = "") -> int:
    """The expert id of a bandwidth label; a clear error (saying ``where``) for anything else."""
    try:
        return BANDWIDTHS.index(label.strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown bandwidth label '{label}'{' ' + where if where else ''}; "
            f"expected one of {BANDWIDTHS}"
        ) from None


def read_utt2bw(path: Union[str, Path]) -> Dict[str, int]:
    """Read a Kaldi-style ``utt2bw`` file (``<utt-id> wb|nb``) into utt -> expert id."""
    table = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f"{path}:{n}: expected '<utt-id> wb|nb', got '{line.rstrip()}'")
            table[parts[0]] = bandwidth_id(parts[1], f"for utterance '{parts[0]}' ({path}:{n})")
    return table


def to_wideband(wav: torch.Tensor, fs: int) -> torch.Tensor:
    """Resample (..., T) audio at ``fs`` to 16 kHz."""
    return wav if fs == WB_RATE else AF.resample(wav, fs, WB_RATE)


def to_narrowband(wav: torch.Tensor, fs: int, mulaw: bool = False) -> torch.Tensor:
    """Telephone-band version of (..., T) audio at ``fs``, returned at 16 kHz.

    Anti-aliased resampling to 8 kHz removes everything above 4 kHz; optional G.711 mu-law
    (8-bit) adds the codec's quantisation noise; resampling back to 16 kHz keeps one frontend.
    """
    nb = AF.resample(wav, fs, NB_RATE)
    if mulaw:
        peak = nb.abs().max().clamp(min=1e-8)
        nb = AF.mu_law_decoding(AF.mu_law_encoding(nb / peak, 256), 256) * peak
    return AF.resample(nb, NB_RATE, WB_RATE)
