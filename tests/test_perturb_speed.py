"""Speed perturbation (espnet_smoe/recipe/data/speed_perturb.py): sox pipes that play each utterance f times as fast,
every table carried over under Kaldi's ``sp<f>-`` ids, segments rescaled."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_smoe.recipe.datadir import iter_audio, read_table, write_table
from espnet_smoe.recipe.data.speed_perturb import perturb_speed

pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def make_dir(d: Path, segments: bool):
    d.mkdir()
    rate = 16000
    t = np.arange(2 * rate) / rate
    sf.write(d / "rec.wav", 0.5 * np.sin(2 * np.pi * 440 * t), rate, subtype="PCM_16")
    if segments:
        write_table(d / "wav.scp", {"rec": str(d / "rec.wav")})
        write_table(d / "segments", {"spk-a": "rec 0.0 1.0", "spk-b": "rec 1.0 2.0"})
        utts = ["spk-a", "spk-b"]
    else:
        write_table(d / "wav.scp", {"spk-a": str(d / "rec.wav")})
        utts = ["spk-a"]
    write_table(d / "utt2spk", {u: "spk" for u in utts})
    write_table(d / "spk2utt", {"spk": " ".join(utts)})
    write_table(d / "text", {u: "hola" for u in utts})
    write_table(d / "text.eng", {u: "hello" for u in utts})
    write_table(d / "utt2bw", {u: "wb" for u in utts})
    write_table(d / "utt2num_samples", {u: "16000" for u in utts})
    return rate


def test_each_factor_plays_the_audio_that_much_faster(tmp_path):
    rate = make_dir(tmp_path / "src", segments=False)
    assert perturb_speed(tmp_path / "src", tmp_path / "sp", [0.9, 1.0, 1.1]) == 3
    audio = {utt: (wav, r) for utt, wav, r in iter_audio(tmp_path / "sp")}
    assert set(audio) == {"spk-a", "sp0.9-spk-a", "sp1.1-spk-a"}
    for utt, factor in (("spk-a", 1.0), ("sp0.9-spk-a", 0.9), ("sp1.1-spk-a", 1.1)):
        wav, r = audio[utt]
        assert r == rate and len(wav) == pytest.approx(2 * rate / factor, rel=0.01)
        peak = np.argmax(np.abs(np.fft.rfft(wav))) * r / len(wav)  # the tone moves with the speed
        assert peak == pytest.approx(440 * factor, rel=0.01)
    sp = tmp_path / "sp"
    assert read_table(sp / "utt2spk")["sp0.9-spk-a"] == "sp0.9-spk"
    assert read_table(sp / "spk2utt") == {"spk": "spk-a", "sp0.9-spk": "sp0.9-spk-a", "sp1.1-spk": "sp1.1-spk-a"}
    assert read_table(sp / "text.eng")["sp1.1-spk-a"] == "hello"
    assert read_table(sp / "utt2bw")["sp1.1-spk-a"] == "wb"
    assert not (sp / "utt2num_samples").exists()  # lengths change with the speed


def test_segments_are_rescaled_with_their_recording(tmp_path):
    rate = make_dir(tmp_path / "src", segments=True)
    perturb_speed(tmp_path / "src", tmp_path / "sp", [0.8, 1.0])
    segments = read_table(tmp_path / "sp/segments")
    assert segments["sp0.8-spk-b"] == "sp0.8-rec 1.250 2.500" and segments["spk-b"] == "rec 1.000 2.000"
    lengths = {utt: len(wav) for utt, wav, _ in iter_audio(tmp_path / "sp")}
    assert lengths["sp0.8-spk-a"] == pytest.approx(rate / 0.8, rel=0.01)
    assert lengths["sp0.8-spk-b"] == pytest.approx(rate / 0.8, rel=0.01)


def test_factors_must_be_positive_and_distinct(tmp_path):
    make_dir(tmp_path / "src", segments=False)
    for factors in ([0.9, 0.9], [0.0, 1.0]):
        with pytest.raises(ValueError, match="positive and distinct"):
            perturb_speed(tmp_path / "src", tmp_path / "sp", factors)
