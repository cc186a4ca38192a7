#!/usr/bin/env bash
# @CORPUS@: speech -> transcript (ASR) and translations (ST) with S-MoE (made from egs2/TEMPLATE).
#
#   ./run.sh                                   # every stage, 1-10
#   ./run.sh --stage 7 --stop_stage 9          # train, decode, score
#   ./run.sh --help                            # every option, with this recipe's values
#
# Stage 1 runs local/data.sh; stages 2-10 (and 11, the opt-in Hub upload) are ../../../local/s2t.sh
# (stages and options: docs/recipe.md, ./run.sh --help). The corpus settings below are s2t.sh options too: any of them can be
# overridden on the command line.
set -euo pipefail

corpus=(
    --data_cmd local/data.sh
    --src_lang spa                # ISO 639-3 code of the speech (and of the transcripts)
    --tgt_langs eng               # translation targets, e.g. "eng cat": data/<set>/text.<l> each;
                                  # route_tokens: per_task gives each <st_l> its decoder expert
    --train_set train --valid_set dev --test_sets test
    --train_bw_mode native        # recorded bandwidths; split | both simulate NB from WB audio
    --bw_labels rate              # native: utt2bw | rate (<= 8 kHz is NB) | detect
)
defaults=(
    --train_config conf/paper/encdec_smoe.yaml   # or conf/mini/*.yaml for a CPU-sized model
    --inference_config conf/decode.yaml
    --bbpe_vocab_size 5000        # the paper's 40000 needs hundreds of hours of text
)
../../../local/s2t.sh "${corpus[@]}" "${defaults[@]}" "$@"
