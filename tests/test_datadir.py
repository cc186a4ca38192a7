"""The data-directory contract (``espnet_smoe/recipe/datadir.py``) and stages 2-3 on bad data.

Bad data ends in a DataDirError naming the file, line and value, or (stage 2) in a skipped
utterance listed in ``<dst>/skipped``: never a crash, never a silent loss.
"""

import re

import numpy as np
import pytest
import soundfile as sf

from espnet_smoe.recipe.data.bandwidth_sets import BandwidthOptions, make_bandwidth_set
from espnet_smoe.recipe.datadir import DataDirError, check_data_dir, iter_audio, read_table
from espnet_smoe.recipe.data.dump import dump_audio

RATE = 16000


def tone(seconds):
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def write_wav(path, seconds):
    sf.write(path, tone(seconds), RATE, subtype="PCM_16")
    return path


def truncate(path, keep=None):
    """Cut a WAV file to ``keep`` bytes (default 30 %); its header still declares them all."""
    data = path.read_bytes()
    path.write_bytes(data[: keep or int(len(data) * 0.3)])
    return path


def make_dir(root, audio, segments=None):
    """A data dir: ``audio`` maps each wav.scp key to a path; utterances are its keys or the
    ``segments`` keys (``{utt: "rec start end"}``)."""
    d = root / "data"
    d.mkdir(exist_ok=True)
    utts = sorted(segments or audio)
    (d / "wav.scp").write_text("".join(f"{k} {audio[k]}\n" for k in sorted(audio)))
    (d / "text").write_text("".join(f"{u} words of {u}\n" for u in utts))
    (d / "utt2spk").write_text("".join(f"{u} spk1\n" for u in utts))
    if segments:
        (d / "segments").write_text("".join(f"{u} {segments[u]}\n" for u in utts))
    return d


def test_tables_split_key_and_value_on_the_first_run_of_spaces_or_tabs(tmp_path):
    path = tmp_path / "text"
    path.write_text("spk1-a\thola mundo\nspk1-b \t el\tgato \nspk1-c\n")
    assert read_table(path) == {"spk1-a": "hola mundo", "spk1-b": "el\tgato", "spk1-c": ""}


def test_non_utf8_bytes_name_the_file_the_line_and_the_bytes(tmp_path):
    path = tmp_path / "text"
    path.write_bytes(b"spk1-a hola\nspk1-b caf\xe9 con leche\n")
    with pytest.raises(DataDirError, match=r"text:2: .*b'\\xe9'"):
        read_table(path)


def test_a_byte_order_mark_is_named_and_not_reported_as_unsorted(tmp_path):
    d = make_dir(tmp_path, {"spk1-a": write_wav(tmp_path / "a.wav", 0.5)})
    (d / "text").write_text("\ufeffspk1-a hola\n", encoding="utf-8")
    with pytest.raises(DataDirError, match=r"text: starts with a UTF-8 byte-order mark.*sed"):
        check_data_dir(d)


def test_wav_scp_keys_that_differ_from_text_are_listed(tmp_path):
    wav = write_wav(tmp_path / "a.wav", 0.5)
    d = make_dir(tmp_path, {"spk1-a": wav, "spk1-b": wav})
    (d / "wav.scp").write_text(f"spk1-a {wav}\nspk1-z {wav}\n")
    with pytest.raises(DataDirError, match=r"wav.scp: .*1 missing \(e.g. \['spk1-b'\]\), "
                                           r"1 extra \(e.g. \['spk1-z'\]\)"):
        check_data_dir(d)


def test_malformed_segment_times_are_named(tmp_path):
    d = make_dir(tmp_path, {"rec1": write_wav(tmp_path / "rec1.wav", 1)},
                 segments={"spk1-a": "rec1 0.0 half"})
    with pytest.raises(DataDirError, match=r"segments: .*'spk1-a'.*'rec1 0.0 half'"):
        check_data_dir(d)


@pytest.fixture
def bad_files(tmp_path):
    """One good utterance and one of each recording-level problem."""
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "noise.wav").write_bytes(b"this is not audio at all")
    return {
        "spk1-a-good": write_wav(tmp_path / "good.wav", 0.5),
        "spk1-b-zero": tmp_path / "empty.wav",
        "spk1-c-head44": truncate(write_wav(tmp_path / "head44.wav", 1), keep=44),
        "spk1-c-header": write_wav(tmp_path / "header.wav", 0),
        "spk1-d-cut": truncate(write_wav(tmp_path / "cut.wav", 1)),
        "spk1-e-noise": tmp_path / "noise.wav",
        "spk1-f-short": write_wav(tmp_path / "short.wav", 0.05),
    }


def test_unusable_recordings_are_left_out_and_reported(tmp_path, bad_files):
    report = []
    got = [utt for utt, _, _ in iter_audio(make_dir(tmp_path, bad_files), report, min_duration=0.1)]
    assert got == ["spk1-a-good"]
    assert [(p.utt, p.reason) for p in report] == [
        ("spk1-b-zero", "empty"), ("spk1-c-head44", "empty"), ("spk1-c-header", "empty"),
        ("spk1-d-cut", "truncated"), ("spk1-e-noise", "unreadable"), ("spk1-f-short", "too_short")]
    details = {p.utt: p.detail for p in report}
    assert "cut.wav" in details["spk1-d-cut"] and "32000" in details["spk1-d-cut"]
    assert "noise.wav" in details["spk1-e-noise"]
    assert "0.050" in details["spk1-f-short"] and "\n" not in "".join(details.values())


def test_strict_mode_names_the_data_dir_the_utterance_the_file_and_the_value(tmp_path):
    d = make_dir(tmp_path, {"spk1-a": write_wav(tmp_path / "a.wav", 0.5),
                            "spk1-b": truncate(write_wav(tmp_path / "b.wav", 1))})
    named = rf"{re.escape(str(d))}: utterance 'spk1-b': truncated: .*b.wav.*32000"
    with pytest.raises(DataDirError, match=named):
        list(iter_audio(d))


def test_segments_out_of_range_are_skipped_or_cut_and_always_reported(tmp_path):
    d = make_dir(tmp_path, {"rec1": write_wav(tmp_path / "rec1.wav", 1)}, segments={
        "spk1-a-ok": "rec1 0.0 0.5",
        "spk1-b-backwards": "rec1 0.6 0.6",
        "spk1-c-after": "rec1 1.5 2.0",
        "spk1-d-cut": "rec1 0.5 1.2",
        "spk1-e-over": "rec1 0.2 2.0",
        "spk1-f-to-end": "rec1 0.75 -1",
        "spk1-g-rounded": "rec1 0.5 1.005",  # times rounded to 10 ms: the recording's end
    })
    report = []
    got = {utt: len(wav) for utt, wav, _ in iter_audio(d, report, max_overshoot=0.5)}
    assert got == {"spk1-a-ok": RATE // 2, "spk1-d-cut": RATE // 2, "spk1-f-to-end": RATE // 4,
                   "spk1-g-rounded": RATE // 2}
    assert [(p.utt, p.reason) for p in report] == [
        ("spk1-b-backwards", "bad_segment"), ("spk1-c-after", "bad_segment"),
        ("spk1-d-cut", "cut"), ("spk1-e-over", "overshoot")]
    assert "0.200 s" in report[2].detail and "1.000 s" in report[3].detail
    with pytest.raises(DataDirError, match=r"'spk1-b-backwards': bad_segment: .*0.6"):
        list(iter_audio(d))


def test_stage_2_writes_the_skipped_utterances_and_stage_3_keeps_the_list(tmp_path, bad_files):
    src, dst, dump = make_dir(tmp_path, bad_files), tmp_path / "mix", tmp_path / "dump"
    opts = BandwidthOptions("both", min_duration=0.1)
    made = make_bandwidth_set(src, dst, opts)
    assert made.summary() == f"{dst}: 2 utterances {{'wb': 1, 'nb': 1}}; skipped 6 (unreadable 1, " \
                             "empty 3, truncated 1, too_short 1); cut 0"
    skipped = (dst / "skipped").read_text().splitlines()
    assert [line.split()[:2] for line in skipped] == [
        ["spk1-b-zero", "empty"], ["spk1-c-head44", "empty"], ["spk1-c-header", "empty"],
        ["spk1-d-cut", "truncated"], ["spk1-e-noise", "unreadable"], ["spk1-f-short", "too_short"]]
    assert (dst / "cut").read_text() == ""
    assert sorted(read_table(dst / "text")) == ["spk1-a-good-nb", "spk1-a-good-wb"]
    assert sorted(read_table(dst / "utt2spk")) == sorted(read_table(dst / "wav.scp"))

    first = {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()}
    make_bandwidth_set(src, dst, opts)
    assert {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()} == first

    assert dump_audio(dst, dump) == {"spk1-a-good-nb": RATE // 2, "spk1-a-good-wb": RATE // 2}
    assert (dump / "skipped").read_bytes() == (dst / "skipped").read_bytes()
