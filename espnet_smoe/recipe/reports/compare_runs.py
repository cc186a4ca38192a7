"""Finished runs side by side: one row per run, each test set's scores as WB / NB.

Reads each run's results.json (stage 9; trained routes only) and its training time (the ESPnet
reporter's epochs in ``checkpoint.pth``), and writes a Markdown table per metric pair:
transcription (WER, CER) and translation (BLEU, chrF, end to end and, where stage 9 scored it,
the cascade). For a recipe's levers, or any other set of runs of one corpus.
"""

import statistics
from pathlib import Path
from typing import List, NamedTuple, Sequence, Tuple

import torch

from espnet_smoe.audio.bandwidth import BANDWIDTHS
from espnet_smoe.recipe.evaluation.conditions import TRAINED
from espnet_smoe.recipe.evaluation.results import Results, ScoreRow
from espnet_smoe.text.multitask import ASR, CASCADE


class Run(NamedTuple):
    """A run as the tables show it: its name, its results rows and its epochs' seconds."""

    name: str
    rows: Tuple[ScoreRow, ...]
    epochs: List[float]


def epochs(exp: Path) -> List[float]:
    """Per-epoch training + validation seconds, from the reporter's state."""
    stats = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"]
    return [sum(e[mode]["time"].total_seconds() for mode in ("train", "valid")) for e in stats.values()]


def load_run(name: str, exp: Path) -> Run:
    """A run's results.json, and its epochs where its ``checkpoint.pth`` is kept."""
    return Run(name, Results.read(exp / "results.json").rows,
               epochs(exp) if (exp / "checkpoint.pth").is_file() else [])


def cell(rows: Sequence[ScoreRow], test_set: str, task: str, metric: str) -> str:
    """``wb / nb`` of ``metric`` over the set's bandwidth copies (``<set>_wb``, ``<set>_nb``,
    or the rows of ``<set>_native``)."""
    values = {}
    for r in rows:
        if r.condition == TRAINED and r.task == task and r.scores.get(metric) is not None and (
                r.test_set.rsplit("_", 1)[0] == test_set):
            values[r.bandwidth] = r.scores.get(metric)
    return " / ".join(f"{values[bw]:.2f}" for bw in BANDWIDTHS if bw in values) or "–"


def table(title: str, runs: Sequence[Run], test_sets: Sequence[str], columns) -> List[str]:
    """Markdown lines: a row per run, a column per test set x (task, metric, header)."""
    head = [f"{name} {s}" for s in test_sets for _, _, name in columns]
    lines = [f"### {title}", "", "| run | " + " | ".join(head) + " | train min (epochs) |",
             "|---|" + "---:|" * (len(head) + 1)]
    for run in runs:
        cells = [cell(run.rows, s, task, metric) for s in test_sets for task, metric, _ in columns]
        minutes = f"{sum(run.epochs) / 60:.1f} ({len(run.epochs)})" if run.epochs else "–"
        lines.append(f"| {run.name} | " + " | ".join(cells) + f" | {minutes} |")
    return lines + [""]


def tables(runs: Sequence[Run], test_sets: Sequence[str]) -> str:
    translations = sorted({r.task for run in runs for r in run.rows if r.task != ASR},
                          key=lambda t: (t.startswith(CASCADE), t))  # end to end first
    st = [(t, metric, f"{name} {'cascade' if t.startswith(CASCADE) else 'ST'}")
          for t in translations for metric, name in (("bleu", "BLEU"), ("chrf", "chrF"))]
    lines = table("Transcription (WB / NB)", runs, test_sets, [(ASR, "wer", "WER"), (ASR, "cer", "CER")])
    lines += table("Translation into English (WB / NB)", runs, test_sets, st)
    all_epochs = [t for run in runs for t in run.epochs]
    if all_epochs:
        lines.append("train min: the epochs' training and validation time from ESPnet's reporter "
                     f"(median epoch over all runs {statistics.median(all_epochs) / 60:.1f} min).")
    return "\n".join(lines) + "\n"
