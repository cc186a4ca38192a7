"""The telephone channel: deterministic per seed and utterance, band-limited, every codec real."""

import pytest
import torch

from espnet_smoe.audio.channel import CODECS, Channel, telephone

RATE = 16000


def speechlike(seconds: float = 1.0) -> torch.Tensor:
    """Harmonics of 150 Hz plus noise bursts: energy across the whole band."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(int(seconds * RATE)) / RATE
    voiced = sum(torch.sin(2 * torch.pi * 150 * k * t) / k for k in range(1, 40))
    bursts = torch.randn(t.numel(), generator=gen) * (torch.sin(2 * torch.pi * 3 * t) > 0.5)
    return 0.1 * voiced + 0.2 * bursts


def band_energy(wav: torch.Tensor, lo: float, hi: float) -> float:
    spectrum = torch.fft.rfft(wav).abs() ** 2
    freqs = torch.fft.rfftfreq(wav.numel(), 1 / RATE)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum() / spectrum.sum())


def test_the_channel_is_drawn_per_seed_and_utterance():
    assert Channel.draw(1, "utt1") == Channel.draw(1, "utt1")
    draws = {Channel.draw(seed, f"utt{i}") for seed in (1, 2) for i in range(50)}
    assert len(draws) == 100
    assert {c.codec for c in draws} == set(CODECS)
    for c in draws:
        assert 200 <= c.low_hz <= 400 and 3200 <= c.high_hz <= 3500 and 10 <= c.snr_db <= 30


def test_telephone_audio_is_deterministic_and_band_limited():
    wav = speechlike()
    channel = Channel.draw(3, "spk-utt")
    out = telephone(wav, RATE, channel, 3, "spk-utt")
    assert torch.equal(out, telephone(wav, RATE, channel, 3, "spk-utt"))
    assert not torch.equal(out, telephone(wav, RATE, channel, 4, "spk-utt"))  # other noise
    assert abs(out.numel() - wav.numel()) <= 320  # codec frames pad by at most 20 ms
    assert band_energy(wav, 4500, 8000) > 0.1
    assert band_energy(out, 4500, 8000) < 1e-4
    assert band_energy(out, 300, 3400) > 0.9


@pytest.mark.parametrize("codec", CODECS)
def test_every_codec_codes(codec):
    """Each codec leaves its own error: the coded speech differs from the uncoded band."""
    wav = speechlike()
    clean = Channel(codec, 0, 300, 3400, 1000, 0.0, -3.0, "white", 60.0)
    coded = telephone(wav, RATE, clean, 1, "u")
    assert band_energy(coded, 300, 3400) > 0.9
    others = [telephone(wav, RATE, Channel(c, 0, 300, 3400, 1000, 0.0, -3.0, "white", 60.0), 1, "u")
              for c in CODECS if c != codec]
    n = min(x.numel() for x in [coded, *others])
    assert all(float((coded[:n] - o[:n]).abs().mean()) > 1e-4 for o in others)
