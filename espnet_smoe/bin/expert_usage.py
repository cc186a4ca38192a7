#!/usr/bin/env python3
"""Which expert does a learned gate pick, per test set (bandwidth) and task? Does it find the S-MoE split?

Runs a trained learned-gate MoE (``router: learned``) teacher-forced over test sets: the encoder
on each set's audio, the decoder on each task's reference under its prefix
``<sos> <lang> <task>``. For every layer it counts the top-1 expert of the valid encoder frames
and of the decoder positions from the task token on (the prefix before it is the same for every
task). ``separation`` is the total-variation distance between two groups' expert-use
distributions: 0 when WB and NB (or transcribe and translate) use the experts in the same
proportions, 1 when they use disjoint experts, as S-MoE's fixed rule forces. Utterances too
short for the model (``Speech2Text.min_samples``) are left out, with a warning.

Writes ``<out>/expert_usage.{json,md,png}``.

Usage:
    python -m espnet_smoe.bin.expert_usage --s2t_train_config exp/matrix/learned_moe_seed1/config.yaml \
        --s2t_model_file exp/matrix/learned_moe_seed1/valid.acc.ave.pth \
        --data dump/raw/test_wb --data dump/raw/test_nb --lang_sym spa --tasks asr st_eng \
        --out exp/matrix/learned_moe_seed1
"""

import argparse
import json
import logging
from pathlib import Path
from typing import Dict, List

import kaldiio
import torch
from espnet.nets.pytorch_backend.nets_utils import pad_list
from tqdm import tqdm

from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.decoding.inference import Speech2Text
from espnet_smoe.nets.learned_moe import expert_counts
from espnet_smoe.text.multitask import PREFIX_LENGTH, reference_file



def separation(a: List[float], b: List[float]) -> float:
    """Total-variation distance of two expert-use distributions (0: same mix, 1: disjoint)."""
    return 0.5 * sum(abs(x - y) for x, y in zip(a, b))


def shares(counts: torch.Tensor) -> List[List[float]]:
    """(layers, N) counts -> per-layer shares, rounded."""
    return [[round(float(c), 4) for c in row / row.sum().clamp(min=1)] for row in counts]


def layer_counts(gates, mask: torch.Tensor) -> torch.Tensor:
    return torch.stack([expert_counts(layer.float(), mask) for layer in gates.last_logits])


@torch.no_grad()
def usage(s2t: Speech2Text, data: Path, lang: str, tasks: List[str], batch_size: int) -> Dict:
    """Per-layer expert counts of the encoder (this set) and the decoder (each task)."""
    model, device = s2t.model, s2t.device
    audio = kaldiio.load_scp(str(data / "wav.scp"))
    refs = {t: read_table(data / reference_file(t)) for t in tasks}
    keys = sorted(refs[tasks[0]])
    too_short = [k for k in keys if len(audio[k]) < s2t.min_samples]
    if too_short:  # the decoder would decode them as empty (stage 8 lists them)
        logging.warning(f"{data}: {len(too_short)} utterances too short for the model, left out: "
                        f"{too_short[:5]}")
        keys = [k for k in keys if k not in too_short]
    enc_counts, dec_counts = 0, {t: 0 for t in tasks}
    for start in tqdm(range(0, len(keys), batch_size), desc=data.name):
        batch = keys[start : start + batch_size]
        wavs = [torch.as_tensor(audio[k], dtype=torch.float32) for k in batch]
        lengths = torch.tensor([len(w) for w in wavs])
        enc, enc_lens = s2t.encode(pad_list(wavs, 0.0), lengths, None)
        if model.encoder.gates is not None:
            enc_counts = enc_counts + layer_counts(model.encoder.gates, model.encoder.gates.last_mask)
        if model.decoder.gates is None:
            continue
        for task in tasks:
            prefix = s2t.prefix(f"<{lang}>", f"<{task}>")
            ys = [torch.tensor(prefix + s2t.converter.tokens2ids(
                s2t.tokenizer.text2tokens(refs[task][k]))) for k in batch]
            ys_lens = torch.tensor([len(y) for y in ys], device=device)
            model.decoder(enc, enc_lens, pad_list(ys, model.eos).to(device), ys_lens)
            mask = model.decoder.gates.last_mask.clone()
            mask[:, : PREFIX_LENGTH - 1] = False  # the positions before the task token are task-blind
            dec_counts[task] = dec_counts[task] + layer_counts(model.decoder.gates, mask)
    return {"encoder": enc_counts, "decoder": dec_counts, "utterances": len(keys)}


def summarise(per_set: Dict[str, Dict], tasks: List[str]) -> Dict:
    """Shares per layer and group, and the separation between the groups."""
    out = {"encoder": {}, "decoder": {}, "separation": {}, "utterances": {}}
    for name, u in per_set.items():
        out["utterances"][name] = u["utterances"]
        if torch.is_tensor(u["encoder"]):
            out["encoder"][name] = shares(u["encoder"])
        for task, counts in u["decoder"].items():
            if torch.is_tensor(counts):
                out["decoder"][f"{name}/{task}"] = shares(counts)
    sets = list(per_set)
    if len(sets) == 2 and out["encoder"]:
        a, b = (out["encoder"][s] for s in sets)
        out["separation"][f"encoder {sets[0]} vs {sets[1]}"] = [separation(x, y) for x, y in zip(a, b)]
    if len(tasks) == 2 and out["decoder"]:
        pooled = {t: sum(per_set[s]["decoder"][t] for s in sets) for t in tasks}
        a, b = (shares(pooled[t]) for t in tasks)
        out["separation"][f"decoder {tasks[0]} vs {tasks[1]}"] = [separation(x, y) for x, y in zip(a, b)]
    return out


def markdown(result: Dict) -> str:
    lines = ["# Learned-gate expert usage", "",
             "Share of tokens whose top-1 expert is e, averaged over layers "
             "(per layer in expert_usage.json).", "",
             "| stack | group | " + " | ".join(f"e{e}" for e in range(_num_experts(result))) + " |",
             "|---|---|" + "---:|" * _num_experts(result)]
    for stack in ("encoder", "decoder"):
        for group, layers in result[stack].items():
            mean = [sum(col) / len(col) for col in zip(*layers)]
            lines.append(f"| {stack} | {group} | " + " | ".join(f"{m:.3f}" for m in mean) + " |")
    lines += ["", "| separation (0: same mix, 1: disjoint experts, as S-MoE) | mean | per layer |",
              "|---|---:|---|"]
    for name, values in result["separation"].items():
        lines.append(f"| {name} | {sum(values) / len(values):.3f} | "
                     + ", ".join(f"{v:.2f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def _num_experts(result: Dict) -> int:
    for stack in ("encoder", "decoder"):
        for layers in result[stack].values():
            return len(layers[0])
    return 0


def plot(result: Dict, path: Path):
    """Per layer, the share of expert 0 for every group: split groups diverge, mixed ones agree."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stacks = [s for s in ("encoder", "decoder") if result[s]]
    fig, axes = plt.subplots(1, len(stacks), figsize=(5 * len(stacks), 3.5), squeeze=False)
    for ax, stack in zip(axes[0], stacks):
        for group, layers in result[stack].items():
            ax.plot(range(1, len(layers) + 1), [row[0] for row in layers], marker="o", label=group)
        ax.set(title=f"{stack}: learned gate", xlabel="layer", ylabel="share of tokens to expert 0",
               ylim=(-0.02, 1.02), xticks=range(1, len(layers) + 1))
        ax.axhline(0.5, color="grey", lw=0.5)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--s2t_train_config", required=True)
    parser.add_argument("--s2t_model_file", required=True)
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="dumped test set (wav.scp, text, text.<lang>), one per bandwidth")
    parser.add_argument("--lang_sym", required=True, help="source language, e.g. spa")
    parser.add_argument("--tasks", nargs="+", required=True, help="asr, st_<lang>, ...")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    s2t = Speech2Text(args.s2t_train_config, args.s2t_model_file)
    gated = [m for m in (s2t.model.encoder, s2t.model.decoder) if getattr(m, "gates", None)]
    if not gated:
        raise SystemExit(f"{args.s2t_train_config}: no learned gate (router: learned) to analyse")
    lang = args.lang_sym.strip("<>")
    per_set = {}
    for data in args.data:
        per_set[data.name] = usage(s2t, data, lang, args.tasks, args.batch_size)
    result = summarise(per_set, args.tasks)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "expert_usage.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "expert_usage.md").write_text(markdown(result))
    plot(result, args.out / "expert_usage.png")
    print(markdown(result))


if __name__ == "__main__":
    main()
