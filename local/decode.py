#!/usr/bin/env python3
"""Stage 8: decode test sets for tasks under decode conditions with ``--nj`` parallel jobs
(espnet_smoe/recipe/evaluation/decode.py): ``<output_dir>/<set>/<task>`` as trained, and each other
condition of ``--conditions`` (``swap_<stack>``, ``flip<p>``, ``auto``) beside it in
``<output_dir>_<condition>``. Options this script does not know (``--beam_size``, ...) go to
every decoding call (espnet_smoe.bin.s2t_inference's options).

Usage:
    python local/decode.py --nj 2 --data dump/raw/test_wb --data dump/raw/test_nb \
        --task_sym '<asr>' --task_sym '<st_eng>' --lang_sym '<spa>' \
        --output_dir exp/s2t/decode --s2t_train_config exp/s2t/config.yaml \
        --s2t_model_file exp/s2t/valid.acc.ave.pth --config conf/decode.yaml \
        [--conditions trained swap_encoder flip0.1 auto]
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.recipe.evaluation.conditions import TRAINED, DecodeCondition
from espnet_smoe.recipe.evaluation.decode import DecodeFailed, DecodePlan, decode, decode_job
from espnet_smoe.recipe.jobs import add_job_arguments, slurm_of


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="dumped data dir (wav.scp, utt2bw); repeat for several sets")
    parser.add_argument("--task_sym", action="append", required=True, help="repeat for several tasks")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--conditions", nargs="+", type=DecodeCondition.parse, default=[TRAINED],
                        help="decode conditions: trained, swap_<stack>, flip<p>, auto")
    parser.add_argument("--nj", type=int, default=1)
    parser.add_argument("--job", type=int, help=argparse.SUPPRESS)  # set for the jobs this script starts
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--lang_sym", required=True)
    parser.add_argument("--s2t_train_config", required=True)
    parser.add_argument("--s2t_model_file", required=True)
    parser.add_argument("--config", help="inference config (YAML of s2t_inference options)")
    add_job_arguments(parser, "decode")
    return parser.parse_known_args()


def main():
    args, inference_args = get_args()
    plan = DecodePlan(tuple(args.data), tuple(args.task_sym), args.output_dir, args.lang_sym,
                      args.s2t_train_config, args.s2t_model_file, tuple(args.conditions), nj=args.nj,
                      ngpu=args.ngpu, config=args.config, inference_args=tuple(inference_args),
                      slurm=slurm_of(args, "decode"))
    try:
        if args.job is not None:
            decode_job(plan, args.job)
        else:
            decode(plan, relaunch=[sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]])
    except DecodeFailed as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
