#!/usr/bin/env python3
"""Train an S-MoE speech-to-text model: ESPnet's S2T trainer with the S-MoE task.

Usage (what the recipe's stage 7 runs; every ESPnet training option applies):
    python -m espnet_smoe.bin.s2t_train --config conf/mini/encdec_smoe.yaml \
        --token_list data/token_list/bbpe500/tokens.txt --bpemodel data/token_list/bbpe500/bbpe.model \
        --train_data_path_and_name_and_type dump/raw/train_mt/wav.scp,speech,kaldi_ark \
        --train_data_path_and_name_and_type dump/raw/train_mt/text,text,text \
        --train_data_path_and_name_and_type dump/raw/train_mt/text.ctc,text_ctc,text \
        --train_data_path_and_name_and_type dump/raw/train_mt/text.prev,text_prev,text \
        --train_data_path_and_name_and_type dump/raw/train_mt/utt2bw,bandwidth,text \
        ... --output_dir exp/s2t_encdec_smoe
"""

from espnet_smoe.task.s2t import SMoES2TTask


def get_parser():
    return SMoES2TTask.get_parser()


def main(cmd=None):
    SMoES2TTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
