#!/usr/bin/env bash
# fisher_callhome_covost2: Spanish ASR and Spanish->English ST on real mixed-bandwidth audio:
# Fisher + CallHome Spanish telephone conversations (8 kHz, NB) with the Fisher-Callhome
# Spanish-English translations, and CoVoST 2 es->en on Common Voice (48 kHz, WB). Each
# utterance stays in its recorded bandwidth (--train_bw_mode native, labels from utt2bw).
# The corpora must be on disk (LDC licences; nothing is downloaded):
#
#   ./run.sh --fisher_speech /corpora/LDC2010S01 --fisher_transcripts /corpora/LDC2010T04 \
#       --callhome_speech /corpora/LDC96S35 --callhome_transcripts /corpora/LDC96T17 \
#       --fisher_callhome_translations /corpora/Fisher-Callhome-corpus \
#       --cv_root /corpora/cv-corpus-4/es --covost_tsv /corpora/covost2/covost_v2.es_en.tsv
#   ./run.sh ...the corpus options... --stage 7 --stop_stage 9 --train_config conf/paper/base.yaml
#
# The corpus options (and --cv_tsv, --sph2pipe, --src_case, --tgt_case, --covost_durations) go
# to local/data.sh; every other option to ../../../local/s2t.sh (stages and options: docs/recipe.md, ./run.sh --help), after this
# recipe's defaults below, so that any of them can be overridden (the last value counts).
set -euo pipefail

data_opts=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --help|-h)
        cat <<EOF
Usage: $0 --fisher_speech DIR --fisher_transcripts DIR --callhome_speech DIR
    --callhome_transcripts DIR --fisher_callhome_translations DIR --cv_root DIR --covost_tsv FILE [options]
Corpus options (local/data.sh; given so far:${data_opts:- none}):
  --fisher_speech, --fisher_transcripts     LDC2010S01, LDC2010T04
  --callhome_speech, --callhome_transcripts LDC96S35, LDC96T17
  --fisher_callhome_translations            the Fisher-Callhome Spanish-English corpus
  --cv_root, --covost_tsv                   Common Voice Spanish, covost_v2.es_en.tsv
  --cv_tsv FILE, --sph2pipe PATH, --src_case lc.rm|tc, --tgt_case tc|lc.rm, --covost_durations true
EOF
        args+=("$1"); shift ;;
    --fisher_speech|--fisher_transcripts|--callhome_speech|--callhome_transcripts|\
    --fisher_callhome_translations|--cv_root|--covost_tsv|--cv_tsv|--sph2pipe|--src_case|\
    --tgt_case|--covost_durations)
        [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
        # s2t.sh runs --data_cmd word-split: a value with blanks would fall apart there
        case "$2" in *[[:space:]]*) echo "$0: $1 '$2': paths with blanks are not supported; use a symlink" >&2; exit 1 ;; esac
        data_opts+=" $1 $2"; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done

# Valid: Fisher dev (ESPnet's choice for this corpus) and CoVoST dev, so that model selection
# sees both bandwidths. Tests: ESPnet's Fisher/CallHome test sets but fisher_dev (the valid
# set here), and CoVoST test; each is one <set>_native set scored per bandwidth.
corpus=(--data_cmd "local/data.sh${data_opts}"
        --src_lang spa --tgt_langs eng --train_set train --valid_set dev
        --test_sets "fisher_dev2 fisher_test callhome_devtest callhome_evltest covost_test"
        --train_bw_mode native --bw_labels utt2bw)
# Paper scale: EncDecS-MoE (encoder experts by bandwidth, decoder experts by task), BBPE 40k.
defaults=(--train_config conf/paper/encdec_smoe.yaml --inference_config conf/decode.yaml
          --bbpe_vocab_size 40000 --ngpu 1 --nj 8)
../../../local/s2t.sh "${corpus[@]}" "${defaults[@]}" "${args[@]}"
