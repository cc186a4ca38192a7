#!/usr/bin/env bash
# mini_es_en: Spanish speech -> Spanish transcript (ASR) and translations (ST): English by
# default, also Catalan and Portuguese (--tgt_langs "eng cat por").
# The corpus is made here from Debian packages (fortunes-es sentences, espeak-ng voices,
# Apertium translations), so the whole recipe runs with no download and no GPU:
#
#   ./run.sh                         # every stage, default size
#   ./run.sh --size smoke            # 45 utterances, all stages in minutes (the tests run this)
#   ./run.sh --stage 7 --stop_stage 9 --train_config conf/mini/base.yaml
#   ./run.sh --matrix mini           # the paper's comparison: every conf/mini variant, one report
#
# --size and --matrix are this corpus's own options; every other option goes to
# ../../../local/s2t.sh (stages and options: docs/recipe.md, ./run.sh --help), or with --matrix to
# ../../../local/matrix.sh (--variants, --seeds).
set -euo pipefail

size=default          # smoke | default | full
seed=777              # corpus seed (sentence split, voices)
matrix=""             # mini | paper: run the experiment matrix of conf/<matrix>/
tgt_langs=eng         # translation targets: any of eng cat por (local/apertium.py)
corpus_opts=""        # levers of the corpus (local/make_corpus.py; recipe README, "Corpus levers")
help=false
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --size) size=$2; shift 2 ;;
    --corpus_seed) seed=$2; shift 2 ;;
    --matrix) matrix=$2; shift 2 ;;
    --tgt_langs) tgt_langs=$2; shift 2 ;;
    --train_size|--ui_train|--train_speakers|--prosody) corpus_opts+=" $1 $2"; shift 2 ;;
    --help|-h) help=true; shift ;;
    *) args+=("$1"); shift ;;
    esac
done

case "${size}" in
smoke)   opts=(--bbpe_vocab_size 300 --inference_config conf/decode_fast.yaml
               --train_args "--max_epoch 1 --batch_size 8") ;;
default) opts=(--bbpe_vocab_size 500 --inference_config conf/decode.yaml) ;;
full)    opts=(--bbpe_vocab_size 2000 --inference_config conf/decode.yaml) ;;
*) echo "$0: --size must be smoke, default or full, not '${size}'" >&2; exit 1 ;;
esac

# test_ood: another text domain, voices and prosody (local/make_corpus.py); the cascade
# (transcripts through Apertium, the translator of the training targets) is scored beside ST
corpus=(--data_cmd "local/data.sh --size ${size} --seed ${seed} --tgt_langs '${tgt_langs}'${corpus_opts}"
        --src_lang spa --tgt_langs "${tgt_langs}" --train_set train --valid_set dev
        --test_sets "test test_ood" --cascade_mt "python3 local/apertium.py {tgt}")
# DecS-MoE: at this scale the encoder's bandwidth experts each see too little audio (README,
# "Results of the default run"); --train_config conf/mini/encdec_smoe.yaml is the paper's model.
model=(--train_config conf/mini/dec_smoe.yaml)
if [ "${help}" = true ]; then
    cat <<EOF
Usage: $0 [options] (with --matrix, the stage options go to ../../../local/matrix.sh)
Options of run.sh (mini_es_en):
  --size                 '${size}'  smoke | default | full (sets the values of s2t.sh below)
  --corpus_seed          '${seed}'  sentence split and voices
  --matrix               '${matrix}'  mini | paper: every conf/<matrix>/ variant (--variants, --seeds)
  --tgt_langs            '${tgt_langs}'  translation targets, any of eng cat por (local/apertium.py)
  --train_size N, --ui_train N, --train_speakers N, --prosody speaker|utterance
                         corpus levers (local/make_corpus.py; recipe README, "Corpus levers")
EOF
    ../../../local/s2t.sh "${corpus[@]}" "${model[@]}" "${opts[@]}" "${args[@]}" --help
    exit 0
fi
if [ -n "${matrix}" ]; then
    ../../../local/matrix.sh --matrix "${matrix}" "${corpus[@]}" "${opts[@]}" "${args[@]}"
else
    ../../../local/s2t.sh "${corpus[@]}" "${model[@]}" "${opts[@]}" "${args[@]}"
fi
