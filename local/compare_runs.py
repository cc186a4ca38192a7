#!/usr/bin/env python3
"""Compare finished runs side by side: one row per run, each test set's scores as WB / NB.

Reads each run's ``results.json`` (stage 9; trained routes only) and its training time (the
ESPnet reporter's epochs in ``checkpoint.pth``), and writes a Markdown table per metric pair:
transcription (WER, CER) and translation (BLEU, chrF, end to end and, where stage 9 scored it,
the cascade). For a recipe's levers, or any other set of runs of one corpus.

Usage:
    python local/compare_runs.py --run "default=exp/s2t_dec_smoe" --run "SpecAugment x2=exp/lever_specaug" \
        --test_sets test test_ood --out exp/levers.md
"""

import argparse
import json
import statistics
from pathlib import Path

import torch

from espnet_smoe.audio.bandwidth import BANDWIDTHS
from espnet_smoe.text.multitask import ASR, CASCADE


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, help="name=exp dir; repeat")
    parser.add_argument("--test_sets", nargs="+", required=True, help="sets as named before stage 2")
    parser.add_argument("--out", type=Path, help="also write the tables here")
    return parser.parse_args()


def epochs(exp: Path) -> list:
    """Per-epoch training + validation seconds, from the reporter's state."""
    stats = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"]
    return [sum(e[mode]["time"].total_seconds() for mode in ("train", "valid")) for e in stats.values()]


def cell(rows, test_set: str, task: str, metric: str) -> str:
    """``wb / nb`` of ``metric`` over the set's bandwidth copies (``<set>_wb``, ``<set>_nb``,
    or the rows of ``<set>_native``)."""
    values = {}
    for r in rows:
        if r["routes"] == "trained" and r["task"] == task and metric in r and (
                r["test_set"].rsplit("_", 1)[0] == test_set):
            values[r["bandwidth"]] = r[metric]
    return " / ".join(f"{values[bw]:.2f}" for bw in BANDWIDTHS if bw in values) or "–"


def table(title: str, runs, test_sets, columns) -> list:
    """Markdown lines: a row per run, a column per test set x (task, metric, header)."""
    head = [f"{name} {s}" for s in test_sets for _, _, name in columns]
    lines = [f"### {title}", "", "| run | " + " | ".join(head) + " | train min (epochs) |",
             "|---|" + "---:|" * (len(head) + 1)]
    for name, rows, times in runs:
        cells = [cell(rows, s, task, metric) for s in test_sets for task, metric, _ in columns]
        minutes = f"{sum(times) / 60:.1f} ({len(times)})" if times else "–"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {minutes} |")
    return lines + [""]


def tables(runs, test_sets) -> str:
    translations = sorted({r["task"] for _, rows, _ in runs for r in rows if r["task"] != ASR},
                          key=lambda t: (t.startswith(CASCADE), t))  # end to end first
    st = [(t, metric, f"{name} {'cascade' if t.startswith(CASCADE) else 'ST'}")
          for t in translations for metric, name in (("bleu", "BLEU"), ("chrf", "chrF"))]
    lines = table("Transcription (WB / NB)", runs, test_sets, [(ASR, "wer", "WER"), (ASR, "cer", "CER")])
    lines += table("Translation into English (WB / NB)", runs, test_sets, st)
    all_epochs = [t for _, _, times in runs for t in times]
    if all_epochs:
        lines.append("train min: the epochs' training and validation time from ESPnet's reporter "
                     f"(median epoch over all runs {statistics.median(all_epochs) / 60:.1f} min).")
    return "\n".join(lines) + "\n"


def main():
    args = get_args()
    runs = []
    for spec in args.run:
        name, _, exp = spec.partition("=")
        exp = Path(exp)
        rows = json.loads((exp / "results.json").read_text())["results"]
        times = epochs(exp) if (exp / "checkpoint.pth").is_file() else []
        runs.append((name, rows, times))
    report = tables(runs, args.test_sets)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
