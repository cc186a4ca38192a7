#!/usr/bin/env bash
# Stage 1 of fisher_callhome_covost2: Kaldi data dirs from the corpora on disk (nothing is
# downloaded). Writes
#   data/{fisher_train,fisher_dev,fisher_dev2,fisher_test}      (prep_fisher_callhome.py; nb)
#   data/{callhome_train,callhome_devtest,callhome_evltest}     (prep_fisher_callhome.py; nb)
#   data/{covost_train,covost_dev,covost_test}                  (prep_covost2.py; wb)
#   data/train = fisher_train + callhome_train + covost_train
#   data/dev   = fisher_dev + covost_dev
# Each set lists what its prep left out in data/<set>/prep_skipped (counts in prep_report.json).
# Skips the work when data/ already holds the output of these options.
set -euo pipefail
log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}) $*"; }
die() { log "error: $*" >&2; exit 1; }

fisher_speech=""                 # LDC2010S01
fisher_transcripts=""            # LDC2010T04
callhome_speech=""               # LDC96S35
callhome_transcripts=""          # LDC96T17
fisher_callhome_translations=""  # Fisher-Callhome-corpus (Post et al. 2013): mapping/, corpus/ldc/
cv_root=""                       # Common Voice (v4) Spanish: clips/*.mp3
covost_tsv=""                    # covost_v2.es_en.tsv
cv_tsv=""                        # optional: Common Voice validated.tsv (CoVoST's own split script joins it)
sph2pipe=""                      # sph2pipe for CallHome's shorten-compressed SPHERE (default: PATH)
src_case=lc.rm                   # Spanish text: lc.rm (lower-cased, no punctuation) | tc
tgt_case=tc                      # English text: tc (cased, punctuated) | lc.rm (ESPnet's Fisher BLEU)
covost_durations=false           # also sum CoVoST's clip durations (opens every MP3)
out=data
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
. "${root}/local/parse_options.sh"

python=python3
[ -x "${root}/.venv/bin/python" ] && python="${root}/.venv/bin/python"
here=$(dirname "${BASH_SOURCE[0]}")

for opt in fisher_speech fisher_transcripts callhome_speech callhome_transcripts \
           fisher_callhome_translations cv_root; do
    [ -n "${!opt}" ] || die "--${opt} is not set (see the recipe's README)"
    [ -d "${!opt}" ] || die "--${opt} ${!opt}: not a directory"
done
[ -f "${covost_tsv}" ] || die "--covost_tsv '${covost_tsv}': not a file (covost_v2.es_en.tsv)"
[ -z "${cv_tsv}" ] || [ -f "${cv_tsv}" ] || die "--cv_tsv ${cv_tsv}: not a file"

stamp="fisher=${fisher_speech},${fisher_transcripts} callhome=${callhome_speech},${callhome_transcripts}"
stamp+=" translations=${fisher_callhome_translations} cv=${cv_root} covost=${covost_tsv} cv_tsv=${cv_tsv}"
stamp+=" src_case=${src_case} tgt_case=${tgt_case}"
if [ -f "${out}/.done" ] && [ "$(cat "${out}/.done")" = "${stamp}" ]; then
    log "${out} already holds this corpus (${stamp}); skipping"
    exit 0
fi
rm -f "${out}/.done"
mkdir -p "${out}"

log "Fisher + CallHome Spanish with the Fisher-Callhome English -> ${out}"
"${python}" "${here}/prep_fisher_callhome.py" --out "${out}" \
    --fisher_speech "${fisher_speech}" --fisher_transcripts "${fisher_transcripts}" \
    --callhome_speech "${callhome_speech}" --callhome_transcripts "${callhome_transcripts}" \
    --translations "${fisher_callhome_translations}" --src_case "${src_case}" \
    --tgt_case "${tgt_case}" ${sph2pipe:+--sph2pipe "${sph2pipe}"}

log "CoVoST 2 es-en -> ${out}"
"${python}" "${here}/prep_covost2.py" --out "${out}" --covost_tsv "${covost_tsv}" \
    --cv_root "${cv_root}" ${cv_tsv:+--cv_tsv "${cv_tsv}"} --src_case "${src_case}" \
    --tgt_case "${tgt_case}" $([ "${covost_durations}" = true ] && echo --durations)

# combine <dst> <src>...: the union of the sets (their utterance ids are disjoint). Every
# utterance gets a segment: a set without segments (CoVoST: one clip per utterance) gets
# "<utt> <utt> 0 -1", the whole recording.
combine() {
    local dst=$1 d f; shift
    rm -rf "${dst}"
    mkdir -p "${dst}"
    for f in wav.scp text text.eng utt2spk utt2bw raw_text; do
        for d in "$@"; do cat "${d}/${f}"; done | LC_ALL=C sort > "${dst}/${f}"
    done
    for d in "$@"; do
        if [ -f "${d}/segments" ]; then cat "${d}/segments"; else awk '{print $1, $1, 0, -1}' "${d}/wav.scp"; fi
    done | LC_ALL=C sort > "${dst}/segments"
    for f in text utt2spk wav.scp; do
        dup=$(cut -d' ' -f1 "${dst}/${f}" | uniq -d | head -3)
        [ -z "${dup}" ] || die "${dst}/${f}: ids in more than one of $*: ${dup}"
    done
    awk '{u[$2] = u[$2] " " $1} END {for (s in u) print s u[s]}' "${dst}/utt2spk" | LC_ALL=C sort > "${dst}/spk2utt"
    log "${dst}: $(wc -l < "${dst}/text") utterances from $*"
}
combine "${out}/train" "${out}/fisher_train" "${out}/callhome_train" "${out}/covost_train"
combine "${out}/dev" "${out}/fisher_dev" "${out}/covost_dev"

echo "${stamp}" > "${out}/.done"
