#!/usr/bin/env python3
"""Export one route (bandwidth, task) of an S-MoE model as a dense model stock ESPnet builds.

Writes ``config.yaml`` (``model: espnet``, ``encoder: transformer|conformer``, ``decoder:
transformer``), ``model.pth``, the statistics and BBPE model the config names, and a README on
what stock ESPnet can do with it (see :mod:`espnet_smoe.release.export`). Run it from the recipe dir.

Usage:
    python -m espnet_smoe.bin.export_route --s2t_train_config exp/s2t_encdec_smoe/config.yaml \
        --s2t_model_file exp/s2t_encdec_smoe/valid.acc.ave.pth --bandwidth nb --task st_eng \
        --output_dir exp/s2t_encdec_smoe/dense_nb_st_eng
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_smoe.release.export import export_route


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--s2t_train_config", type=Path, required=True,
                        help="the S-MoE model's config.yaml (exp dir or unpacked pack)")
    parser.add_argument("--s2t_model_file", type=Path, required=True, help="its parameters (*.pth)")
    parser.add_argument("--output_dir", type=Path, required=True, help="where to write the export")
    parser.add_argument("--bandwidth", help="the encoder's route: wb or nb (or another of its route_labels)")
    parser.add_argument("--task", help="the decoder's route: asr, st_eng, ... (or <st_eng>)")
    return parser


def main(cmd=None):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    args = get_parser().parse_args(cmd)
    print(export_route(args.s2t_train_config, args.s2t_model_file, args.output_dir,
                       args.bandwidth, args.task))


if __name__ == "__main__":
    main(sys.argv[1:])
