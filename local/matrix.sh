#!/usr/bin/env bash
# The paper's experiment matrix on one corpus: every variant trained, decoded and scored on the
# same data with the same budget and seeds, then compared side by side. A corpus's run.sh calls
# this instead of s2t.sh when given --matrix:
#
#   ./run.sh --matrix mini [--variants "base dec_smoe"] [--seeds "1 2 3"] [--stage 7] [...]
#
# Data stages 1-6 run once (all variants share data, tokenizer and statistics); then, per
# variant and seed, stages 7-9 of s2t.sh with conf/<matrix>/<variant>.yaml under the tag
# matrix/<variant>_seed<seed>, decoding S-MoE variants a second time with each S-MoE stack's
# route swapped (the routing ablation), and learned-gate variants reporting their expert usage.
# Last, local/matrix_report.py writes exp/matrix/{RESULTS.md,results.json,matrix.png}.
# Every other option (--stage/--stop_stage too) goes to s2t.sh unchanged.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}) $*"; }
die() { log "error: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=python3
[ -x "${root}/.venv/bin/python" ] && python="${root}/.venv/bin/python"

matrix=mini
variants="base dec_ffnx2 dec_smoe encdec_smoe learned_moe"
seeds=1
stage=1
stop_stage=10
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --matrix) matrix=$2; shift 2 ;;
    --variants) variants=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop_stage) stop_stage=$2; shift 2 ;;
    --train_config|--tag|--seed) die "$1 is set per variant by the matrix" ;;
    *) args+=("$1"); shift ;;
    esac
done
conf=conf/${matrix}
for v in ${variants}; do [ -f ${conf}/${v}.yaml ] || die "no config ${conf}/${v}.yaml"; done
first=$(echo ${variants} | cut -d' ' -f1)

# Stacks whose S-MoE route can be swapped (supervised routers): "encoder", "decoder", both, none.
swappable() {
    ${python} - "$1" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
print(" ".join(s for s in ("encoder", "decoder") if str(c.get(s, "")).startswith("smoe_")
               and (c.get(f"{s}_conf") or {}).get("router", "supervised") == "supervised"))
EOF
}

if [ "${stage}" -le 6 ]; then
    log "Matrix ${matrix}: data stages ${stage}-$((stop_stage < 6 ? stop_stage : 6)) (shared by every variant)"
    "${root}/local/s2t.sh" --stage ${stage} --stop_stage $((stop_stage < 6 ? stop_stage : 6)) \
        --train_config ${conf}/${first}.yaml "${args[@]}"
fi

from=$((stage > 7 ? stage : 7))
to=$((stop_stage < 9 ? stop_stage : 9))
if [ "${from}" -le "${to}" ]; then
    for v in ${variants}; do
        for seed in ${seeds}; do
            log "Matrix ${matrix}: ${v}, seed ${seed}: stages ${from}-${to}"
            "${root}/local/s2t.sh" --stage ${from} --stop_stage ${to} --train_config ${conf}/${v}.yaml \
                --tag matrix/${v}_seed${seed} --seed ${seed} \
                --route_ablation "$(swappable ${conf}/${v}.yaml)" "${args[@]}"
        done
    done
fi

if [ "${stop_stage}" -ge 10 ]; then
    log "Matrix ${matrix}: report -> exp/matrix/RESULTS.md"
    ${python} "${root}/local/matrix_report.py" --exp exp/matrix --conf ${conf} \
        --variants ${variants} --seeds ${seeds}
fi
