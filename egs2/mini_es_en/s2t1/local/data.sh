#!/usr/bin/env bash
# Stage 1 of mini_es_en: make data/{train,dev,test,test_ood} (wav.scp, text, text.<l> per
# --tgt_langs, utt2spk, spk2utt) from Debian packages, installing them when missing. Skips the
# work when data/ already holds this size, seed, targets and corpus levers (--train_size,
# --ui_train, --train_speakers, --prosody: see make_corpus.py).
set -euo pipefail
log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}) $*"; }

size=default
seed=777
nj=2
out=data
wavdir=downloads/mini_es_en/wav
train_size=""
ui_train=""                  # default: the size's (UI_TRAIN of espnet_smoe/recipe/corpora/mini_es_en.py)
train_speakers=40
prosody=speaker
tgt_langs=eng                # translation targets (local/apertium.py)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
. "${root}/local/parse_options.sh"

python=python3
[ -x "${root}/.venv/bin/python" ] && python="${root}/.venv/bin/python"

stamp="size=${size} seed=${seed} train_size=${train_size:-size} ui_train=${ui_train:-size} train_speakers=${train_speakers} prosody=${prosody} tgt_langs=${tgt_langs} test_ood"
if [ -f "${out}/.done" ] && [ "$(cat "${out}/.done")" = "${stamp}" ]; then
    log "${out} already holds mini_es_en (${stamp}); skipping"
    exit 0
fi
"${root}/tools/install_sysdeps.sh"
rm -rf "${out}/train" "${out}/dev" "${out}/test" "${out}/test_ood" "${wavdir}"
log "making mini_es_en (${stamp}) in ${out}, audio in ${wavdir}"
"${python}" "$(dirname "${BASH_SOURCE[0]}")/make_corpus.py" --size "${size}" --seed "${seed}" \
    --out "${out}" --wavdir "${wavdir}" --nj "${nj}" ${train_size:+--train_size "${train_size}"} \
    ${ui_train:+--ui_train "${ui_train}"} --train_speakers "${train_speakers}" --prosody "${prosody}" --tgt_langs ${tgt_langs}
echo "${stamp}" > "${out}/.done"
