#!/usr/bin/env python3
"""Label-noise curves: how an S-MoE model's scores fall as its bandwidth labels go wrong.

Reads stage 9's ``results.json`` of each ``--exp`` (decoded with ``--bw_flips``: rows ``flip<p>``
beside the ``trained`` ones, p = 0) and writes, per model, WER (transcription) and BLEU (every
translation target) against the fraction p of flipped labels, per bandwidth, as a markdown table
(``label_noise.md``) and a plot (``label_noise.png``). Scores are means over the test sets of
that bandwidth (and over targets for BLEU). p = 1 sends every utterance to the other bandwidth's
experts, as the routing ablation ``swap_encoder`` does; flips are drawn per utterance by a hash
(:func:`espnet_smoe.bandwidth.mislabelled`), so those flipped at p are among those flipped at any
larger p.

Usage:
    python local/label_noise.py --exp exp/matrix/encdec_smoe_seed1 --out exp/label_noise
"""

import argparse
import json
import statistics
from pathlib import Path
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from espnet_smoe.bandwidth import BANDWIDTHS  # noqa: E402
from espnet_smoe.multitask import ASR, CASCADE  # noqa: E402

Curve = Dict[float, Dict[str, float]]  # p -> {"wer_nb": ..., "bleu_wb": ...}


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", type=Path, nargs="+", required=True, help="exp dirs (their results.json)")
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


def noise_level(routes: str) -> "float | None":
    """p of a results row's ``routes``: 0 for ``trained``, p for ``flip<p>``, None otherwise."""
    if routes == "trained":
        return 0.0
    return float(routes[len("flip"):]) if routes.startswith("flip") else None


def curve(results: List[dict]) -> Curve:
    """Mean WER and BLEU per bandwidth at each noise level of one model's results rows."""
    values: Dict[Tuple[float, str], List[float]] = {}
    for row in results:
        p = noise_level(row["routes"])
        if p is None or row["task"].startswith(CASCADE):
            continue
        metric = "wer" if row["task"] == ASR else "bleu"
        values.setdefault((p, f"{metric}_{row['bandwidth']}"), []).append(row[metric])
    if not any(p > 0 for p, _ in values):
        raise ValueError("no flip<p> rows: decode with --bw_flips (stage 8) and score them (stage 9)")
    out: Curve = {}
    for (p, key), vals in sorted(values.items()):
        out.setdefault(p, {})[key] = statistics.mean(vals)
    return out


def table(name: str, points: Curve) -> List[str]:
    keys = [f"{m}_{bw}" for m in ("wer", "bleu") for bw in reversed(BANDWIDTHS)]
    lines = [f"### {name}", "", "| flipped labels | " + " | ".join(k.replace("_", " ").upper()
                                                                       for k in keys) + " |",
             "|---:|" + "---:|" * len(keys)]
    for p, scores in points.items():
        lines.append(f"| {p:g} | " + " | ".join(f"{scores[k]:.2f}" if k in scores else "–"
                                                 for k in keys) + " |")
    return lines + [""]


def plot(curves: Dict[str, Curve], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, label in zip(axes, ("wer", "bleu"), ("WER (%) ↓", "BLEU ↑")):
        for name, points in curves.items():
            for bw, style in zip(BANDWIDTHS, ("-o", "--s")):
                ps = [p for p, s in points.items() if f"{metric}_{bw}" in s]
                ax.plot(ps, [points[p][f"{metric}_{bw}"] for p in ps], style,
                        label=f"{name} {bw.upper()}")
        ax.set_xlabel("fraction of bandwidth labels flipped")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    args = get_args()
    curves = {}
    for exp in args.exp:
        results = json.loads((exp / "results.json").read_text(encoding="utf-8"))["results"]
        curves[exp.name] = curve(results)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["# Label noise: scores against the fraction of flipped bandwidth labels", "",
             "Means over the test sets of each bandwidth (BLEU: and over translation targets). "
             "0 = the labels as given; 1 = every utterance through the other bandwidth's experts.",
             ""]
    for name, points in curves.items():
        lines += table(name, points)
    (args.out / "label_noise.md").write_text("\n".join(lines), encoding="utf-8")
    (args.out / "label_noise.json").write_text(json.dumps(curves, indent=2) + "\n", encoding="utf-8")
    plot(curves, args.out / "label_noise.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
