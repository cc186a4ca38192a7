#!/usr/bin/env python3
"""Count the parameters of the model a training config builds: in total, and active per route.

A route is one (bandwidth, task) pair, e.g. ``nb/transcribe``: the encoder experts its bandwidth
picks and the decoder experts its task token picks. Active counts leave out the CTC head, whose
share is reported on its own (``ctc``, beside ``total``, not among the routes), so they compare
directly with attention-only models such as the paper's; the total includes it.

Usage:
    python -m espnet_smoe.bin.count_params conf/paper/encdec_smoe.yaml --vocab_size 40000
    python -m espnet_smoe.bin.count_params exp/s2t_mini_encdec_smoe/config.yaml --json
"""

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

from espnet_smoe.multitask import is_task_token, special_tokens, target_lang, task_of
from espnet_smoe.tasks import SMoES2TTask
from espnet_smoe.tokenizer import S2T_SPECIALS


SRC_LANG = "spa"  # a synthetic token list's source language (the counts do not depend on it)


def task_name(symbol: str, all_symbols: List[str]) -> str:
    """``<asr>`` -> transcribe, ``<st_eng>`` -> translate (translate_eng if several targets)."""
    target = target_lang(task_of(symbol))
    if target is None:
        return "transcribe"
    several = sum(target_lang(task_of(s)) is not None for s in all_symbols) > 1
    return f"translate_{target}" if several else "translate"


def synthetic_token_list(config: dict, vocab_size: int, tgt_langs: List[str]) -> List[str]:
    """Specials, the tasks' and the decoder's guiding tokens, then filler pieces up to
    ``vocab_size``."""
    routes = (config.get("decoder_conf") or {}).get("route_tokens") or {}
    routes = routes if isinstance(routes, dict) else {}  # a scheme routes the tokens below
    specials = list(dict.fromkeys([*S2T_SPECIALS, *special_tokens(SRC_LANG, tgt_langs), *routes]))
    if vocab_size < len(specials):
        raise ValueError(f"--vocab_size {vocab_size} is smaller than the {len(specials)} specials")
    return specials + [f"piece{i}" for i in range(vocab_size - len(specials))]


def build_model(config_path: Path, token_list: Optional[str], vocab_size: Optional[int],
                tgt_langs: Sequence[str] = ("eng",)):
    """The model of a training config (task defaults + YAML) or of an exp's full config.yaml."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    args = SMoES2TTask.get_parser().parse_args([])
    vars(args).update(config)
    with tempfile.TemporaryDirectory() as tmp:
        if token_list is None and vocab_size is not None:
            token_list = str(Path(tmp) / "tokens.txt")
            tokens = synthetic_token_list(config, vocab_size, list(tgt_langs))
            Path(token_list).write_text("\n".join(tokens))
        if token_list is not None:
            args.token_list = token_list
        elif not config.get("token_list"):
            raise SystemExit(f"{config_path} has no token_list: pass --token_list or --vocab_size")
        stats = (args.normalize_conf or {}).get("stats_file")
        if args.normalize == "global_mvn" and not (stats and Path(stats).is_file()):
            args.normalize = None  # no parameters; its stats file lives in the recipe's exp/
        return SMoES2TTask.build_model(args)


def count(model) -> Dict:
    """{"total": n, "ctc": n, "active": {route: n, ...}} for an (S-MoE) S2T model.

    The CTC head sits beside the routes, so that ``active`` holds routes only.
    """
    total = sum(p.numel() for p in model.parameters())
    ctc = sum(p.numel() for p in model.ctc.parameters()) if model.ctc is not None else 0
    bandwidths = model.bandwidth_labels
    route_tokens = getattr(model.decoder, "route_tokens", None) or {  # dense: every task alike
        t: 0 for t in model.token_list if is_task_token(t)}
    active = {}
    for (enc_expert, bw), (symbol, dec_expert) in itertools.product(
        enumerate(bandwidths), route_tokens.items()
    ):
        inactive = sum(
            m.inactive_parameters(enc_expert if name.startswith("encoder.") else dec_expert)
            for name, m in model.named_modules()
            if hasattr(m, "inactive_parameters")
        )
        active[f"{bw}/{task_name(symbol, list(route_tokens))}"] = total - ctc - inactive
    return {"total": total, "ctc": ctc, "active": active}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="training config (YAML) or an exp's config.yaml")
    parser.add_argument("--token_list", help="token list file (else the config's)")
    parser.add_argument("--vocab_size", type=int, help="count with a synthetic list of this size")
    parser.add_argument("--tgt_langs", nargs="+", default=["eng"],
                        help="translation targets of the synthetic list (per_task: one expert each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    model = build_model(args.config, args.token_list, args.vocab_size, args.tgt_langs)
    counts = count(model)
    if args.json:
        print(json.dumps(counts))
        return
    ctc = counts["ctc"]
    print(f"{args.config} (vocabulary {len(model.token_list)})")
    rows = [("total", counts["total"]), ("total without CTC head", counts["total"] - ctc)]
    rows += [(f"active {route}", n) for route, n in counts["active"].items()]
    rows += [("CTC head", ctc)]
    for label, n in rows:
        print(f"  {label:<28}{n:>14,}  {n / 1e6:8.2f}M")


if __name__ == "__main__":
    main(sys.argv[1:])
