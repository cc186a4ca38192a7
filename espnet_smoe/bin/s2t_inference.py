#!/usr/bin/env python3
"""Decode a data directory with an S-MoE model; ESPnet's ``s2t_inference`` interface and outputs
(what is written and how utterances are routed: :mod:`espnet_smoe.decoding.data_dir`).

Usage (one job; the recipe's stage 8 runs ``--nj`` of them on split key files):
    python -m espnet_smoe.bin.s2t_inference \
        --s2t_train_config exp/s2t/config.yaml --s2t_model_file exp/s2t/valid.acc.ave.pth \
        --data_path_and_name_and_type dump/raw/test_nb/wav.scp,speech,kaldi_ark \
        --data_path_and_name_and_type dump/raw/test_nb/utt2bw,bandwidth,text \
        --lang_sym '<spa>' --task_sym '<st_eng>' --output_dir exp/s2t/decode/test_nb_st_eng
"""

import logging
import sys

from espnet.utils.cli_utils import get_commandline_args

from espnet_smoe.decoding.data_dir import decode_data_dir, get_parser


def main(cmd=None):
    print(get_commandline_args(), file=sys.stderr)
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )
    decode_data_dir(args)


if __name__ == "__main__":
    main()
