#!/usr/bin/env python3
"""Does S-MoE cost what the dense model costs? Measure both, side by side, in one process.

Builds, from ``conf/<scale>/``, the dense ESPnet model (``base.yaml``: stock ``transformer``
encoder and decoder), the S-MoE model with the same active shape (``encdec_smoe.yaml``) and the
learned-gate MoE (``learned_moe.yaml``, for contrast). The S-MoE model starts from the dense
model's weights (every expert a copy of the dense FFN), so both compute the same function and
decode the same hypotheses: any time difference is the routing's. The learned-gate MoE starts
from the same weights too, with a near-uniform gate and experts scaled to match.

Measured on the same synthetic batches (utterances of 3-6 s, bandwidths and tasks mixed):

* ``infer_b1``, ``infer_b32``: encoder forward (front-end included) at batch 1 and 32;
* ``greedy_<task>``, ``beam_<task>``: real-time factor of ESPnet's beam search (greedy: beam 1;
  beam: the decoding config's beam and CTC weight), utterance by utterance, per task;
* ``train_mixed``, ``train_single``: a training step (forward, backward, Adam) on a batch that
  mixes tasks, and on a single-task batch (the paper's scheme; bandwidths mixed in both);
  ``adam_mixed``: Adam's step alone on the mixed batch's gradients (a mixed batch gives every
  expert a gradient, so S-MoE's optimiser updates all its parameters, not the active ones);
* ``act_mem_train``: memory of the activations that step saves for backward (distinct tensor
  storages other than parameters; exact and repeatable on any device), measured on an extra,
  untimed step; with CUDA also ``peak_mem_train``: the allocator's peak above what was
  allocated before the step;
* ``ops_infer_b32``, ``ops_train_mixed``: ATen operators dispatched by one encoder forward at
  batch 32 (routes mixed) and one mixed training step; exact, and on a GPU about one kernel
  launch each, the host-side cost that decides the ratios when kernels are small;
* batched beam search (:mod:`espnet_smoe.decoding.batch_beam_search`) against one-at-a-time decoding;
* ``peer``: against what a user would otherwise run, ESPnet's own S2T ``Speech2Text``
  (``espnet2.bin.s2t_inference``), loaded from a stock-ESPnet ``config.yaml`` (``model: espnet``)
  with the dense model's parameters. On the batched search's utterances, task ``<asr>``, same
  beam, CTC weight and token limit: the RTF ratio one utterance at a time (this project /
  ESPnet), and the speed-up of this project's batched search over ESPnet's loop (one utterance
  per call). ESPnet pads every utterance to OWSM's 30 s window: that costs it the time, and
  changes the encoder output, so the hypotheses differ (on the padded input both decode alike,
  see ``tests/test_benchmark.py``). The dense vocabulary has no timestamp tokens, so ``<na>``
  stands in for the notime symbol ESPnet forces after the task token.

Every time is the median of ``--repeats`` runs (``--infer_repeats`` for the encoder forward,
``--train_repeats`` for training) after ``--warmup``; the models take turns within
each repeat, each timed run right after an untimed run of the same model, and each ratio is the
median of the per-repeat ratios (S-MoE / dense).

Usage:
    python -m espnet_smoe.bin.benchmark                          # mini scale, CPU
    python -m espnet_smoe.bin.benchmark --scale paper --device cuda --json bench.json
"""

import argparse
import json
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import yaml
from torch.utils._python_dispatch import TorchDispatchMode

from espnet_smoe._imports import offline_import, quiet_import
from espnet_smoe.decoding.inference import Speech2Text
from espnet_smoe.nets.route import is_routed
from espnet_smoe.task.build import build_model
from espnet_smoe.text.multitask import lang_token, task_names, task_token

with quiet_import(), offline_import():  # ESPnet's attention notice; g2p_en's nltk download
    from espnet2.bin.s2t_inference import Speech2Text as ESPnetSpeech2Text
    from espnet2.tasks.s2t import S2TTask

CONF = Path(__file__).resolve().parents[2] / "conf"
MODELS = {"dense": "base.yaml", "smoe": "encdec_smoe.yaml", "learned": "learned_moe.yaml"}
TARGETS = {"infer_b1": 1.02, "infer_b32": 1.02, "train_mixed": 1.05}
RATE = 16000
SRC = lang_token("spa")
ASR, ST = map(task_token, task_names(["eng"]))  # <asr>, <st_eng>


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="mini", help="configs from conf/<scale>/")
    parser.add_argument("--config_dir", type=Path, help="instead of conf/<scale>")
    parser.add_argument("--vocab_size", type=int, help="default: 1000 (mini), 40000 (paper)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--infer_repeats", type=int, default=100,
                        help="repeats of the (cheap, noisy) encoder-forward measurements")
    parser.add_argument("--train_repeats", type=int, default=30,
                        help="repeats of the training steps (fewer make the ratios noisy: "
                             "docs/performance.md)")
    parser.add_argument("--train_batch", type=int, default=16)
    parser.add_argument("--decode_utts", type=int, default=4, help="utterances per decoding run")
    parser.add_argument("--beam_size", type=int, default=5)
    parser.add_argument("--ctc_weight", type=float, default=0.3)
    parser.add_argument("--decode_tokens", type=int, default=20,
                        help="maximum output tokens per utterance (maxlenratio < 0)")
    parser.add_argument("--batch_decode", type=int, default=8, help="utterances per batched search")
    parser.add_argument("--skip_learned", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every figure as one JSON object")
    return parser


def config_dir(args) -> Path:
    return args.config_dir or CONF / args.scale


def build_models(args) -> Dict[str, torch.nn.Module]:
    conf = config_dir(args)
    vocab = args.vocab_size or (40000 if args.scale == "paper" else 1000)
    names = [n for n in MODELS if not (n == "learned" and args.skip_learned)]
    models = {}
    for name in names:
        torch.manual_seed(args.seed)
        models[name] = build_model(conf / MODELS[name], None, vocab).to(args.device)
    dense = models["dense"].state_dict()
    models["smoe"].load_state_dict(dense)  # dense FFN weights into every expert: same function
    if "learned" in models:
        upcycle_learned(models["learned"], dense)
    return models


def upcycle_learned(model: torch.nn.Module, dense: Dict[str, torch.Tensor]):
    """Dense weights into every expert, a near-uniform gate (tokens split about evenly), and
    experts scaled by N so that gate probability (about 1/N) times expert output stays dense."""
    missing, unexpected = model.load_state_dict(dense, strict=False)
    if unexpected or any(not k.endswith("gate.weight") for k in missing):
        raise RuntimeError(f"cannot start the learned MoE from the dense model: {missing} {unexpected}")
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "gate") and hasattr(module, "experts"):
                module.gate.weight.normal_(0.0, 1e-3)
                for expert in module.experts:
                    expert.w_2.weight.mul_(len(module.experts))
                    expert.w_2.bias.mul_(len(module.experts))


def espnet_peer(dense: torch.nn.Module, args) -> ESPnetSpeech2Text:
    """ESPnet's S2T ``Speech2Text`` on the dense model, loaded as a user of stock ESPnet would:
    from a full ``config.yaml`` (S2TTask's defaults, ``base.yaml``, ``model: espnet``, no BPE
    model: token ids only) and the dense model's parameters. ESPnet loads them with
    ``strict=False``, hence the check that it runs the very same network."""
    train_args = S2TTask.get_parser().parse_args([])
    vars(train_args).update(yaml.safe_load((config_dir(args) / MODELS["dense"]).read_text()))
    na = "<na>"  # no timestamp tokens: ESPnet's notime symbol, forced after the task token
    with tempfile.TemporaryDirectory() as tmp:
        tokens, config, params = (Path(tmp) / f for f in ("tokens.txt", "config.yaml", "model.pth"))
        tokens.write_text("\n".join(dense.token_list) + "\n")
        vars(train_args).update(
            model="espnet", preprocessor="s2t", token_type="bpe", bpemodel=None, token_list=str(tokens),
            preprocessor_conf=dict(fs=RATE, speech_length=30, notime_symbol=na,
                                   first_time_symbol=na, last_time_symbol=na))
        config.write_text(yaml.safe_dump(vars(train_args)))
        torch.save(dense.state_dict(), params)
        peer = ESPnetSpeech2Text(config, params, device=args.device, beam_size=args.beam_size,
                                 ctc_weight=args.ctc_weight, maxlenratio=-args.decode_tokens)
    loaded, ours = peer.s2t_model.state_dict(), dense.state_dict()
    if loaded.keys() != ours.keys() or not all(torch.equal(loaded[k], v) for k, v in ours.items()):
        raise RuntimeError("ESPnet's S2TTask did not load the dense model's parameters as they are")
    return peer


class Inputs:
    """Deterministic synthetic utterances: noise waveforms, random targets, mixed routes."""

    def __init__(self, token_list: List[str], device: str, seed: int):
        self.gen = torch.Generator().manual_seed(seed)
        self.device = device
        self.ids = {t: token_list.index(t) for t in (SRC, ASR, ST, "<na>")}
        self.pieces = len(token_list)
        self.first_piece = max(self.ids.values()) + 1

    def speech(self, n: int):
        lens = torch.randint(3 * RATE, 6 * RATE, (n,), generator=self.gen)
        wav = torch.randn(n, int(lens.max()), generator=self.gen) * 0.1
        wav *= torch.arange(wav.size(1))[None] < lens[:, None]
        return wav.to(self.device), lens.to(self.device)

    def routes(self, n: int) -> torch.Tensor:
        return (torch.arange(n) % 2).to(self.device)  # WB, NB, WB, ...

    def train_batch(self, n: int, mixed_tasks: bool) -> Dict[str, torch.Tensor]:
        speech, lens = self.speech(n)
        text = torch.randint(self.first_piece, self.pieces, (n, 24), generator=self.gen)
        tasks = [self.ids[ASR], self.ids[ST]] if mixed_tasks else [self.ids[ASR]]
        text[:, 0] = self.ids[SRC]
        text[:, 1] = torch.tensor(tasks).repeat(n)[:n]
        dev = self.device
        return dict(speech=speech, speech_lengths=lens, text=text.to(dev),
                    text_lengths=torch.full((n,), 24, device=dev),
                    text_prev=torch.full((n, 1), self.ids["<na>"], device=dev),
                    text_prev_lengths=torch.ones(n, dtype=torch.long, device=dev),
                    text_ctc=text[:, 2:].to(dev), text_ctc_lengths=torch.full((n,), 22, device=dev),
                    bandwidth=self.routes(n)[:, None])


def sync(device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(
    fns: Dict[str, Callable[[], float]], args, repeats: Optional[int] = None
) -> Dict[str, List[float]]:
    """Run the functions in turn, ``warmup + repeats`` times; each returns its seconds.

    Each timed run comes right after an untimed run of the same function: a run is faster
    after its own model than after another (caches, allocator; docs/performance.md), so
    without this the order of the turns would bias the ratios.
    """
    times = {name: [] for name in fns}
    for r in range(args.warmup + (repeats or args.repeats)):
        for name, fn in fns.items():
            fn()  # a warm-up round, or the untimed run before the timed one
            if r >= args.warmup:
                times[name].append(fn())
    return times


def compare(fns: Dict[str, Callable[[], float]], args, repeats: Optional[int] = None) -> Dict[str, Dict]:
    """Each model's median time and, pair by pair, its median ratio to the dense model's."""
    times = interleaved(fns, args, repeats)
    out = {name: {"median_s": statistics.median(ts), "runs_s": ts} for name, ts in times.items()}
    for name in fns:
        if name != "dense":
            ratios = [t / d for t, d in zip(times[name], times["dense"])]
            out[name]["ratio"] = statistics.median(ratios)
    return out


def timed(fn: Callable[[], object], device: str) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def encoder_forward(s2t: Speech2Text, speech, lens, routes):
    route = routes if is_routed(s2t.model.encoder) else None
    return s2t.encode(speech, lens, route)


def decode_rtf(s2t: Speech2Text, utts, routes, prefix, device) -> float:
    """Seconds of ESPnet beam search (encoder included) per second of audio."""
    speech, lens = utts
    route_ok = is_routed(s2t.model.encoder)
    seconds = sum(
        timed(lambda: s2t.decode(speech[i, : lens[i]], routes[i : i + 1] if route_ok else None, prefix), device)
        for i in range(speech.size(0))
    )
    return seconds / (float(lens.sum()) / RATE)


def train_step(model, opt, batch, device, peaks: List[float]) -> float:
    if device.startswith("cuda"):
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    t = timed(lambda: _step(model, opt, batch), device)
    if device.startswith("cuda"):
        peaks.append((torch.cuda.max_memory_allocated() - before) / 2**20)
    return t


def _step(model, opt, batch):
    loss = model(**batch)[0]
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def saved_activations_mb(model, opt, batch) -> float:
    """MB of the distinct non-parameter storages autograd saves during one training step."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _step(model, opt, batch)
    return sum(saved.values()) / 2**20


class _OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def dispatched_ops(fn: Callable[[], object]) -> int:
    """ATen operators ``fn`` dispatches (views and host-side ops included)."""
    with _OpCounter() as counter:
        fn()
    return counter.ops


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    model_line = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    return f"{model_line.group(1) if model_line else cpu}, {torch.get_num_threads()} threads"


def run(args) -> Dict:
    torch.manual_seed(args.seed)
    models = build_models(args)
    peer = espnet_peer(models["dense"], args)  # before training changes the dense model
    token_list = models["dense"].token_list
    inputs = Inputs(token_list, args.device, args.seed)
    s2ts = {n: Speech2Text(model=m, device=args.device, beam_size=args.beam_size,
                           ctc_weight=args.ctc_weight, maxlenratio=-args.decode_tokens)
            for n, m in models.items()}
    greedy = {n: Speech2Text(model=m, device=args.device, beam_size=1,
                             maxlenratio=-args.decode_tokens) for n, m in models.items()}
    results = {}
    with torch.no_grad():
        for b in (1, 32):
            speech, lens = inputs.speech(b)
            routes = inputs.routes(b)
            results[f"infer_b{b}"] = compare(
                {n: (lambda s=s: timed(lambda: encoder_forward(s, speech, lens, routes), args.device))
                 for n, s in s2ts.items()}, args, repeats=args.infer_repeats)
        results["ops_infer_b32"] = _with_ratios(
            {n: dispatched_ops(lambda: encoder_forward(s, speech, lens, routes)) for n, s in s2ts.items()},
            "ops")
        utts = inputs.speech(args.decode_utts)
        routes = inputs.routes(args.decode_utts)
        for task in (ASR, ST):
            prefix = s2ts["dense"].prefix(SRC, task)
            for kind, searchers in (("greedy", greedy), ("beam", s2ts)):
                results[f"{kind}_{task.strip('<>')}"] = compare(
                    {n: (lambda s=s: decode_rtf(s, utts, routes, prefix, args.device))
                     for n, s in searchers.items()}, args)
        batch_utts = inputs.speech(args.batch_decode)
        results["batched_beam"] = batched_speedup(s2ts, batch_utts, inputs.routes(args.batch_decode), args)
        results["peer"] = peer_comparison(s2ts["dense"], peer, batch_utts, args)
    for kind, mixed in (("train_mixed", True), ("train_single", False)):
        batch = inputs.train_batch(args.train_batch, mixed)
        fns, peaks, opts = {}, {n: [] for n in models}, {}
        for n, m in models.items():
            m.train()
            opts[n] = torch.optim.Adam(m.parameters(), lr=1e-4)
            fns[n] = (lambda m=m, n=n: train_step(m, opts[n], batch, args.device, peaks[n]))
        results[kind] = compare(fns, args, repeats=args.train_repeats)
        if mixed:
            for n, m in models.items():
                m(**batch)[0].backward()  # left in place: every timed step does the same work
            results["adam_mixed"] = compare(
                {n: (lambda o=o: timed(o.step, args.device)) for n, o in opts.items()},
                args, repeats=args.train_repeats)
            for o in opts.values():
                o.zero_grad(set_to_none=True)
            results["act_mem_train"] = _with_ratios(
                {n: saved_activations_mb(m, opts[n], batch) for n, m in models.items()}, "mb")
            results["ops_train_mixed"] = _with_ratios(
                {n: dispatched_ops(lambda: _step(m, opts[n], batch)) for n, m in models.items()}, "ops")
            if args.device.startswith("cuda"):
                results["peak_mem_train"] = _with_ratios(
                    {n: statistics.median(v[args.warmup:]) for n, v in peaks.items()}, "mb")
    return results


def _with_ratios(values: Dict[str, float], unit: str) -> Dict[str, Dict]:
    dense = values["dense"]
    return {n: {unit: v, **({"ratio": v / dense} if n != "dense" and dense else {})}
            for n, v in values.items()}


def batched_speedup(s2ts: Dict[str, Speech2Text], utts, routes, args) -> Dict:
    """One batched search over ``--batch_decode`` utterances (tasks and bandwidths mixed)
    against ESPnet's search one utterance at a time, for each model."""
    n = args.batch_decode
    speech, lens = utts
    tasks = [ASR, ST]
    out = {}
    for name, s2t in s2ts.items():
        route = routes if is_routed(s2t.model.encoder) else None
        prefixes = [s2t.prefix(SRC, tasks[i % 2]) for i in range(n)]

        def one_by_one():
            for i in range(n):
                s2t.decode(speech[i, : lens[i]], None if route is None else route[i : i + 1], prefixes[i])

        times = interleaved(
            {"one_by_one": lambda: timed(one_by_one, args.device),
             "batched": lambda: timed(lambda: s2t.decode_batch(speech, lens, route, prefixes), args.device)},
            args)
        audio = float(lens.sum()) / RATE
        out[name] = {"rtf_one_by_one": statistics.median(times["one_by_one"]) / audio,
                     "rtf_batched": statistics.median(times["batched"]) / audio,
                     "speedup": statistics.median(a / b for a, b in zip(times["one_by_one"], times["batched"]))}
    return out


def peer_comparison(s2t: Speech2Text, peer: ESPnetSpeech2Text, utts, args) -> Dict:
    """The same utterances, task ``<asr>``, decoded by ESPnet's ``Speech2Text`` one per call
    and by this project's, one per call and in one batched search."""
    speech, lens = utts
    rows = [speech[i, : lens[i]] for i in range(speech.size(0))]
    lang, task = SRC, ASR
    prefixes = [s2t.prefix(lang, task)] * len(rows)
    times = interleaved(
        {"espnet": lambda: timed(lambda: [peer(row, lang_sym=lang, task_sym=task) for row in rows],
                                 args.device),
         "one_by_one": lambda: timed(lambda: [s2t(row, lang, task) for row in rows], args.device),
         "batched": lambda: timed(lambda: s2t.decode_batch(speech, lens, None, prefixes), args.device)},
        args)
    audio = float(lens.sum()) / RATE

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    return {**{f"rtf_{k}": statistics.median(ts) / audio for k, ts in times.items()},
            "rtf_ratio": ratio("one_by_one", "espnet"), "batched_speedup": ratio("espnet", "batched")}


def report(results: Dict, args, where: str) -> str:
    counts = {k: u for k, r in results.items() for u in ("mb", "ops") if u in r.get("dense", {})}
    rows = [k for k in results if k not in ("batched_beam", "peer") and k not in counts]
    learned = "learned" in results[rows[0]]
    lines = [f"S-MoE vs dense ({args.scale}, {where}; median of {args.repeats} runs, "
             f"{args.infer_repeats} for infer_*, {args.train_repeats} for training, "
             f"after {args.warmup} warm-up)",
             "", f"{'measurement':<16}{'dense':>12}{'S-MoE':>12}{'ratio':>8}{'target':>8}"
             + (f"{'learned':>12}{'ratio':>8}" if learned else "")]
    for k in rows:
        r = results[k]
        unit = "RTF" if k.startswith(("greedy", "beam")) else "s"
        line = (f"{k:<16}{_fmt(r['dense']['median_s'], unit):>12}{_fmt(r['smoe']['median_s'], unit):>12}"
                f"{r['smoe']['ratio']:>8.3f}{TARGETS.get(k, ''):>8}")
        if learned:
            line += f"{_fmt(r['learned']['median_s'], unit):>12}{r['learned']['ratio']:>8.3f}"
        lines.append(line)
    for k, unit in counts.items():
        r = results[k]
        line = f"{k:<16}{_amount(r['dense'][unit], unit):>12}{_amount(r['smoe'][unit], unit):>12}"
        line += f"{r['smoe']['ratio']:>8.3f}{'':>8}"
        if learned:
            line += f"{_amount(r['learned'][unit], unit):>12}{r['learned']['ratio']:>8.3f}"
        lines.append(line)
    lines += ["", f"batched beam search ({args.batch_decode} utterances, tasks mixed) vs one at a time:"]
    for name, b in results["batched_beam"].items():
        lines.append(f"  {name:<8} RTF {b['rtf_one_by_one']:.4f} -> {b['rtf_batched']:.4f}  "
                     f"speed-up x{b['speedup']:.2f}")
    p = results["peer"]
    lines += ["", f"vs ESPnet's S2T Speech2Text (30 s window, one utterance per call; dense model, "
              f"{args.batch_decode} utterances, <spa> <asr>):",
              f"  one at a time  RTF {p['rtf_espnet']:.4f} -> {p['rtf_one_by_one']:.4f}  "
              f"ratio {p['rtf_ratio']:.3f}",
              f"  batched        RTF {p['rtf_espnet']:.4f} -> {p['rtf_batched']:.4f}  "
              f"speed-up x{p['batched_speedup']:.2f}"]
    return "\n".join(lines)


def _amount(value: float, unit: str) -> str:
    return f"{value:.1f}MB" if unit == "mb" else f"{value:d}"


def _fmt(value: float, unit: str) -> str:
    return f"{value:.4f}" if unit == "RTF" else f"{value * 1000:.1f}ms"


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device available")
    where = f"{args.device}: {machine(args.device)}, torch {torch.__version__}"
    results = run(args)
    print(report(results, args, where))
    if args.json:
        ratios = {k: v["smoe"]["ratio"] for k, v in results.items() if "smoe" in v and "ratio" in v["smoe"]}
        learned = {k: v["learned"]["ratio"] for k, v in results.items() if "learned" in v and "ratio" in v.get("learned", {})}
        summary = {"scale": args.scale, "device": where, "options": {k: str(v) for k, v in vars(args).items()},
                   "ratios": ratios, "learned_ratios": learned, "targets": TARGETS, "results": results}
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
