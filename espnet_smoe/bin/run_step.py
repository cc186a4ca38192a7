#!/usr/bin/env python3
"""Run one step of a recipe stage unless its ``.done`` marker says it is done: the same command
already succeeded on the same inputs (:mod:`espnet_smoe.recipe.stages`). The exit status is the
command's (0 when skipped; 1 when an input is missing).

Usage:
    python -m espnet_smoe.bin.run_step --stage 3 --out dump/raw/test_nb --input data/test_nb -- \\
        python local/dump_audio.py --src data/test_nb --dst dump/raw/test_nb
"""

import argparse
import logging
import sys
from pathlib import Path

from espnet_smoe.recipe.stages import MissingInput, Step, run_step


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", type=int, required=True, help="the stage's number, for the log")
    parser.add_argument("--out", type=Path, required=True, help="the directory the command writes")
    parser.add_argument("--input", type=Path, nargs="+", default=[], help="files or directories it reads")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command ...")
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        get_parser().error("no command given (after --)")
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, datefmt="%Y-%m-%dT%H:%M:%S",
                        format="%(asctime)s (%(module)s:%(lineno)d) %(message)s")
    try:
        return run_step(Step(args.stage, args.out, tuple(args.input), tuple(cmd)))
    except MissingInput as e:
        print(f"run_step: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
