"""A model from a training config, without data: for counting parameters, model cards and
benchmarks.

A training config names no token list of its own (the recipe makes one), so a synthetic list
of the right size stands in: the specials, the guiding tokens and filler pieces. Counting is by
route: a route is one (bandwidth, task) pair, e.g. ``nb/transcribe``; its active parameters are
the encoder experts its bandwidth picks and the decoder experts its task token picks, without
the CTC head (reported on its own), so they compare directly with attention-only models such as
the paper's.
"""

import itertools
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

from espnet_smoe.task.s2t import SMoES2TTask
from espnet_smoe.text.multitask import is_task_token, special_tokens, target_lang, task_of
from espnet_smoe.text.tokenizer import S2T_SPECIALS

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
