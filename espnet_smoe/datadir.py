"""Kaldi-style data directories: the contract a corpus's data prep must meet, and their I/O.

A data directory holds one utterance per line in each file, keyed by utterance id, sorted in
``LC_ALL=C`` order, utterance ids prefixed by their speaker id:

=============  ======================================================  =========
file           content                                                 needed
=============  ======================================================  =========
``wav.scp``    ``<utt> <audio path>`` or ``<rec> <command> |``         required
``text``       ``<utt> <transcript in the source language>``           required
``utt2spk``    ``<utt> <speaker>``                                     required
``text.<l>``   ``<utt> <translation into language l>`` (e.g. text.eng) per target
``utt2bw``     ``<utt> wb|nb`` (recorded bandwidth; absent: all WB)     optional
``segments``   ``<utt> <rec> <start s> <end s>`` (wav.scp lists recs)   optional
=============  ======================================================  =========
"""

import io
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple, Union

import numpy as np
import soundfile as sf

PathLike = Union[str, Path]


class DataDirError(ValueError):
    """A data directory breaks the contract; the message names the file, line and value."""


def read_table(path: PathLike) -> Dict[str, str]:
    """``<key> <value...>`` lines -> dict, in file order; duplicate or empty keys are errors."""
    table: Dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            key, _, value = line.partition(" ")
            if not key or key != key.strip():
                raise DataDirError(f"{path}:{n}: malformed line '{line}'")
            if key in table:
                raise DataDirError(f"{path}:{n}: duplicate key '{key}'")
            table[key] = value.strip()
    return table


def write_table(path: PathLike, table: Dict[str, str]) -> None:
    """Write ``<key> <value>`` lines sorted by key in byte order (Kaldi's ``LC_ALL=C``)."""
    with open(path, "w", encoding="utf-8") as f:
        for key in sorted(table, key=lambda k: k.encode("utf-8")):
            f.write(f"{key} {table[key]}\n")


def check_data_dir(data_dir: PathLike, tgt_langs: Sequence[str] = ()) -> List[str]:
    """Validate ``data_dir`` against the contract; return its utterance ids (sorted)."""
    d = Path(data_dir)
    needed = ["wav.scp", "text", "utt2spk", *(f"text.{lang}" for lang in tgt_langs)]
    missing = [name for name in needed if not (d / name).is_file()]
    if missing:
        raise DataDirError(f"{d}: missing {', '.join(missing)} (see espnet_smoe/datadir.py)")
    utts = list(read_table(d / "text"))
    if utts != sorted(utts, key=lambda k: k.encode("utf-8")):
        raise DataDirError(f"{d}/text: not sorted (sort with LC_ALL=C)")
    keyed = [*needed[1:], *(n for n in ("utt2bw", "segments") if (d / n).is_file())]
    for name in keyed:
        keys = set(read_table(d / name))
        if keys != set(utts):
            extra, lacking = sorted(keys - set(utts)), sorted(set(utts) - keys)
            raise DataDirError(
                f"{d}/{name}: keys differ from text: {len(lacking)} missing "
                f"(e.g. {lacking[:3]}), {len(extra)} extra (e.g. {extra[:3]})"
            )
    recordings = set(read_table(d / "wav.scp"))
    if (d / "segments").is_file():
        for utt, seg in read_table(d / "segments").items():
            rec = seg.split()[0]
            if rec not in recordings:
                raise DataDirError(f"{d}/segments: utterance '{utt}' names unknown recording '{rec}'")
    elif recordings != set(utts):
        raise DataDirError(f"{d}/wav.scp: keys differ from text (and there is no segments file)")
    for name in ("text", *(f"text.{lang}" for lang in tgt_langs)):
        empty = [u for u, t in read_table(d / name).items() if not t]
        if empty:
            raise DataDirError(f"{d}/{name}: empty text for {len(empty)} utterances, e.g. {empty[:3]}")
    return utts


def load_audio(entry: str) -> Tuple[np.ndarray, int]:
    """A ``wav.scp`` value (a path, or a shell command ending in ``|``) -> (float32 mono, rate)."""
    entry = entry.strip()
    if entry.endswith("|"):
        out = subprocess.run(entry[:-1], shell=True, capture_output=True, check=True).stdout
        wav, rate = sf.read(io.BytesIO(out), dtype="float32", always_2d=True)
    else:
        wav, rate = sf.read(entry, dtype="float32", always_2d=True)
    return wav.mean(axis=1), rate


def iter_audio(data_dir: PathLike) -> Iterator[Tuple[str, np.ndarray, int]]:
    """Yield (utt, float32 audio, rate) for every utterance, cutting ``segments`` if present."""
    d = Path(data_dir)
    wavs = read_table(d / "wav.scp")
    if not (d / "segments").is_file():
        for utt, entry in wavs.items():
            yield utt, *_load(utt, entry)
        return
    cache: Dict[str, Tuple[np.ndarray, int]] = {}
    for utt, seg in read_table(d / "segments").items():
        rec, start, end = seg.split()[:3]
        if rec not in cache:
            cache = {rec: _load(rec, wavs[rec])}  # segments are grouped by recording
        wav, rate = cache[rec]
        yield utt, wav[int(float(start) * rate) : int(float(end) * rate)], rate


def _load(key: str, entry: str) -> Tuple[np.ndarray, int]:
    try:
        return load_audio(entry)
    except Exception as e:
        raise DataDirError(f"cannot read audio of '{key}' ({entry}): {e}") from e
