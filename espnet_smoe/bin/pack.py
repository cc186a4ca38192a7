#!/usr/bin/env python3
"""Pack a trained model for ``Speech2Text.from_pretrained`` (stage 10): ESPnet's zip, with the
model card (``<exp>/README.md``, written first) and the espnet_smoe version in ``meta.yaml``.

Run it from the recipe dir: paths are stored relative to it (see :mod:`espnet_smoe.release.pack`).

Usage:
    python -m espnet_smoe.bin.pack --exp exp/s2t_dec_smoe --model_file exp/s2t_dec_smoe/valid.acc.ave.pth \
        --option data/token_list/bbpe1000/bbpe.model --option exp/s2t_stats_bbpe1000/train/feats_stats.npz \
        --outpath exp/s2t_dec_smoe/s2t_dec_smoe.zip [--hf_repo org/name]
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.release.pack import pack_model


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", type=Path, required=True, help="exp dir holding config.yaml")
    parser.add_argument("--model_file", type=Path, required=True, help="checkpoint to pack")
    parser.add_argument("--outpath", type=Path, required=True, help="the zip to write")
    parser.add_argument("--option", type=Path, action="append", default=[],
                        help="another file to pack (BBPE model, feature statistics)")
    parser.add_argument("--hf_repo", default=None, help="Hub repository the card names")
    parser.add_argument("--license", default="apache-2.0", help="license of the model card")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    pack_model(args.exp, args.model_file, args.outpath, args.option, args.hf_repo, args.license)


if __name__ == "__main__":
    main(sys.argv[1:])
