"""Speed perturbation of a training data directory, as Kaldi's and ESPnet's recipes do it.

Each factor f other than 1 adds a copy of every utterance played f times as fast (sox ``speed``:
tempo and pitch together, resampled back to the recording's rate), with ids, speakers and
recordings prefixed ``sp<f>-``; factor 1 keeps the originals under their own ids. Audio is not
written: ``wav.scp`` gets sox pipe entries, read like any other entry by the next stage. Segment
times are divided by f. Every other per-utterance (``text*``, ``utt2*``) and per-speaker
(``spk2*``) table is carried over with its keys renamed, so nothing is dropped, but for lengths
(``utt2dur``, ``utt2num_samples``), which the speed changes and the next stages measure again.
"""

import shlex
from pathlib import Path
from typing import Callable, Dict, Sequence

from espnet_smoe.recipe.datadir import read_table, spk2utt, write_table

REMEASURED = ("utt2num_samples", "utt2dur")


def prefix(factor: float) -> str:
    return "" if factor == 1.0 else f"sp{factor:g}-"


def perturbed(entry: str, factor: float) -> str:
    """A ``wav.scp`` value (path or ``cmd |``) played ``factor`` times as fast, as a pipe."""
    if factor == 1.0:
        return entry
    speed = f"-t wav - speed {factor:g} |"
    if entry.endswith("|"):
        return f"{entry} sox -D -V1 -t wav - {speed}"
    return f"sox -D -V1 {shlex.quote(entry)} {speed}"


def renamed(table: Dict[str, str], factor: float,
            value: Callable[[str], str] = lambda v: v) -> Dict[str, str]:
    return {prefix(factor) + key: value(v) for key, v in table.items()}


def _scaled(factor: float) -> Callable[[str], str]:
    """A ``segments`` value of the recording played ``factor`` times as fast."""
    def scale(value: str) -> str:
        rec, start, end = value.split()
        return f"{prefix(factor)}{rec} {float(start) / factor:.3f} {float(end) / factor:.3f}"
    return scale


def perturb_speed(src: Path, dst: Path, factors: Sequence[float]) -> int:
    """Write ``dst``: data directory ``src`` at each speed of ``factors``; return its utterances."""
    if any(f <= 0 for f in factors) or len(set(factors)) != len(factors):
        raise ValueError(f"speed factors {list(factors)}: positive and distinct, please")
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    carried = [p for p in sorted(src.iterdir()) if p.is_file() and p.name.startswith(("text", "utt2", "spk2"))
               and p.name not in ("utt2spk", "spk2utt", *REMEASURED)]
    tables: Dict[str, Dict[str, str]] = {}
    for f in factors:
        tables.setdefault("wav.scp", {}).update(
            renamed(read_table(src / "wav.scp"), f, lambda v: perturbed(v, f)))
        if (src / "segments").is_file():
            tables.setdefault("segments", {}).update(renamed(read_table(src / "segments"), f, _scaled(f)))
        tables.setdefault("utt2spk", {}).update(
            renamed(read_table(src / "utt2spk"), f, lambda spk: prefix(f) + spk))
        for path in carried:
            tables.setdefault(path.name, {}).update(renamed(read_table(path), f))
    tables["spk2utt"] = spk2utt(tables["utt2spk"])
    for name, table in tables.items():
        write_table(dst / name, dict(sorted(table.items())))
    return len(tables["utt2spk"])
