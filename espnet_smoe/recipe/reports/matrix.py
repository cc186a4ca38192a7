"""The experiment matrix's report: one table per question, as in the paper, plus a plot.

Reads, for every variant and seed, ``exp/matrix/<variant>_seed<seed>/`` (``results.json`` of
stage 9, ``checkpoint.pth`` for the training time, ``config.yaml``, ``expert_usage.json`` for
learned gates) and writes ``exp/matrix/RESULTS.md``, ``results.json`` and ``matrix.png``:

A variant is reported over those of the seeds it has runs for (DecFFNx2 may have seed 1 only
where Base has 1-3); the seeds missing are named on stderr and each table row says its seeds.

1. WER and BLEU per bandwidth (mean over seeds, ± standard deviation with several seeds), the
   relative change against ``base`` (WER: relative reduction, BLEU: relative gain, both in %,
   positive = better), total and active parameters, decoding real-time factor, training time;
   then CER and chrF the same way, the finer measures for models far from converged.
2. Significance against ``base``: each difference with its paired-bootstrap p-value over the
   test utterances, the seeds both have pooled (:mod:`espnet_smoe.recipe.evaluation.significance`); then
   each seed's difference on its own and a t-test of those against 0: whether it holds from
   training to training, not only on this test set.
3. The routing ablation: the same scores with an S-MoE stack sent to the wrong expert (and the
   other decode conditions: label noise, detection).
4. The learned gates' expert usage: do they find the bandwidth / task split by themselves?
"""

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from scipy.stats import ttest_1samp

from espnet_smoe.recipe.evaluation.conditions import TRAINED, DecodeCondition
from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.recipe.reports.compare_runs import epochs
from espnet_smoe.recipe.evaluation.results import Results, ScoreRow
from espnet_smoe.recipe.evaluation.scoring import UNITS
from espnet_smoe.recipe.evaluation.significance import paired_corpus_metric, paired_error_rate
from espnet_smoe.task.build import build_model, count
from espnet_smoe.text.multitask import ASR, CASCADE, reference_file

PAPER = [("wer", "nb"), ("wer", "wb"), ("bleu", "nb"), ("bleu", "wb")]  # the paper's tables
FINER = [("cer", "nb"), ("cer", "wb"), ("chrf", "nb"), ("chrf", "wb")]
METRICS = PAPER + FINER
LOWER_IS_BETTER = ("wer", "cer")
NAMES = {"base": "Base (hard sharing)", "dec_ffnx2": "DecFFNx2", "dec_smoe": "DecS-MoE",
         "dec_smoe_kind": "DecS-MoE per task kind", "encdec_smoe": "EncDecS-MoE",
         "learned_moe": "Learned-gate MoE", "encdec_smoe_upper": "EncDecS-MoE, upper encoder",
         "encdec_smoe_lower": "EncDecS-MoE, lower encoder",
         "encdec_smoe_shared": "EncDecS-MoE, shared + routed units",
         "encdec_smoe_upcycled": "EncDecS-MoE, upcycled from Base",
         "encdec_smoe_both": "EncDecS-MoE, training audio in both bandwidths",
         "encdec_smoe_trainflip0.1": "EncDecS-MoE, 10 % of training labels flipped",
         "base_restart": "Base, restarted from its epoch 2 (upcycling's control)"}


@dataclass(frozen=True)
class SeedRun:
    """One seed's run of a variant: its exp dir, its results rows and decode dir, and its
    training time."""

    seed: str
    dir: Path
    rows: Tuple[ScoreRow, ...]
    decode_dir: Path
    train_seconds: float


def scores(rows: Sequence[ScoreRow], condition: DecodeCondition) -> Dict[str, float]:
    """``wer_nb``, ``bleu_wb``, ...: mean over the test sets of that bandwidth and metric (the
    model's own tasks: cascade rows are not the variant's translations)."""
    out = {}
    for metric, bw in METRICS:
        values = [r.scores.get(metric) for r in rows if r.condition == condition and r.bandwidth == bw
                  and r.scores.get(metric) is not None and not r.task.startswith(CASCADE)]
        if values:
            out[f"{metric}_{bw}"] = statistics.mean(values)
    return out


def mean_std(values: List[float]) -> Dict[str, Optional[float]]:
    return {"mean": round(statistics.mean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else None}


def train_seconds(run: Path) -> float:
    """Training time: the median epoch's (training + validation) times the number of epochs,
    from the ESPnet reporter's state in ``checkpoint.pth``. It survives resumed trainings, and
    the median keeps a few epochs slowed by other load on the machine out of the comparison."""
    times = epochs(run)
    return statistics.median(times) * len(times)


def seeds_run(exp: Path, variant: str, seeds: List[str]) -> List[str]:
    """Those of ``seeds`` the variant has scored runs for; the others named on stderr, and none
    at all an error."""
    done = [seed for seed in seeds if (exp / f"{variant}_seed{seed}/results.json").is_file()]
    missing = [seed for seed in seeds if seed not in done]
    if not done:
        raise ValueError(f"{exp}/{variant}_seed{{{','.join(seeds)}}}/results.json are missing: run the "
                 f"matrix's stages 7-9 for {variant}")
    if missing:
        print(f"{variant}: no scored run for seed(s) {' '.join(missing)} ({exp}/{variant}_seed<s>/"
              f"results.json); reported over seed(s) {' '.join(done)}", file=sys.stderr)
    return done


def load_runs(exp: Path, variant: str, seeds: List[str]) -> List[SeedRun]:
    """The variant's scored runs among ``seeds``."""
    runs = []
    for seed in seeds_run(exp, variant, seeds):
        run = exp / f"{variant}_seed{seed}"
        results = Results.read(run / "results.json")
        runs.append(SeedRun(seed, run, results.rows, Path(results.decode_dir), train_seconds(run)))
    return runs


def collect(runs: List[SeedRun]) -> Dict:
    """A variant's entry of the report's results.json: scores per seed and over seeds, cost,
    routing conditions, expert usage and parameters."""
    per_seed = [scores(r.rows, TRAINED) for r in runs]
    result = {"seeds": [r.seed for r in runs],
              "per_seed": [{"seed": r.seed, "train_seconds": round(r.train_seconds, 1), **s}
                           for r, s in zip(runs, per_seed)],
              "scores": {k: mean_std([s[k] for s in per_seed]) for k in per_seed[0]}}
    rtfs = [r.rtf for run in runs for r in run.rows if r.condition == TRAINED and r.rtf]
    result["rtf"] = round(statistics.mean(rtfs), 4) if rtfs else None
    result["train_minutes"] = round(statistics.mean(r.train_seconds for r in runs) / 60, 1)
    result["ablation"] = ablation(runs)
    usage = [json.loads((run.dir / "expert_usage.json").read_text()) for run in runs
             if (run.dir / "expert_usage.json").is_file()]
    if usage:
        result["expert_usage"] = usage[0] | {"seed": runs[0].seed}
    counts = count(build_model(runs[0].dir / "config.yaml", None, None))
    active = list(counts["active"].values())
    result["params"] = {"total": counts["total"], "ctc": counts["ctc"],
                        "active_min": min(active), "active_max": max(active)}
    return result


def ablation(runs: Sequence[SeedRun]) -> Dict[str, Dict]:
    """Per decode condition other than ``trained`` (``swap_<stack>``, ``flip<p>``, ``auto``), by
    its label: the seeds decoded with it, its scores over those seeds and the trained routes' over
    the same seeds (a condition decoded for seed 1 only is compared with seed 1's trained model)."""
    out = {}
    for condition in sorted({r.condition for run in runs for r in run.rows} - {TRAINED}, key=lambda c: c.label):
        have = [run for run in runs if any(r.condition == condition for r in run.rows)]
        per_seed = {c: [scores(run.rows, c) for run in have] for c in (condition, TRAINED)}
        out[condition.label] = {"seeds": [run.seed for run in have]} | {
            key: {k: mean_std([s[k] for s in values]) for k in values[0]}
            for key, values in (("scores", per_seed[condition]), ("trained", per_seed[TRAINED]))}
    return out


def pooled(runs: Sequence[SeedRun], dump: Path, metric: str, bw: str):
    """References, hypotheses and utterance names (``<test set>/<utt>``, the bootstrap's unit)
    of every test set in bandwidth ``bw`` for ``metric``'s task, every seed's concatenated in seed
    order."""
    refs, hyps, names = [], [], []
    for run in runs:
        for row in run.rows:
            task = row.task
            if (row.condition != TRAINED or row.bandwidth != bw or task.startswith(CASCADE)
                    or (task == ASR) != (metric in UNITS)):
                continue
            ref = read_table(dump / row.test_set / reference_file(task))
            hyp = read_table(run.decode_dir / row.test_set / task / "1best_recog" / "text_nospecial")
            labels = read_table(dump / row.test_set / "utt2bw")
            keys = sorted(k for k in ref if labels[k] == bw)
            refs += [ref[k] for k in keys]
            hyps += [hyp[k] for k in keys]
            names += [f"{row.test_set}/{k}" for k in keys]
    return refs, hyps, names


def significance(results: Dict, runs: Dict[str, List[SeedRun]], baseline: str, dump: Path):
    """Each variant's difference from the baseline and its p-value, per metric and bandwidth,
    over the seeds both were run with (seed s paired with seed s)."""
    for variant, res in results.items():
        if variant == baseline:
            continue
        common = [s for s in res["seeds"] if s in results[baseline]["seeds"]]
        if not common:
            print(f"{variant}: no seed in common with {baseline}: no significance test", file=sys.stderr)
            continue
        base_runs = [r for r in runs[baseline] if r.seed in common]
        variant_runs = [r for r in runs[variant] if r.seed in common]
        res["significance"], res["paired_seeds"] = {}, common
        for metric, bw in METRICS:
            refs, base, names = pooled(base_runs, dump, metric, bw)
            _, hyps, variant_names = pooled(variant_runs, dump, metric, bw)
            if not refs:
                continue
            if variant_names != names:
                raise ValueError(f"{variant} and {baseline} were scored on different {bw} utterances for "
                         f"{metric} (seeds {' '.join(common)}): rescore both on the same test sets")
            res["significance"][f"{metric}_{bw}"] = (
                paired_error_rate(refs, base, hyps, UNITS[metric], groups=names) if metric in UNITS
                else paired_corpus_metric(refs, base, hyps, metric, groups=names))


def seed_deltas(results: Dict, baseline: str) -> Dict[str, List[Dict]]:
    """Per variant, each seed's difference variant − baseline (same seed) in the paper's scores."""
    base = {s["seed"]: s for s in results[baseline]["per_seed"]}
    return {variant: [{"seed": s["seed"], **{k: round(s[k] - base[s["seed"]][k], 2)
                                             for k in keys_of(PAPER) if k in s and k in base[s["seed"]]}}
                      for s in res["per_seed"] if s["seed"] in base]
            for variant, res in results.items() if variant != baseline}


def over_seeds(deltas: List[Dict]) -> Dict[str, Dict[str, Optional[float]]]:
    """Per score, the mean of the per-seed differences and the two-sided p-value of a one-sample
    t-test of them against 0 (None with fewer than 2 seeds, or differences all equal): does the
    difference hold across trainings, not only on this test set?"""
    out = {}
    for key in keys_of(PAPER):
        values = [d[key] for d in deltas if key in d]
        if not values:
            continue
        p = None
        if len(values) > 1 and len(set(values)) > 1:
            p = round(float(ttest_1samp(values, 0.0).pvalue), 3)
        out[key] = {"mean": round(statistics.mean(values), 2), "p_value": p}
    return out


def mean_cell(stat: Optional[Dict]) -> str:
    if stat is None:
        return "—"
    return f"{stat['mean']:+.2f} (" + ("—" if stat["p_value"] is None else f"{stat['p_value']:.3f}") + ")"


def relative(results: Dict, baseline: str):
    """Relative change against the baseline in %, positive = better (WER, CER down; BLEU, chrF
    up); None where the baseline scores 0 (no relative change is defined)."""
    base = results[baseline]["scores"]
    for res in results.values():
        res["relative_to_base"] = {}
        for key, value in res["scores"].items():
            b = base[key]["mean"]
            sign = -1 if key.startswith(LOWER_IS_BETTER) else 1
            res["relative_to_base"][key] = round(sign * 100 * (value["mean"] - b) / b, 2) if b else None


def fmt(score: Dict) -> str:
    return f"{score['mean']:.2f}" + (f" ± {score['std']:.2f}" if score.get("std") is not None else "")


def keys_of(metrics) -> List[str]:
    return [f"{m}_{bw}" for m, bw in metrics]


def has_finer(results: Dict) -> bool:
    """CER and chrF exist for every variant (results.json of stage 9 before they were scored
    lack them; the report then shows the paper's metrics only)."""
    return all(k in res["scores"] for res in results.values() for k in keys_of(FINER))


def heading(metrics) -> List[str]:
    return [f"{m.upper() if m != 'chrf' else 'chrF'} {bw.upper()}" for m, bw in metrics]


def score_rows(results: Dict, metrics, baseline: str) -> List[str]:
    """One table row per variant: the scores, then their relative change against the baseline."""
    keys = keys_of(metrics)
    rows = []
    for v, res in results.items():
        rel = [res["relative_to_base"].get(k) for k in keys]
        rows.append(f"| {NAMES.get(v, v)} | " + " | ".join(fmt(res["scores"][k]) for k in keys) + " | "
                    + " | ".join("—" if v == baseline or r is None else f"{r:+.2f}" for r in rel) + " |")
    return rows


def markdown(results: Dict, deltas: Dict[str, Dict], conf: Path, seeds: List[str], baseline: str) -> str:
    keys = keys_of(PAPER)
    heads = heading(PAPER)
    lines = [f"# Experiment matrix ({conf}, seeds {' '.join(seeds)})", "",
             "## 1. Scores, parameters and cost", "",
             "| variant | " + " | ".join(heads) + " | " + " | ".join(f"Δ{h} %" for h in heads)
             + " | params total | active (w/o CTC) | decode RTF | train min | seeds |",
             "|---|" + "---:|" * 13]
    for row, (v, res) in zip(score_rows(results, PAPER, baseline), results.items()):
        p = res["params"]
        active = f"{(p['active_min']) / 1e6:.2f}M" + (
            "" if p["active_min"] == p["active_max"] else f"–{p['active_max'] / 1e6:.2f}M")
        lines.append(row + f" {p['total'] / 1e6:.2f}M | {active} | {res['rtf'] or '—'} "
                     f"| {res['train_minutes']} | {', '.join(res['seeds'])} |")
    lines += ["", "WER in %, lower is better; BLEU higher is better. Δ: relative change against "
              f"{NAMES.get(baseline, baseline)}, positive = better (WER: relative reduction, "
              "BLEU: relative gain). Active parameters: one utterance's, without the CTC head "
              "(learned gates: one token's). RTF: decoding seconds per audio second, one CPU thread "
              "per decoding job. Train min: the median epoch's training and validation time (ESPnet's "
              "reporter) times the epochs, all variants on the same machine.", ""]
    if has_finer(results):
        keys, heads = keys + keys_of(FINER), heads + heading(FINER)  # the ablation shows them too
        lines += ["| variant | " + " | ".join(heading(FINER)) + " | "
                  + " | ".join(f"Δ{h} %" for h in heading(FINER)) + " |",
                  "|---|" + "---:|" * 8, *score_rows(results, FINER, baseline),
                  "", "CER: character error rate in %, lower is better; chrF: sacrebleu's character "
                  "n-gram F-score, higher is better. Δ as above.", ""]
    tested = {v: r for v, r in results.items() if r.get("significance")}
    if tested:
        sig_keys = [k for k in keys if any(k in r["significance"] for r in tested.values())]
        lines += [f"## 2. Against {NAMES.get(baseline, baseline)}: difference (p-value)", "",
                  "| variant | " + " | ".join(f"Δ{h}" for h, k in zip(heads, keys) if k in sig_keys)
                  + " | seeds |", "|---|" + "---:|" * (len(sig_keys) + 1)]
        for v, res in tested.items():
            cells = [f"{res['significance'][k]['delta']:+.2f} ({res['significance'][k]['p_value']:.3f})"
                     if k in res["significance"] else "—" for k in sig_keys]
            lines.append(f"| {NAMES.get(v, v)} | " + " | ".join(cells) + f" | {', '.join(res['paired_seeds'])} |")
        lines += ["", "Absolute difference variant − baseline over the pooled seeds both were run with "
                  "(seed s against seed s), scored over all test utterances of that bandwidth together (so it "
                  "can differ slightly from the difference of table 1's means over test sets); in brackets the two-sided p-value of a paired bootstrap over "
                  "test utterances, each drawn with all its seeds (1,000 resamples; BLEU and chrF on "
                  "sacrebleu's statistics). p < 0.05: unlikely to be chance in the test set; how much "
                  "training varies from seed to seed is what the per-seed differences below show.", ""]
        lines += ["| variant | seed | " + " | ".join(f"Δ{h}" for h in heading(PAPER)) + " |",
                  "|---|---:|" + "---:|" * len(PAPER)]
        for v, delta in deltas.items():
            per_seed = delta["per_seed"]
            for d in per_seed:
                lines.append(f"| {NAMES.get(v, v)} | {d['seed']} | "
                             + " | ".join(f"{d[k]:+.2f}" if k in d else "—" for k in keys_of(PAPER)) + " |")
            if len(per_seed) > 1:
                mean = delta["over_seeds"]
                lines.append(f"| {NAMES.get(v, v)} | mean (p) | "
                             + " | ".join(mean_cell(mean.get(k)) for k in keys_of(PAPER)) + " |")
        lines += ["", "Each seed's difference variant − baseline (the baseline's run with the same seed); "
                  "mean (p): their mean and the two-sided p-value of a t-test of them against 0, the "
                  "seed-level test (three seeds can only show a large, steady difference).", ""]
    ablated = {v: r for v, r in results.items() if r["ablation"]}
    if ablated:
        lines += ["## 3. Routing ablation (the S-MoE route deliberately wrong), label noise and detection", "",
                  "| variant | routes | " + " | ".join(heads) + " | seeds |",
                  "|---|---|" + "---:|" * (len(heads) + 1)]
        for v, res in ablated.items():
            lines.append(f"| {NAMES.get(v, v)} | as trained | "
                         + " | ".join(fmt(res["scores"][k]) for k in keys) + f" | {', '.join(res['seeds'])} |")
            for swap, ab in res["ablation"].items():
                sc, trained = ab["scores"], ab["trained"]
                cells = [f"{fmt(sc[k])} ({sc[k]['mean'] - trained[k]['mean']:+.2f})" for k in keys]
                lines.append(f"| {NAMES.get(v, v)} | {swap.replace('_', ' ')} | " + " | ".join(cells)
                             + f" | {', '.join(ab['seeds'])} |")
        lines += ["", "swap encoder: each utterance through the other bandwidth's encoder experts; "
                  "swap decoder: each task through the other task's decoder experts; flip p: that "
                  "fraction of the bandwidth labels flipped; auto: routed by detected bandwidth. In "
                  "brackets: change against the trained routes of the same seeds.", ""]
    for v, res in results.items():
        usage = res.get("expert_usage")
        if not usage:
            continue
        lines += [f"## 4. Expert usage of the learned gates ({NAMES.get(v, v)}, seed {usage['seed']})",
                  "", "| stack | group | share of tokens per expert (mean over layers) |", "|---|---|---|"]
        for stack in ("encoder", "decoder"):
            for group, layers in usage[stack].items():
                mean = [statistics.mean(col) for col in zip(*layers)]
                lines.append(f"| {stack} | {group} | " + ", ".join(f"e{e} {m:.3f}" for e, m in enumerate(mean)) + " |")
        lines += ["", "| separation (0: same mix, 1: disjoint experts as in S-MoE) | mean over layers |",
                  "|---|---:|"]
        for name, values in usage["separation"].items():
            lines.append(f"| {name} | {statistics.mean(values):.3f} |")
        lines.append("")
    return "\n".join(lines)


def plot(results: Dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(results)
    panels = [("wer", "WER (%) ↓"), ("bleu", "BLEU ↑")]
    if has_finer(results):
        panels += [("cer", "CER (%) ↓"), ("chrf", "chrF ↑")]
    rows = len(panels) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3.8 * rows), squeeze=False)
    width = 0.38
    for ax, (metric, label) in zip(axes.flat, panels):
        for i, bw in enumerate(("nb", "wb")):
            key = f"{metric}_{bw}"
            means = [results[v]["scores"][key]["mean"] for v in variants]
            stds = [results[v]["scores"][key]["std"] or 0 for v in variants]
            xs = [x + (i - 0.5) * width for x in range(len(variants))]
            bars = ax.bar(xs, means, width, yerr=stds, capsize=3, label=bw.upper())
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
        ax.set_xticks(range(len(variants)), [NAMES.get(v, v) for v in variants], rotation=20, fontsize=8)
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def matrix_report(exp: Path, conf: Path, variants: List[str], seeds: List[str], baseline: str = "base",
                  dump: Path = Path("dump/raw"), out: Optional[Path] = None) -> str:
    """The matrix's ``RESULTS.md``, ``results.json`` and ``matrix.png`` into ``out`` (default
    ``exp``) from every variant's runs ``<exp>/<variant>_seed<seed>``; returns RESULTS.md."""
    if baseline not in variants:
        raise ValueError(f"the baseline '{baseline}' is not among the variants {variants}")
    runs = {v: load_runs(exp, v, seeds) for v in variants}
    results = {v: collect(runs[v]) for v in variants}
    relative(results, baseline)
    significance(results, runs, baseline, dump)
    out = out or exp
    out.mkdir(parents=True, exist_ok=True)
    deltas = {v: {"per_seed": d, "over_seeds": over_seeds(d)}
              for v, d in seed_deltas(results, baseline).items()}
    report = markdown(results, deltas, conf, seeds, baseline)
    (out / "RESULTS.md").write_text(report, encoding="utf-8")
    summary = {"conf": str(conf), "seeds": seeds, "baseline": baseline,
               "variants": results, "seed_deltas": deltas}
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    plot(results, out / "matrix.png")
    return report
