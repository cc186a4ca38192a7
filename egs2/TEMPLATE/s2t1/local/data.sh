#!/usr/bin/env bash
# Stage 1 of this recipe: write data/<train_set>, data/<valid_set> and every data/<test_set>
# named in run.sh, as Kaldi data dirs (top README, "Adapting the recipe to a new corpus"):
#
#   wav.scp      <utt> <audio path>   or  <recording> <command> |   (any rate; stage 2 resamples)
#   text         <utt> <transcript in --src_lang>
#   text.<l>     <utt> <translation>, one file per --tgt_langs language
#   utt2spk      <utt> <speaker>      (utterance ids start with their speaker's id)
#   utt2bw       <utt> wb|nb          optional: the recorded bandwidth (--bw_labels utt2bw)
#   segments     <utt> <recording> <start s> <end s>   optional: wav.scp then lists recordings
#
# Sorted in LC_ALL=C order. Stage 1 checks every set after this script (espnet_smoe/recipe/datadir.py)
# and names the file, utterance and value of any problem. Make it idempotent: skip the work
# when data/ is already complete (see egs2/mini_es_en/s2t1/local/data.sh). Preps of other
# corpora to start from: espnet_smoe/recipe/corpora/ (one module per corpus; the recipes'
# local/*.py are their command lines).
set -euo pipefail

echo "$0: not written yet: prepare your corpus here (the header above says what to write)" >&2
exit 1
