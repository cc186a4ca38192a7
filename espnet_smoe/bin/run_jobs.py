#!/usr/bin/env python3
"""Run "job n of N" commands through the recipe's job layer (:mod:`espnet_smoe.recipe.jobs`), on this
machine or on Slurm (submitit), as Kaldi/ESPnet's ``$cmd JOB=1:N log cmd`` does.

Every whole word ``JOB`` of the command and of ``--log`` becomes the job number, 1 to N. The
exit status is 0 when every job succeeded; otherwise 1, after the first failed job's log tail.

Usage:
    python -m espnet_smoe.bin.run_jobs --nj 4 --log exp/stats/logs/stats.JOB.log \\
        [--backend slurm --slurm_conf conf/slurm.yaml --slurm_section stats] \\
        -- python -m espnet_smoe.bin.s2t_train --collect_stats true ... --output_dir exp/stats/JOB

    # one training job of 2 nodes x 4 GPUs (one task per GPU, torch env:// variables set)
    python -m espnet_smoe.bin.run_jobs --backend slurm --slurm_conf conf/slurm.yaml \\
        --slurm_section train --nodes 2 --tasks_per_node 4 --torch_distributed \\
        --log exp/s2t/train.log --append -- python -m espnet_smoe.bin.s2t_train --ngpu 1 ...
"""

import argparse
import logging
import os
import re
import sys

from espnet_smoe.recipe.jobs import BACKENDS, Job, JobsFailed, run_jobs, slurm_parameters


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nj", type=int, default=1, help="number of jobs (JOB = 1..nj)")
    parser.add_argument("--log", required=True, help="log of job JOB, e.g. logs/stats.JOB.log")
    parser.add_argument("--backend", choices=BACKENDS, default="local")
    parser.add_argument("--slurm_conf", help="YAML of submitit parameters (default and per-section)")
    parser.add_argument("--slurm_section", default="default", help="stats | train | decode")
    parser.add_argument("--slurm_args", nargs="*", default=[], metavar="KEY=VALUE",
                        help="submitit parameters over the YAML's, e.g. slurm_partition=gpu timeout_min=60")
    parser.add_argument("--name", help="job name (default: --slurm_section)")
    parser.add_argument("--threads", type=int, help="OMP/MKL threads of each local job "
                        "(default: the CPUs shared equally when nj > 1)")
    parser.add_argument("--nodes", type=int, default=1, help="Slurm nodes of each job")
    parser.add_argument("--tasks_per_node", type=int, default=1, help="Slurm tasks per node of each job")
    parser.add_argument("--gpus_per_node", type=int, help="Slurm GPUs per node (over the YAML's)")
    parser.add_argument("--torch_distributed", action="store_true",
                        help="give each Slurm task torch's env:// variables (RANK, WORLD_SIZE, ...)")
    parser.add_argument("--append", action="store_true", help="append to the logs")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command ...")
    return parser


def substitute(text: str, n: int) -> str:
    return re.sub(r"\bJOB\b", str(n), text)


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        get_parser().error("no command given (after --)")
    if args.nj < 1:
        get_parser().error("--nj must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    jobs = [Job([substitute(a, n) for a in cmd], substitute(args.log, n), os.getcwd(),
                append=args.append, torch_distributed=args.torch_distributed)
            for n in range(1, args.nj + 1)]
    slurm = slurm_parameters(args.slurm_conf, args.slurm_section, args.slurm_args) \
        if args.backend == "slurm" else None
    if slurm is not None and args.gpus_per_node:
        slurm["gpus_per_node"] = args.gpus_per_node
    try:
        run_jobs(jobs, backend=args.backend, slurm=slurm, name=args.name or args.slurm_section,
                 threads=args.threads, nodes=args.nodes, tasks_per_node=args.tasks_per_node)
    except JobsFailed as e:
        print(f"run_jobs: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
