#!/usr/bin/env python3
"""Stage 6: shape files and feature statistics of the training and validation examples, with
``--nj`` jobs of ESPnet's collect_stats (:mod:`espnet_smoe.recipe.training.stats`). The arguments after
``--`` go to every job's ``espnet_smoe.bin.s2t_train --collect_stats true``.

Usage:
    python -m espnet_smoe.bin.collect_stats --nj 4 --train_dir dump/raw/train_mix_mt \\
        --valid_dir dump/raw/dev_mix_mt --output_dir exp/s2t_stats_bbpe500 -- \\
        --config conf/mini/dec_smoe.yaml --token_list ... --train_data_path_and_name_and_type ...
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_smoe.recipe.jobs import JobsFailed, add_job_arguments, slurm_of
from espnet_smoe.recipe.training.stats import collect_stats


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nj", type=int, default=1, help="number of jobs")
    parser.add_argument("--train_dir", type=Path, required=True, help="training examples (wav.scp)")
    parser.add_argument("--valid_dir", type=Path, required=True, help="validation examples (wav.scp)")
    parser.add_argument("--output_dir", type=Path, required=True)
    add_job_arguments(parser, "stats")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- s2t_train options ...")
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    if args.nj < 1:
        get_parser().error("--nj must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    try:
        n = collect_stats(train_args, args.train_dir, args.valid_dir, args.output_dir, args.nj,
                          args.cmd_backend, slurm_of(args, "stats"))
    except JobsFailed as e:
        print(f"collect_stats: {e}", file=sys.stderr)
        return 1
    print(f"{args.output_dir}: statistics of {n} training examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
