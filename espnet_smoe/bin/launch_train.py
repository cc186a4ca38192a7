#!/usr/bin/env python3
"""Start one training run (stage 7) on this machine or on Slurm: one process, torchrun's
data-parallel processes, or a Slurm job of nodes x tasks (:mod:`espnet_smoe.recipe.training.launch`).
The arguments after ``--`` go to ``espnet_smoe.bin.s2t_train``. Output is appended to ``--log``;
locally its epoch results and errors are also shown. The exit status is the training's.

Usage:
    # 4 GPUs of this machine
    python -m espnet_smoe.bin.launch_train --log exp/s2t/train.log --ngpu 4 -- \\
        --config conf/mini/dec_smoe.yaml --output_dir exp/s2t ...
    # node 1 of 2, without Slurm (the same on node 0 with --node_rank 0)
    python -m espnet_smoe.bin.launch_train --log exp/s2t/train.node1.log --ngpu 4 --num_nodes 2 \\
        --node_rank 1 --master_addr node0.cluster -- ...
    # one Slurm job of 2 nodes x 4 GPUs
    python -m espnet_smoe.bin.launch_train --log exp/s2t/train.log --ngpu 4 --num_nodes 2 \\
        --cmd_backend slurm --slurm_conf conf/slurm.yaml -- ...
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_smoe.recipe.jobs import JobsFailed, add_job_arguments, slurm_of
from espnet_smoe.recipe.training.launch import Launch, train


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", type=Path, required=True, help="the training log (appended to)")
    parser.add_argument("--ngpu", type=int, default=0, help="GPUs per node (> 1: one process each)")
    parser.add_argument("--num_nodes", type=int, default=1)
    parser.add_argument("--node_rank", type=int, default=0, help="local backend, several nodes: this node's")
    parser.add_argument("--master_addr", default="", help="local backend, several nodes: node 0's address")
    parser.add_argument("--master_port", type=int, default=29500)
    add_job_arguments(parser, "train")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- s2t_train options ...")
    return parser


def main(argv=None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    try:
        launch = Launch(args.ngpu, args.num_nodes, args.node_rank, args.master_addr, args.master_port,
                        args.cmd_backend)
    except ValueError as e:
        parser.error(str(e))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    try:
        return train(launch, train_args, args.log, slurm_of(args, "train"))
    except JobsFailed as e:
        print(f"launch_train: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
