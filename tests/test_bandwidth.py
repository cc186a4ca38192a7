"""NB/WB audio, labels and detection: NB has no energy above 4 kHz; detection tells them apart."""

import io
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from espnet_smoe.audio.bandwidth import bandwidth_id, read_utt2bw
from espnet_smoe.audio.channel import Channel, telephone, through_sox, to_narrowband, to_wideband
from espnet_smoe.audio.detect import detect


def energy_above(wav: torch.Tensor, hz: float, rate: int = 16000) -> float:
    spectrum = torch.fft.rfft(wav).abs() ** 2
    freqs = torch.fft.rfftfreq(wav.numel(), 1 / rate)
    return float(spectrum[freqs > hz].sum() / spectrum.sum())


@pytest.mark.parametrize("mulaw", [False, True])
def test_narrowband_removes_the_upper_band(mulaw):
    noise = torch.randn(16000)
    nb = to_narrowband(noise, 16000, mulaw=mulaw)
    assert abs(nb.numel() - noise.numel()) <= 1
    assert energy_above(noise, 4200) > 0.4  # white noise: half its energy is above 4 kHz
    assert energy_above(nb, 4200) < 0.01


def test_mulaw_adds_quantisation_noise():
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * torch.arange(16000) / 16000)
    plain, coded = to_narrowband(tone, 16000), to_narrowband(tone, 16000, mulaw=True)
    assert 1e-5 < float((plain - coded).abs().mean()) < 0.05


def test_wideband_resamples_to_16k():
    wav = torch.randn(22050)
    assert to_wideband(wav, 22050).numel() == 16000
    same = wav[:16000]
    assert to_wideband(same, 16000) is same  # already 16 kHz: untouched


def test_labels():
    assert bandwidth_id("WB") == 0 and bandwidth_id(" nb ") == 1
    with pytest.raises(ValueError, match="'xb'.*utterance 'u1'"):
        bandwidth_id("xb", "for utterance 'u1'")


def test_read_utt2bw_errors_name_file_and_line(tmp_path):
    good = tmp_path / "utt2bw"
    good.write_text("a wb\nb nb\n")
    assert read_utt2bw(good) == {"a": 0, "b": 1}
    bad = tmp_path / "bad"
    bad.write_text("a wb\nb 8k\n")
    with pytest.raises(ValueError, match=r"'8k'.*'b'.*bad:2"):
        read_utt2bw(bad)
    bad.write_text("a wb extra\n")
    with pytest.raises(ValueError, match="bad:1"):
        read_utt2bw(bad)


def espeak(text: str, voice: str) -> tuple:
    """Real (synthetic) speech: espeak-ng, which the recipe's corpus is made with."""
    out = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True)
    wav, rate = sf.read(io.BytesIO(out.stdout), dtype="float32")
    return torch.from_numpy(wav), rate


def test_detect_on_synthetic_signals():
    noise = 0.1 * torch.randn(16000, generator=torch.Generator().manual_seed(0))
    assert detect(noise, 16000) == "wb"
    assert detect(to_narrowband(noise, 16000), 16000) == "nb"  # upsampled back to 16 kHz
    assert detect(to_narrowband(noise, 16000, mulaw=True), 16000) == "nb"
    assert detect(noise[:8000], 8000) == "nb"  # 8 kHz audio: NB by its rate
    at_8k = AF.resample(noise, 16000, 8000)
    imaged = at_8k.repeat_interleave(2)  # upsampled by sample repetition: 4-8 kHz mirrors 0-4 kHz
    assert detect(imaged, 16000) == "nb"
    assert detect(to_wideband(noise[:11025], 11025), 16000) == "wb"  # content up to 5.5 kHz
    assert detect(torch.zeros(16000), 16000) == "wb"  # silence: nothing to judge
    assert detect(noise[:100], 16000) == "wb"  # shorter than a frame


@pytest.mark.parametrize("voice", ["es", "es-419+f3", "es+m4"])
def test_detect_on_speech_through_codecs(voice):
    wav, rate = espeak("Al que madruga, Dios le ayuda; más vale pájaro en mano.", voice)
    assert detect(wav, rate) == "wb"
    assert detect(to_wideband(wav, rate), 16000) == "wb"
    assert detect(through_sox(wav, rate, ["-t", "f32"], ["treble", "-12", "3000"]), 16000) == "wb"
    assert detect(to_narrowband(wav, rate), 16000) == "nb"
    for utt in ("a", "b", "c", "d"):
        assert detect(telephone(wav, rate, Channel.draw(1, utt), 1, utt), 16000) == "nb", utt
    assert detect(through_sox(wav, rate, ["-t", "ul", "-r", "8000"]), 16000) == "nb"
    quick = through_sox(AF.resample(wav, rate, 8000), 8000, ["-t", "f32", "-r", "16000"], ["rate", "-q", "16000"])
    assert detect(quick, 16000) == "nb"  # an upsampler that leaves images
    assert detect(through_sox(wav, rate, ["-t", "amr-nb", "-r", "8000"], write=["-C", "0"]), 16000) == "nb"


def test_label_noise_flips_a_nested_deterministic_fraction():
    from espnet_smoe.audio.bandwidth import mislabelled, other_bandwidth

    keys = [f"spk{i % 7}-utt{i}" for i in range(10000)]
    flipped = {p: {k for k in keys if mislabelled(k, p, seed=3)} for p in (0.0, 0.1, 0.25, 0.5, 1.0)}
    assert not flipped[0.0] and flipped[1.0] == set(keys)
    for p in (0.1, 0.25, 0.5):
        assert abs(len(flipped[p]) / len(keys) - p) < 0.02
    assert flipped[0.1] <= flipped[0.25] <= flipped[0.5]
    assert flipped[0.25] == {k for k in keys if mislabelled(k, 0.25, seed=3)}
    assert flipped[0.25] != {k for k in keys if mislabelled(k, 0.25, seed=4)}
    assert (other_bandwidth("wb"), other_bandwidth("NB")) == ("nb", "wb")
