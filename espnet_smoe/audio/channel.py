"""Narrowband (NB) channels: what a line does to speech.

:func:`to_narrowband` keeps the 8 kHz band only (optionally G.711 mu-law coded, torchaudio);
the telephone channel below simulates a call with sox.

A low-passed copy of clean speech differs from wideband only above 4 kHz, so an encoder's
bandwidth experts have little to specialise on. A call also band-limits the voice (about
300-3400 Hz), colours it (the handset and line), adds noise, and codes it. :class:`Channel` holds
one call's settings; :meth:`Channel.draw` picks them per utterance, deterministically from a seed
and the utterance id (so the result never depends on processing order or ``--nj``);
:func:`telephone` applies them with sox's real codecs:

=============  ===============================================================
codec          G.711 mu-law or A-law (64 kbit/s), GSM 06.10 full rate (13 kbit/s),
               AMR-NB at one of its eight modes (4.75-12.2 kbit/s)
band           band-pass, low edge 200-400 Hz, high edge 3200-3500 Hz
colouring      one peaking EQ of -6..+6 dB at 500-2500 Hz (handset and line)
level          peak normalised to -15..-3 dBFS before coding (quiet calls lose more to the codec)
noise          white, pink or brown, at 10-30 dB SNR, added before the band and the codec
=============  ===============================================================
"""

import hashlib
import random
import subprocess
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch
import torchaudio.functional as AF

from espnet_smoe.audio.bandwidth import NB_RATE, WB_RATE

CODECS = ("ulaw", "alaw", "gsm", "amr-nb")
AMR_KBPS = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)  # sox -C <mode>: index in this list
NOISES = ("white", "pink", "brown")
# sox's type of each codec's stream
_CODEC_TYPE = {"ulaw": ["-t", "ul"], "alaw": ["-t", "al"], "gsm": ["-t", "gsm"],
               "amr-nb": ["-t", "amr-nb"]}


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


@dataclass(frozen=True)
class Channel:
    """One call's settings."""

    codec: str
    amr_mode: int  # AMR-NB bitrate mode (AMR_KBPS index); unused by the other codecs
    low_hz: int
    high_hz: int
    eq_hz: int
    eq_db: float
    peak_db: float
    noise: str
    snr_db: float

    @classmethod
    def draw(cls, seed: int, utt: str) -> "Channel":
        """This utterance's call, the same for the same seed and id whatever else is drawn."""
        rng = random.Random(f"{seed}/{utt}")
        return cls(
            codec=rng.choice(CODECS), amr_mode=rng.randrange(len(AMR_KBPS)),
            low_hz=rng.randint(200, 400), high_hz=rng.randint(3200, 3500),
            eq_hz=rng.randint(500, 2500), eq_db=round(rng.uniform(-6, 6), 1),
            peak_db=round(rng.uniform(-15, -3), 1), noise=rng.choice(NOISES),
            snr_db=round(rng.uniform(10, 30), 1),
        )

    def describe(self) -> str:
        """One line for ``utt2channel``: ``codec=amr-nb@4.75 band=300-3400 eq=1200:+3.0 ...``."""
        codec = f"{self.codec}@{AMR_KBPS[self.amr_mode]}" if self.codec == "amr-nb" else self.codec
        return (f"codec={codec} band={self.low_hz}-{self.high_hz} eq={self.eq_hz}:{self.eq_db:+}"
                f" peak={self.peak_db} noise={self.noise}@{self.snr_db}dB")

    @classmethod
    def parse(cls, line: str) -> Optional["Channel"]:
        """The call of a :meth:`describe` line (what stage 2 wrote to ``utt2channel``); None
        for a line naming no call (``wb``, ``lowpass``, ``native-nb``, ...). Other codecs than
        AMR-NB read as ``amr_mode`` 0, which their line leaves out."""
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "codec" not in fields:
            return None
        codec, _, kbps = fields["codec"].partition("@")
        low_hz, high_hz = fields["band"].split("-")
        eq_hz, eq_db = fields["eq"].split(":")
        noise, snr = fields["noise"].split("@")
        return cls(codec=codec, amr_mode=AMR_KBPS.index(float(kbps)) if kbps else 0,
                   low_hz=int(low_hz), high_hz=int(high_hz), eq_hz=int(eq_hz), eq_db=float(eq_db),
                   peak_db=float(fields["peak"]), noise=noise, snr_db=float(snr.removesuffix("dB")))

    def effects(self) -> List[str]:
        """sox effects before the codec: band, colouring, level."""
        return ["sinc", f"{self.low_hz}-{self.high_hz}", "equalizer", str(self.eq_hz), "1q",
                str(self.eq_db), "gain", "-n", str(self.peak_db)]

    def stream(self) -> List[str]:
        """sox's options for the coded stream (its type and rate)."""
        return [*_CODEC_TYPE[self.codec], "-r", str(NB_RATE)]

    def write_options(self) -> List[str]:
        """sox's options for writing the stream: AMR-NB's bitrate mode."""
        return ["-C", str(self.amr_mode)] if self.codec == "amr-nb" else []


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white, pink (1/f power) or brown (1/f^2) noise, unit power."""
    white = rng.standard_normal(n)
    if kind != "white":
        spectrum = np.fft.rfft(white)
        f = np.maximum(np.arange(len(spectrum)), 1.0)
        spectrum /= f ** (0.5 if kind == "pink" else 1.0)
        white = np.fft.irfft(spectrum, n)
    return white / max(np.sqrt(np.mean(white**2)), 1e-12)


def telephone(wav: torch.Tensor, fs: int, channel: Channel, seed: int, utt: str) -> torch.Tensor:
    """(T,) float audio at ``fs`` through ``channel`` at 8 kHz, returned at 16 kHz (one frontend
    for both bandwidths). The noise is drawn from ``seed`` and ``utt`` too: deterministic."""
    raw = ["-t", "f32", "-c", "1", "-r"]
    nb = np.frombuffer(_sox([*raw, str(fs), "-", *raw, str(NB_RATE), "-"], _f32(wav.numpy())), "<f4")
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}/{utt}".encode()).digest()[:8]))
    power = max(float(np.mean(nb.astype(np.float64) ** 2)), 1e-12)
    nb = nb + noise(channel.noise, len(nb), rng) * np.sqrt(power / 10 ** (channel.snr_db / 10))
    return through_sox(torch.from_numpy(nb), NB_RATE, channel.stream(), channel.effects(),
                       channel.write_options())


def through_sox(wav: torch.Tensor, rate: int, stream: List[str], effects: Sequence[str] = (),
                write: Sequence[str] = ()) -> torch.Tensor:
    """(T,) float audio at ``rate`` written by sox as ``stream`` (``-t <type>``, optionally
    ``-r <rate>``; ``write``: options for writing only, such as AMR-NB's ``-C <mode>``) through
    ``effects``, then read back by sox at 16 kHz: a codec's round trip, as a call makes it."""
    raw = ["-t", "f32", "-c", "1", "-r"]
    fmt = [*stream, "-c", "1"] + ([] if "-r" in stream else ["-r", str(rate)])
    coded = _sox([*raw, str(rate), "-", *fmt, *write, "-", *effects], _f32(wav.numpy()))
    return torch.from_numpy(np.frombuffer(_sox([*fmt, "-", *raw, str(WB_RATE), "-"], coded), "<f4").copy())


def _f32(samples: np.ndarray) -> bytes:
    return samples.astype("<f4").tobytes()


def _sox(args: List[str], data: bytes) -> bytes:
    """Run sox on ``data``, raising with its message on failure. No dither (repeatable); its
    rate conversions (high quality) leave no images above 4 kHz, unlike a short sinc filter."""
    proc = subprocess.run(["sox", "-D", "-V1", *args], input=data, capture_output=True)
    if proc.returncode:
        raise RuntimeError(f"sox {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout
