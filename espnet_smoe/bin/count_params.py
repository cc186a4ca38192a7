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
import json
import sys
from pathlib import Path

from espnet_smoe.task.build import build_model, count


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
