"""Bandwidth detection: ``wb`` or ``nb`` from the signal, where no label says which.

Narrowband audio, whatever container rate it was upsampled to, has (next to) nothing above
4 kHz, while wideband speech has fricatives there. :func:`detect` compares, per speech frame,
the strongest 250 Hz band of 5.0-7.5 kHz with the strongest of 0.25-3.5 kHz and takes the 99th
percentile over frames (the most fricative-like ones); at -30 dB or below the audio is ``nb``.
An upsampler that leaves images (no anti-imaging filter: sample repetition, linear
interpolation) fills 4-8 kHz with a mirror of 0-4 kHz; so audio whose upper band correlates with
the mirrored lower band (fine spectral structure, 0.4 or more) is ``nb`` too. Audio with real
content above 5 kHz is ``wb``, including in-between rates (11.025 kHz audio reaches 5.5 kHz: the
WB expert has seen such content, the NB expert never has); audio at 8 kHz or below is ``nb`` by
its rate; silence, or too little audio to judge, is ``wb``. docs/recipe.md, *Bandwidth*, has the
accuracy per condition.
"""

from typing import NamedTuple, Optional, Union

import numpy as np
import torch
import torchaudio.functional as AF

from espnet_smoe.audio.bandwidth import WB_RATE, by_rate

DETECT_THRESHOLD_DB = -30.0  # high-band level (99th percentile) between wb and nb
MIRROR_THRESHOLD = 0.4  # an upper band this like the mirrored lower band is upsampling's image


class Evidence(NamedTuple):
    """What :func:`detect` decides from, for the speech frames of one utterance."""

    level_db: float  # 99th percentile of the 5.0-7.5 kHz band against 0.25-3.5 kHz
    mirror: float  # median correlation of 4.3-7.7 kHz with 0.3-3.7 kHz mirrored at 4 kHz


def evidence(wav: Union[torch.Tensor, np.ndarray], fs: int) -> Optional[Evidence]:
    """The high-band level and the mirror correlation of ``wav`` at 16 kHz; None for silence or
    audio shorter than one 32 ms frame. Speech frames: within 35 dB of the loudest."""
    wav = torch.as_tensor(wav).double().flatten()
    if fs != WB_RATE:
        wav = AF.resample(wav, fs, WB_RATE)
    if wav.numel() < 512:
        return None
    power = torch.stft(wav, 512, 160, window=torch.hann_window(512, dtype=torch.float64),
                       return_complex=True).abs() ** 2  # (257 bins of 31.25 Hz, frames)
    freqs = torch.linspace(0, WB_RATE / 2, power.size(0))

    def strongest_band(lo: int, hi: int) -> torch.Tensor:  # (frames,)
        bands = [power[(freqs >= f) & (freqs < f + 250)].mean(0) for f in range(lo, hi, 250)]
        return torch.stack(bands).max(0).values

    low, high = strongest_band(250, 3500), strongest_band(5000, 7500)
    speech = low > low.max() * 10 ** -3.5
    if float(low.max()) <= 1e-20 or int(speech.sum()) < 3:
        return None
    level = torch.quantile(10 * torch.log10(high[speech] / low[speech] + 1e-30), 0.99)
    upper = torch.nonzero((freqs >= 4300) & (freqs <= 7700)).flatten()
    log_power = torch.log(power[:, speech] + 1e-20)
    mirror = _fine_structure_correlation(log_power[upper], log_power[power.size(0) - 1 - upper])
    return Evidence(float(level), mirror)


def _fine_structure_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Median over frames of the correlation of two (bins, frames) log spectra once each frame's
    smooth shape (a 9-bin moving average) is removed: harmonics and their images line up, the
    independent fricative noise of a real upper band does not."""
    kernel = torch.ones(1, 1, 9, dtype=a.dtype) / 9

    def fine(x: torch.Tensor) -> torch.Tensor:
        smooth = torch.nn.functional.conv1d(x.T[:, None], kernel, padding=4)[:, 0].T
        x = x - smooth
        return x - x.mean(0)

    a, b = fine(a), fine(b)
    return float(((a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0) + 1e-12)).median())


def detect(wav: Union[torch.Tensor, np.ndarray], fs: int) -> str:
    """``wb`` or ``nb``, decided from the signal (see the module docstring)."""
    rated = by_rate(fs)
    if rated is not None:
        return rated
    found = evidence(wav, fs)
    if found is None:
        return "wb"  # silence, or too little audio to judge
    return "nb" if found.level_db <= DETECT_THRESHOLD_DB or found.mirror >= MIRROR_THRESHOLD else "wb"
