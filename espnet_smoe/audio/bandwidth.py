"""Bandwidth labels: the encoder's routing rule and the ``utt2bw`` contract.

An utterance is wideband (``wb``, 16 kHz) or narrowband (``nb``, telephone-like 8 kHz). Both are
stored at 16 kHz so they share one frontend; NB audio is band-limited to 4 kHz first, so the
encoder must tell them apart from content, and the label routes it: WB -> expert 0, NB -> 1.
A corpus with more channel classes (a codec, super-wideband) names them in the encoder's
``route_labels`` (e.g. ``[wb, nb, gsm]``), position = expert id; its ``utt2bw`` uses them.
Audio at 8 kHz or below is ``nb`` by its rate (:func:`by_rate`); other audio is labelled by the
corpus or detected from the signal (:mod:`espnet_smoe.audio.detect`). Label noise (a fraction of
labels flipped on purpose) is drawn here too, so that every stage flips the same utterances.
"""

import hashlib
import re
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

BANDWIDTHS = ("wb", "nb")  # position = encoder expert id
WB_RATE = 16000
NB_RATE = 8000


def route_labels(labels: Optional[Sequence[str]] = None) -> Tuple[str, ...]:
    """The encoder's route classes, position = expert id: ``labels``, or ``wb``, ``nb``."""
    labels = BANDWIDTHS if labels is None else tuple(labels)
    bad = [label for label in labels if not re.fullmatch(r"[a-z0-9_]+", str(label))]
    if not labels or bad or len(set(labels)) != len(labels):
        raise ValueError(f"route_labels must be distinct lower-case words (a-z, 0-9, _), "
                         f"got {list(labels)}")
    return labels


def bandwidth_id(label: str, where: str = "", labels: Sequence[str] = BANDWIDTHS) -> int:
    """The expert id of a bandwidth label among ``labels``; a clear error (saying ``where``)
    for anything else."""
    try:
        return tuple(labels).index(label.strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown bandwidth label '{label}'{' ' + where if where else ''}; "
            f"expected one of {tuple(labels)}"
        ) from None


def mislabelled(key: str, p: float, seed: int = 0) -> bool:
    """Is ``key`` among the fraction ``p`` of utterances whose bandwidth label a label-noise
    experiment flips? Decided by a hash of ``seed`` and ``key``: the same utterances at every
    epoch, in every job and batch, and those flipped at ``p`` are among those flipped at any
    larger ``p`` (so the curves over ``p`` are nested)."""
    if p <= 0:
        return False
    digest = hashlib.sha256(f"{seed}/{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < p


def other_bandwidth(label: str) -> str:
    """The label a flip gives: ``wb`` <-> ``nb``."""
    return BANDWIDTHS[1 - bandwidth_id(label)]


def read_utt2bw(path: Union[str, Path], labels: Sequence[str] = BANDWIDTHS) -> Dict[str, int]:
    """Read a Kaldi-style ``utt2bw`` file (``<utt-id> wb|nb``) into utt -> expert id."""
    table = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f"{path}:{n}: expected '<utt-id> wb|nb', got '{line.rstrip()}'")
            table[parts[0]] = bandwidth_id(parts[1], f"for utterance '{parts[0]}' ({path}:{n})",
                                           labels)
    return table


def by_rate(fs: int) -> Optional[str]:
    """``nb`` for audio sampled at 8 kHz or below (it cannot hold more); None: the rate does not
    tell."""
    return "nb" if fs <= NB_RATE else None
