"""Label-noise curves: how an S-MoE model's scores fall as its bandwidth labels go wrong.

Reads stage 9's results.json of each run (decoded with ``--bw_flips``: rows ``flip<p>`` beside
the ``trained`` ones, p = 0) and writes, per model, WER (transcription) and BLEU (every
translation target) against the fraction p of flipped labels, per bandwidth, as a markdown table
(``label_noise.md``), JSON (``label_noise.json``) and a plot (``label_noise.png``). Scores are
means over the test sets of that bandwidth (and over targets for BLEU). p = 1 sends every
utterance to the other bandwidth's experts, as the routing ablation ``swap_encoder`` does; flips
are drawn per utterance by a hash (:func:`espnet_smoe.audio.bandwidth.mislabelled`), so those
flipped at p are among those flipped at any larger p. A model also decoded with ``--bw_auto``
(rows ``auto``: routed by detected bandwidth) gets that point too, placed at the fraction of
utterances detection routed against their label: what routing without labels costs, on the same
axis as wrong labels.
"""

import json
import statistics
from pathlib import Path
from typing import Dict, List, Sequence

from espnet_smoe.audio.bandwidth import BANDWIDTHS
from espnet_smoe.recipe.evaluation.results import Results, ScoreRow
from espnet_smoe.text.multitask import ASR, CASCADE

Curve = Dict[float, Dict[str, float]]  # p -> {"wer_nb": ..., "bleu_wb": ...}
Detection = Dict[str, Dict[str, float]]  # bandwidth -> {"mislabelled": ..., "wer_nb": ...}


def means(rows: Sequence[ScoreRow]) -> Dict[str, float]:
    """Mean WER (transcription) and BLEU (translation) per bandwidth over ``rows``, without the
    cascade's (not the model's own translations)."""
    values: Dict[str, List[float]] = {}
    for row in rows:
        if not row.task.startswith(CASCADE):
            metric = "wer" if row.task == ASR else "bleu"
            values.setdefault(f"{metric}_{row.bandwidth}", []).append(row.scores.get(metric))
    return {key: statistics.mean(vals) for key, vals in sorted(values.items())}


def curve(rows: Sequence[ScoreRow]) -> Curve:
    """Mean WER and BLEU per bandwidth at each noise level of one model's results rows."""
    levels = sorted({r.condition.noise_level for r in rows} - {None})
    if not any(p > 0 for p in levels):
        raise ValueError("no flip<p> rows: decode with --bw_flips (stage 8) and score them (stage 9)")
    return {p: means([r for r in rows if r.condition.noise_level == p]) for p in levels}


def detection(rows: Sequence[ScoreRow]) -> Detection:
    """Per bandwidth, the rows routed by detection (``auto``): their mean scores and the fraction
    of the utterances routed against their label (from the transcription rows' ``bw_disagree``);
    empty without ``auto`` rows."""
    auto = [r for r in rows if r.condition.kind == "auto"]
    out = {}
    for bw in BANDWIDTHS:
        asr = [r for r in auto if r.bandwidth == bw and r.task == ASR]
        if not asr:
            continue
        if any(r.bw_disagree is None for r in asr):
            raise ValueError(f"rows 'auto' of {bw} lack bw_disagree: their decode was not compared with "
                             "the data's utt2bw; decode them again (stage 8, --bw_auto true) and rescore")
        wrong = sum(r.bw_disagree for r in asr) / sum(r.utterances for r in asr)
        found = means([r for r in auto if r.bandwidth == bw])
        out[bw] = {"mislabelled": wrong, **{k: v for k, v in found.items() if k.endswith(bw)}}
    return out


def table(name: str, points: Curve, detected: Detection) -> List[str]:
    keys = [f"{m}_{bw}" for m in ("wer", "bleu") for bw in reversed(BANDWIDTHS)]
    lines = [f"### {name}", "", "| flipped labels | " + " | ".join(k.replace("_", " ").upper()
                                                                       for k in keys) + " |",
             "|---:|" + "---:|" * len(keys)]
    for p, found in points.items():
        lines.append(f"| {p:g} | " + " | ".join(f"{found[k]:.2f}" if k in found else "–"
                                                 for k in keys) + " |")
    if detected:
        merged = {k: v for d in detected.values() for k, v in d.items() if k != "mislabelled"}
        rates = ", ".join(f"{bw.upper()} {d['mislabelled']:.3f}" for bw, d in detected.items())
        lines.append(f"| detected ({rates}) | " + " | ".join(
            f"{merged[k]:.2f}" if k in merged else "–" for k in keys) + " |")
    return lines + [""]


def plot(curves: Dict[str, Curve], detected: Dict[str, Detection], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, label in zip(axes, ("wer", "bleu"), ("WER (%) ↓", "BLEU ↑")):
        for name, points in curves.items():
            for bw, style in zip(BANDWIDTHS, ("-o", "--s")):
                ps = [p for p, s in points.items() if f"{metric}_{bw}" in s]
                line, = ax.plot(ps, [points[p][f"{metric}_{bw}"] for p in ps], style,
                                label=f"{name} {bw.upper()}")
                point = detected[name].get(bw, {})
                if f"{metric}_{bw}" in point:
                    ax.plot([point["mislabelled"]], [point[f"{metric}_{bw}"]], "*", ms=13,
                            color=line.get_color(), label=f"{name} {bw.upper()} detected")
        ax.set_xlabel("fraction of bandwidth labels flipped")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def label_noise_report(exps: Sequence[Path], out: Path) -> str:
    """The curves of each run in ``exps`` (named by its directory) into ``out``; returns the
    markdown."""
    curves, detected = {}, {}
    for exp in exps:
        rows = Results.read(exp / "results.json").rows
        curves[exp.name], detected[exp.name] = curve(rows), detection(rows)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Label noise: scores against the fraction of flipped bandwidth labels", "",
             "Means over the test sets of each bandwidth (BLEU: and over translation targets). "
             "0 = the labels as given; 1 = every utterance through the other bandwidth's experts. "
             "detected: routed by each utterance's detected bandwidth instead of its label, in "
             "brackets the fraction routed against the label (the star in the plot).", ""]
    for name, points in curves.items():
        lines += table(name, points, detected[name])
    report = "\n".join(lines)
    (out / "label_noise.md").write_text(report, encoding="utf-8")
    (out / "label_noise.json").write_text(
        json.dumps({name: {"curve": curves[name], "detected": detected[name]} for name in curves},
                   indent=2) + "\n", encoding="utf-8")
    plot(curves, detected, out / "label_noise.png")
    return report
