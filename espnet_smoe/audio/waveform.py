"""Audio as users hand it to decoding: any rate, float or integer PCM, mono.

The model takes float samples in [-1, 1] at its training rate (16 kHz here). A file read with
``soundfile`` at 8 or 44.1 kHz, or as ``int16``, would otherwise be decoded as if it were that,
with no error and a different output. These functions make it so, or say why they cannot.
"""

from typing import Union

import numpy as np
import torch
import torchaudio.functional as AF


def mono(speech: Union[torch.Tensor, np.ndarray]) -> torch.Tensor:
    """(nsamples,) or (nsamples, 1) audio as a 1-D tensor; other shapes are an error."""
    speech = torch.as_tensor(speech)
    if speech.dim() == 2 and speech.size(1) == 1:
        speech = speech.squeeze(1)
    if speech.dim() != 1:
        raise ValueError(f"expected (nsamples,) mono speech, got {tuple(speech.shape)}")
    return speech


def to_float(speech: torch.Tensor) -> torch.Tensor:
    """Integer PCM scaled to [-1, 1] as soundfile reads it (8-bit PCM is unsigned, offset 128);
    float audio unchanged."""
    if speech.is_floating_point():
        return speech
    if speech.dtype == torch.uint8:
        return (speech.float() - 128) / 128
    if speech.dtype == torch.bool:
        raise ValueError("speech is boolean, not audio")
    return speech.float() / 2 ** (torch.iinfo(speech.dtype).bits - 1)


def check_finite(speech: torch.Tensor, name: str = "speech") -> None:
    """NaN or Inf samples are an error naming how many and where the first is."""
    bad = ~torch.isfinite(speech)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} NaN/Inf samples (the first at sample "
                         f"{int(bad.nonzero()[0, 0])})")


def resample(speech: torch.Tensor, fs: int, rate: int) -> torch.Tensor:
    """Float audio (..., nsamples) at ``fs`` -> at ``rate`` (torchaudio's resampling)."""
    if fs <= 0:
        raise ValueError(f"fs must be a positive sampling rate in Hz, got {fs}")
    return speech if fs == rate else AF.resample(speech, fs, rate)
