"""Stage 2's bandwidth modes: the telephone channel by default, native recordings kept in their
own bandwidth (labelled by utt2bw, rate or detection), and a corpus's utt2bw never ignored
without a word."""

import numpy as np
import soundfile as sf

from espnet_smoe.audio.detect import detect
from espnet_smoe.recipe.data.bandwidth_sets import BandwidthOptions, make_bandwidth_set, unused_utt2bw
from espnet_smoe.recipe.datadir import read_table


def noise(seconds: float, rate: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(rate).standard_normal(int(seconds * rate))).astype("f4")


def corpus(tmp_path, rates: dict, utt2bw: dict = None):
    """A data dir of noise recordings at the given rates (utt -> Hz), optionally with utt2bw."""
    d = tmp_path / "src"
    d.mkdir()
    for utt, rate in rates.items():
        sf.write(tmp_path / f"{utt}.wav", noise(0.5, rate), rate, subtype="PCM_16")
    utts = sorted(rates)
    tables = {"wav.scp": {u: str(tmp_path / f"{u}.wav") for u in utts},
              "text": {u: f"words of {u}" for u in utts}, "utt2spk": {u: "spk" for u in utts}}
    if utt2bw:
        tables["utt2bw"] = utt2bw
    for name, table in tables.items():
        (d / name).write_text("".join(f"{u} {table[u]}\n" for u in utts))
    return d


def test_simulated_nb_goes_through_a_call_by_default(tmp_path):
    src = corpus(tmp_path, {"spk-a": 16000, "spk-b": 16000})
    make_bandwidth_set(src, tmp_path / "nb", BandwidthOptions("nb"))
    channels = read_table(tmp_path / "nb/utt2channel")
    assert all(c.startswith("codec=") and "band=" in c and "noise=" in c for c in channels.values())
    for path in read_table(tmp_path / "nb/wav.scp").values():
        wav, rate = sf.read(path)
        assert rate == 16000 and detect(wav, rate) == "nb"
    make_bandwidth_set(src, tmp_path / "lp", BandwidthOptions("nb", nb_channel="lowpass", mulaw=True))
    assert set(read_table(tmp_path / "lp/utt2channel").values()) == {"lowpass+mulaw"}


def test_native_mode_keeps_each_recording_in_its_own_bandwidth(tmp_path):
    """Native test sets once became upsampled "wb" copies plus "nb" copies of every utterance;
    now one copy each, labelled by rate or by the corpus's utt2bw."""
    src = corpus(tmp_path, {"spk-a": 8000, "spk-b": 16000, "spk-c": 44100},
                 utt2bw={"spk-a": "nb", "spk-b": "nb", "spk-c": "wb"})
    by_file = make_bandwidth_set(src, tmp_path / "by_file", BandwidthOptions("native"))
    assert by_file.disagree is None  # nothing to compare the file's labels with
    assert read_table(tmp_path / "by_file/utt2bw") == {"spk-a-nb": "nb", "spk-b-nb": "nb", "spk-c-wb": "wb"}
    by_rate = make_bandwidth_set(src, tmp_path / "by_rate", BandwidthOptions("native", labels="rate"))
    assert read_table(tmp_path / "by_rate/utt2bw") == {"spk-a-nb": "nb", "spk-b-wb": "wb", "spk-c-wb": "wb"}
    for path in read_table(tmp_path / "by_rate/wav.scp").values():
        assert sf.info(path).samplerate == 16000
    assert read_table(tmp_path / "by_rate/bw_disagree") == by_rate.disagree == {"spk-b": "rate=wb utt2bw=nb"}
    make_bandwidth_set(src, tmp_path / "detected", BandwidthOptions("native", labels="detect"))
    assert read_table(tmp_path / "detected/utt2bw") == read_table(tmp_path / "by_rate/utt2bw")


def test_a_corpus_utt2bw_unused_by_a_simulated_mode_is_said(tmp_path):
    src = corpus(tmp_path, {"spk-a": 16000}, utt2bw={"spk-a": "nb"})
    assert f"{src}/utt2bw is not used: --mode split" in unused_utt2bw(src, BandwidthOptions("split"))
    assert unused_utt2bw(src, BandwidthOptions("native")) is None
