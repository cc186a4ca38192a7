"""Kaldi-style data directories: the contract a corpus's data prep must meet, and their I/O.

A data directory holds one utterance per line in each file, keyed by utterance id, sorted in
``LC_ALL=C`` order, utterance ids prefixed by their speaker id. Files are UTF-8 without a
byte-order mark; as in Kaldi, a key ends at the first space or tab.

=============  ======================================================  =========
file           content                                                 needed
=============  ======================================================  =========
``wav.scp``    ``<utt> <audio path>`` or ``<rec> <command> |``         required
``text``       ``<utt> <transcript in the source language>``           required
``utt2spk``    ``<utt> <speaker>``                                     required
``text.<l>``   ``<utt> <translation into language l>`` (e.g. text.eng) per target
``utt2bw``     ``<utt> wb|nb`` (recorded bandwidth; absent: all WB)     optional
``segments``   ``<utt> <rec> <start s> <end s>`` (end -1: to the end)  optional
=============  ======================================================  =========

Audio that cannot be used as it is gets one of these reasons (``iter_audio``; stage 2 lists
them in ``<dst>/skipped`` and ``<dst>/cut`` as ``<utt> <reason> <detail>``):

===============  ==============================================================================
``unreadable``   the file or the command fails (detail: its message)
``empty``        no samples: a 0-byte file, or a header with no data
``truncated``    a WAV file holds fewer data bytes than its header declares (libsndfile reads
                 what is there without a word, so the header is the one witness of the loss)
``bad_segment``  a segment with start < 0, end <= start, or start at or past the recording's end
``overshoot``    a segment ends more than ``max_overshoot`` s past the recording's end
``too_short``    shorter than ``min_duration`` s
``cut``          kept: a segment ended up to ``max_overshoot`` s past the recording's end and was
                 cut there (Kaldi's ``extract-segments`` rule, default 0.5 s); an end within 10 ms
                 of the recording's (times rounded to 10 ms) is its end, not a cut
===============  ==============================================================================
"""

import functools
import io
import re
import subprocess
from pathlib import Path
from typing import BinaryIO, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import soundfile as sf

PathLike = Union[str, Path]
REASONS = ("unreadable", "empty", "truncated", "bad_segment", "overshoot", "too_short")
KALDI_SPACE = " \t\r\f\v"
_FIRST_SPACE = re.compile(f"[{KALDI_SPACE}]+")
_BOM = b"\xef\xbb\xbf"
ROUNDING = 0.01  # s: segment times are often rounded to 10 ms; an end this close is the end
_STREAMED = 0x7FFFF000  # a WAV data size this big is taken for a stream's "unknown" placeholder


class DataDirError(ValueError):
    """A data directory breaks the contract; the message names the file, line and value."""


class AudioProblem(DataDirError):
    """Audio not usable as it is: a ``reason`` (see above) and a one-line ``detail``."""

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, " ".join(detail.split())  # one line: a table value
        super().__init__(f"{reason}: {self.detail}")


class AudioNote(NamedTuple):
    """One row of an ``iter_audio`` report."""

    utt: str
    reason: str
    detail: str


def read_table(path: PathLike) -> Dict[str, str]:
    """``<key> <value...>`` lines -> dict, in file order; duplicate or empty keys are errors."""
    table: Dict[str, str] = {}
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            line = _decode(path, n, raw).rstrip("\n")
            if not line.strip(KALDI_SPACE):
                continue
            key, value = (_FIRST_SPACE.split(line, maxsplit=1) + [""])[:2]  # as Kaldi splits
            if not key:
                raise DataDirError(f"{path}:{n}: malformed line '{line}'")
            if key in table:
                raise DataDirError(f"{path}:{n}: duplicate key '{key}'")
            table[key] = value.strip(KALDI_SPACE)
    return table


def _decode(path: PathLike, n: int, raw: bytes) -> str:
    """Line ``n`` as text; reading bytes lets a bad one be named instead of a bare decode error."""
    if n == 1 and raw.startswith(_BOM):
        raise DataDirError(f"{path}: starts with a UTF-8 byte-order mark; remove it with "
                           f"sed -i '1s/^\\xEF\\xBB\\xBF//' {path}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataDirError(f"{path}:{n}: not UTF-8 ({e.reason}): {raw[e.start:e.end]!r} at byte "
                           f"{e.start + 1} of the line; convert the file with iconv") from None


def write_table(path: PathLike, table: Dict[str, str]) -> None:
    """Write ``<key> <value>`` lines sorted by key in byte order (Kaldi's ``LC_ALL=C``)."""
    with open(path, "w", encoding="utf-8") as f:
        for key in sorted(table, key=lambda k: k.encode("utf-8")):
            f.write(f"{key} {table[key]}\n")


def spk2utt(utt2spk: Dict[str, str]) -> Dict[str, str]:
    """``spk2utt`` of an ``utt2spk`` table: each speaker's utterances, sorted."""
    utts: Dict[str, List[str]] = {}
    for utt, spk in utt2spk.items():
        utts.setdefault(spk, []).append(utt)
    return {spk: " ".join(sorted(u)) for spk, u in utts.items()}


def check_data_dir(data_dir: PathLike, tgt_langs: Sequence[str] = ()) -> List[str]:
    """Validate ``data_dir`` against the contract; return its utterance ids (sorted)."""
    d = Path(data_dir)
    needed = ["wav.scp", "text", "utt2spk", *(f"text.{lang}" for lang in tgt_langs)]
    missing = [name for name in needed if not (d / name).is_file()]
    if missing:
        raise DataDirError(f"{d}: missing {', '.join(missing)} (see espnet_smoe/recipe/datadir.py)")
    utts = list(read_table(d / "text"))
    if utts != sorted(utts, key=lambda k: k.encode("utf-8")):
        raise DataDirError(f"{d}/text: not sorted (sort with LC_ALL=C)")
    keyed = [*needed[1:], *(n for n in ("utt2bw", "segments") if (d / n).is_file())]
    for name in keyed:
        _check_keys(d / name, read_table(d / name), utts, "keys differ from text")
    recordings = read_table(d / "wav.scp")
    if (d / "segments").is_file():
        for utt, seg in read_table(d / "segments").items():
            rec = _segment(d, utt, seg)[0]
            if rec not in recordings:
                raise DataDirError(f"{d}/segments: utterance '{utt}' names unknown recording '{rec}'")
    else:
        _check_keys(d / "wav.scp", recordings, utts, "keys differ from text (no segments file)")
    for name in ("text", *(f"text.{lang}" for lang in tgt_langs)):
        empty = [u for u, t in read_table(d / name).items() if not t]
        if empty:
            raise DataDirError(f"{d}/{name}: empty text for {len(empty)} utterances, e.g. {empty[:3]}")
    return utts


def _check_keys(path: Path, keys: Dict[str, str], utts: List[str], what: str) -> None:
    """Name how ``keys`` differ from the utterance ids, counting and showing a few of each side."""
    extra, lacking = sorted(set(keys) - set(utts)), sorted(set(utts) - set(keys))
    if extra or lacking:
        raise DataDirError(f"{path}: {what}: {len(lacking)} missing (e.g. {lacking[:3]}), "
                           f"{len(extra)} extra (e.g. {extra[:3]})")


def _segment(d: Path, utt: str, value: str) -> Tuple[str, float, float]:
    """A ``segments`` value -> (recording, start s, end s)."""
    fields = value.split()
    try:
        return fields[0], float(fields[1]), float(fields[2])
    except (IndexError, ValueError):
        raise DataDirError(f"{d}/segments: utterance '{utt}': malformed '{value}' "
                           "(want <rec> <start s> <end s>)") from None


def load_audio(entry: str) -> Tuple[np.ndarray, int]:
    """A ``wav.scp`` value (a path, or a shell command ending in ``|``) -> (float32 mono, rate).

    Raises AudioProblem (``unreadable``, ``empty``, ``truncated``) naming the entry.
    """
    entry = entry.strip()
    try:
        with _open(entry) as f:
            return _decode_audio(f, entry)
    except sf.LibsndfileError as e:  # its str() names the file object, not the entry
        raise AudioProblem("unreadable", f"{entry}: {e.error_string}") from e
    except OSError as e:
        raise AudioProblem("unreadable", f"{entry}: {e}") from e


def _open(entry: str) -> BinaryIO:
    """The bytes of a ``wav.scp`` value: its file, or its command's output."""
    if not entry.endswith("|"):
        return open(entry, "rb")
    proc = subprocess.run(entry[:-1], shell=True, capture_output=True)
    if proc.returncode:
        stderr = proc.stderr.decode("utf-8", errors="replace")[-300:]
        raise AudioProblem("unreadable", f"{entry}: exit status {proc.returncode} {stderr}")
    return io.BytesIO(proc.stdout)


def _decode_audio(f: BinaryIO, entry: str) -> Tuple[np.ndarray, int]:
    """The samples of an opened entry; the header is checked first, as reading hides a loss."""
    size = f.seek(0, io.SEEK_END)
    if not size:
        raise AudioProblem("empty", f"{entry}: 0 bytes")
    f.seek(0)
    declared, present = _wav_data_bytes(f, size)
    if declared > present > 0:  # none present: a header with no samples, "empty" below
        raise AudioProblem("truncated", f"{entry}: its WAV header declares {declared} data bytes, "
                                        f"{present} are present")
    f.seek(0)
    wav, rate = sf.read(f, dtype="float32", always_2d=True)
    if not len(wav):
        raise AudioProblem("empty", f"{entry}: a header with no samples")
    return wav.mean(axis=1), rate


def _wav_data_bytes(f: BinaryIO, size: int) -> Tuple[int, int]:
    """(declared, present) bytes of a RIFF/WAVE data chunk; (0, 0) for other formats or streams."""
    head = f.read(12)
    if head[:4] != b"RIFF" or head[8:] != b"WAVE":
        return 0, 0
    while len(chunk := f.read(8)) == 8:
        length = int.from_bytes(chunk[4:], "little")
        if chunk[:4] == b"data":
            return (0, 0) if length >= _STREAMED else (length, size - f.tell())
        f.seek(length + length % 2, io.SEEK_CUR)
    return 0, 0


def iter_audio(data_dir: PathLike, report: Optional[List[AudioNote]] = None,
               max_overshoot: float = 0.5, min_duration: float = 0.0
               ) -> Iterator[Tuple[str, np.ndarray, int]]:
    """Yield (utt, float32 audio, rate) for every usable utterance, cutting ``segments`` if present.

    With a ``report`` list, an unusable utterance is left out and noted there, and a ``cut`` one
    yielded and noted; without one, the first problem of either kind raises a DataDirError.
    ``min_duration`` 0 keeps every length.
    """
    d = Path(data_dir)
    wavs = read_table(d / "wav.scp")
    load = functools.lru_cache(maxsize=1)(load_audio)  # segments come grouped by recording
    for utt, (rec, start, end) in _utterances(d, wavs).items():
        try:
            wav, rate = load(wavs[rec])
            wav, cut = _clip(wav, rate, rec, start, end, max_overshoot)
            if len(wav) < min_duration * rate:
                detail = f"{len(wav) / rate:.3f} s < min_duration {min_duration} s"
                raise AudioProblem("too_short", detail)
        except AudioProblem as problem:
            _note(d, utt, problem, report)
            continue
        if cut:
            _note(d, utt, cut, report)
        yield utt, wav, rate


def _utterances(d: Path, wavs: Dict[str, str]) -> Dict[str, Tuple[str, float, float]]:
    """utt -> (recording, start s, end s); without ``segments`` each recording is one utterance."""
    if not (d / "segments").is_file():
        return {rec: (rec, 0.0, -1.0) for rec in wavs}
    return {utt: _segment(d, utt, seg) for utt, seg in read_table(d / "segments").items()}


def _clip(wav: np.ndarray, rate: int, rec: str, start: float, end: float, max_overshoot: float
          ) -> Tuple[np.ndarray, Optional[AudioProblem]]:
    """Samples [start, end) s of a recording (end -1: to its end), and a ``cut`` note or None."""
    first, stop = int(start * rate), len(wav) if end == -1 else int(end * rate)
    where = f"recording '{rec}' ({len(wav) / rate:.3f} s)"
    if start < 0 or stop <= first or first >= len(wav):
        raise AudioProblem("bad_segment", f"{start} to {end} s of {where}")
    over = (stop - len(wav)) / rate
    if over > max_overshoot:
        raise AudioProblem("overshoot", f"ends {over:.3f} s past the end of {where}; "
                                        f"max_overshoot {max_overshoot} s")
    cut = AudioProblem("cut", f"ended {over:.3f} s past the end of {where}")
    return wav[first:stop], cut if over > ROUNDING else None


def _note(d: Path, utt: str, problem: AudioProblem, report: Optional[List[AudioNote]]) -> None:
    """Add ``problem`` to the report; without one, raise it, naming the data dir and utterance."""
    if report is None:
        raise DataDirError(f"{d}: utterance '{utt}': {problem}") from problem
    report.append(AudioNote(utt, problem.reason, problem.detail))


def write_report(data_dir: PathLike, report: List[AudioNote]) -> None:
    """Write ``skipped`` (left out) and ``cut`` (kept) as ``<utt> <reason> <detail>`` tables,
    both even when empty, so that a reader can tell "none" from "not checked"."""
    rows = {name: {} for name in ("skipped", "cut")}
    for utt, reason, detail in report:
        rows["cut" if reason == "cut" else "skipped"][utt] = f"{reason} {detail}"
    for name, table in rows.items():
        write_table(Path(data_dir) / name, table)
