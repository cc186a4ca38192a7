#!/usr/bin/env bash
# The S-MoE speech-to-text pipeline, shared by every corpus's egs2/<corpus>/s2t1/run.sh, which sets
# its languages and data prep and passes every other option through. The stages and options are
# described in README.md ("The recipe") and docs/recipe.md; ./run.sh --help lists every option.
#
#  1 data prep   2 NB/WB versions   3 dump   4 BBPE   5 multitask examples   6 statistics
#  7 training   8 decoding   9 scoring   10 packing   11 Hub upload (opt-in: --stop_stage 11)
#
# Stages 2-6 skip an output whose .done marker records the same command and inputs (each input
# file's size and time), also under --stage N: delete the marker (or the output) to redo it.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}) $*"; }
die() { log "error: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# General
stage=1                      # first stage to run (1-11)
stop_stage=10                # last stage to run (11: also upload, see --hf_upload)
ngpu=0                       # GPUs (per node) for training (>1: DDP through torchrun) and decoding (>0: one)
nj=2                         # parallel jobs (statistics, decoding)
cmd_backend=local            # where jobs run: local (this machine) | slurm (submitit; --slurm_conf)
slurm_conf=""                # YAML of submitit parameters per kind of job (default, stats, train, decode)
slurm_args=""                # submitit parameters over --slurm_conf's, e.g. "slurm_partition=gpu timeout_min=120"
num_nodes=1                  # training nodes, --ngpu GPUs each (>1: DDP over nodes; docs/recipe.md)
node_rank=0                  # local backend, --num_nodes > 1: this node's rank (0 on the master)
master_addr=""               # local backend, --num_nodes > 1: node 0's address (torchrun --master_addr)
master_port=29500            # local backend, --num_nodes > 1: torchrun --master_port
seed=1                       # training seed; also the NB/WB split and telephone-channel draws
tag=""                       # exp/<tag>; default s2t_<train config name>
# Corpus (set by run.sh)
data_cmd=""                  # command that writes data/{train,dev,test} (stage 1)
src_lang=""                  # e.g. spa
tgt_langs=""                 # e.g. "eng"
train_set=train              # data/<set> names written by stage 1
valid_set=dev
test_sets=test               # several: "test test_ood"
# Data
train_bw_mode=split          # split: each utterance NB or WB | both: in NB and WB | native: real recordings in their own bandwidth (--bw_labels)
nb_channel=telephone         # simulated NB: telephone (band, codecs, noise) | lowpass
mulaw=false                  # lowpass channel: G.711 mu-law code the NB audio
bw_labels=utt2bw             # native mode: bandwidth from utt2bw | rate (<= 8 kHz: NB) | detect
speed_perturb=""             # training set speed factors, e.g. "0.9 1.0 1.1" (sox speed, as ESPnet recipes)
min_duration=0.2             # s: shorter training/valid utterances are skipped in stage 2
max_overshoot=0.5            # s a segment may end past its recording (cut there, listed)
bbpe_vocab_size=1000         # BBPE vocabulary (run.sh sets its corpus's)
feats_normalize=global_mvn   # global_mvn (stats from stage 6) | utterance_mvn
batching=interleaved         # interleaved single-task batches (paper) | mixed
# Training / decoding
train_config=""              # training YAML, e.g. conf/mini/dec_smoe.yaml
train_args=""                # extra options for s2t_train
init_from=""                 # stage 7 starts from this model file (or exp dir: its --inference_model); dense FFNs fill every expert
inference_config=""          # decoding YAML, e.g. conf/decode.yaml
inference_model=valid.acc.ave.pth  # checkpoint of exp/<tag> to decode and pack
inference_args=""
route_ablation=""            # S-MoE stacks to also decode with swapped routes: encoder decoder
bw_flips=""                  # label noise: also decode with these fractions of bandwidth labels flipped, e.g. "0.1 0.5 1"
bw_auto=false                # also decode routed by each utterance's detected bandwidth instead of its label
cascade_mt=""                # text translator ({tgt}: target language) for the cascade baseline of stage 9
# Hub
hf_repo=""                   # Hugging Face Hub model repository org/name (named by the card; stage 11)
hf_upload=false              # stage 11: true uploads; false is a dry run that lists what would go

. "${root}/local/parse_options.sh"
python=python3
if [ -x "${root}/.venv/bin/python" ]; then  # the project's environment first, as ESPnet's path.sh
    python="${root}/.venv/bin/python"
    export PATH="${root}/.venv/bin:${PATH}"  # also for commands such as --cascade_mt "python3 ..."
fi

[ -n "${src_lang}" ] || die "--src_lang is not set (run.sh sets it)"
[ -n "${train_config}" ] || die "--train_config is not set"
[ -f "${train_config}" ] || die "train config ${train_config} not found"
[ -z "${inference_config}" ] || [ -f "${inference_config}" ] || die "${inference_config} not found"
[ -n "${tag}" ] || tag="s2t_$(basename "${train_config}" .yaml)"

tasks=$(${python} -c "from espnet_smoe.text.multitask import task_names; print(' '.join(task_names('${tgt_langs}'.split())))")
exp=exp/${tag}
stats_dir=exp/s2t_stats_bbpe${bbpe_vocab_size}
token_dir=data/token_list/bbpe${bbpe_vocab_size}
dump=dump/raw
train_mt=${dump}/${train_set}_mix_mt
valid_mt=${dump}/${valid_set}_mix_mt
eval_sets=""
for s in ${test_sets}; do
    if [ "${train_bw_mode}" = native ]; then eval_sets+="${s}_native "; else eval_sets+="${s}_wb ${s}_nb "; fi
done

[ "${cmd_backend}" = local ] || [ "${cmd_backend}" = slurm ] || die "--cmd_backend must be local or slurm"
[ -z "${slurm_conf}" ] || [ -f "${slurm_conf}" ] || die "${slurm_conf} not found"
# options of the commands that run jobs through the job layer (espnet_smoe/recipe/jobs.py)
job_opts="--cmd_backend ${cmd_backend} ${slurm_conf:+--slurm_conf ${slurm_conf}} ${slurm_args:+--slurm_args ${slurm_args}}"

need() { for f in "$@"; do [ -e "${f}" ] || die "missing ${f}: run the earlier stages first"; done; }
todo() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }
# step N --out DIR --input PATH... -- COMMAND: stage N's COMMAND, which writes DIR from the inputs,
# unless DIR/.done says it already did with the same command and inputs (espnet_smoe/recipe/stages.py)
step() { ${python} -m espnet_smoe.bin.run_step --stage "$@"; }

if todo 1; then
    log "Stage 1: data prep (${data_cmd})"
    [ -n "${data_cmd}" ] || die "--data_cmd is not set (run.sh sets it)"
    eval "${data_cmd}"  # a shell command line: quoted lists (--tgt_langs "eng cat") stay one option
    for s in ${train_set} ${valid_set} ${test_sets}; do
        ${python} -c "from espnet_smoe.recipe.datadir import check_data_dir; import sys; \
print(f'data/${s}: {len(check_data_dir(\"data/${s}\", \"${tgt_langs}\".split()))} utterances ok')"
    done
fi

if todo 2; then
    log "Stage 2: NB/WB versions at 16 kHz (train/valid: ${train_bw_mode}; NB channel: ${nb_channel})"
    bw="${python} ${root}/local/make_bandwidth.py --max_overshoot ${max_overshoot} --nb_channel ${nb_channel} --labels ${bw_labels}"
    [ "${mulaw}" != true ] || bw+=" --mulaw"
    for s in ${train_set} ${valid_set}; do  # data/<set>_mix; the training set speed-perturbed first
        src=data/${s}
        if [ ${s} = ${train_set} ] && [ -n "${speed_perturb}" ]; then
            step 2 --out ${src}_sp --input ${src} -- \
                ${python} "${root}/local/perturb_speed.py" --src ${src} --dst ${src}_sp --factors ${speed_perturb}
            src=${src}_sp
        fi
        step 2 --out data/${s}_mix --input ${src} -- ${bw} --src ${src} --dst data/${s}_mix \
            --mode ${train_bw_mode} --seed ${seed} --min_duration ${min_duration}
    done
    for s in ${eval_sets}; do  # data/<test>_wb and _nb, or _native: data/<test> in that mode
        step 2 --out data/${s} --input data/${s%_*} -- ${bw} --src data/${s%_*} --dst data/${s} --mode ${s##*_}
    done
fi

if todo 3; then
    log "Stage 3: dump audio to ${dump}"
    for s in ${train_set}_mix ${valid_set}_mix ${eval_sets}; do
        step 3 --out ${dump}/${s} --input data/${s} -- \
            ${python} "${root}/local/dump_audio.py" --src data/${s} --dst ${dump}/${s}
    done
fi

if todo 4; then
    log "Stage 4: BBPE (vocabulary ${bbpe_vocab_size}) -> ${token_dir}"
    texts="${dump}/${train_set}_mix/text $(for l in ${tgt_langs}; do echo ${dump}/${train_set}_mix/text.${l}; done)"
    step 4 --out ${token_dir} --input ${texts} -- ${python} "${root}/local/train_bbpe.py" \
        $(for t in ${texts}; do echo --text ${t}; done) --src_lang ${src_lang} --tgt_langs ${tgt_langs} \
        --vocab_size ${bbpe_vocab_size} --outdir ${token_dir} --nj ${nj}
fi

if todo 5; then
    log "Stage 5: multitask examples (${tasks}; ${batching} batches)"
    for s in ${train_set} ${valid_set}; do
        step 5 --out ${dump}/${s}_mix_mt --input ${dump}/${s}_mix -- ${python} "${root}/local/make_multitask.py" \
            --src ${dump}/${s}_mix --dst ${dump}/${s}_mix_mt --src_lang ${src_lang} --tgt_langs ${tgt_langs} \
            --batching ${batching}
    done
fi

data_opts() {  # <split: train|valid> <dir>
    local o=""
    for f in "wav.scp,speech,kaldi_ark" "text,text,text" "text.ctc,text_ctc,text" \
             "text.prev,text_prev,text" "utt2bw,bandwidth,text"; do
        o+=" --$1_data_path_and_name_and_type $2/${f}"
    done
    echo "${o}"
}
common_opts="--token_list ${token_dir}/tokens.txt --bpemodel ${token_dir}/bbpe.model --token_type bbpe"

if todo 6; then
    log "Stage 6: statistics with ${nj} jobs (${cmd_backend}) -> ${stats_dir}"
    step 6 --out ${stats_dir} --input ${train_mt} ${valid_mt} ${token_dir} ${train_config} -- \
        ${python} -m espnet_smoe.bin.collect_stats --nj ${nj} --train_dir ${train_mt} --valid_dir ${valid_mt} \
            --output_dir ${stats_dir} ${job_opts} -- --config ${train_config} ${common_opts} \
            $(data_opts train ${train_mt}) $(data_opts valid ${valid_mt}) ${train_args}
fi

# Written when training exits successfully, removed when it starts: without it, what exp/ holds
# is an interrupted (or failed) training, whatever model files an earlier run left there.
trained=${exp}/.training_done
trained_or_die() {
    [ -f ${trained} ] || die "training in ${exp} is incomplete (interrupted, failed, or from before" \
        "this check): rerun --stage 7 to resume it (a finished training only re-averages)"
    need "$@"
}

if todo 7; then
    log "Stage 7: training ${exp} (config ${train_config}, ngpu ${ngpu}, nodes ${num_nodes}, ${cmd_backend}); log: ${exp}/train.log"
    need ${stats_dir}/train/speech_shape ${stats_dir}/train/feats_stats.npz
    if [ -n "${init_from}" ]; then  # ESPnet's --init_param; a resumed run's checkpoint.pth loads over it
        [ ! -d "${init_from}" ] || init_from=${init_from}/${inference_model}
        [ -f "${init_from}" ] || die "--init_from: ${init_from} not found"
    fi
    train_log=${exp}/train.log
    [ ${node_rank} -eq 0 ] || train_log=${exp}/train.node${node_rank}.log
    mkdir -p ${exp}
    rm -f ${trained}
    echo "# $(date '+%Y-%m-%dT%H:%M:%S') stage 7 (resumes from ${exp}/checkpoint.pth if present${init_from:+, else starts from ${init_from}})" >> ${train_log}
    ${python} -m espnet_smoe.bin.launch_train --log ${train_log} --ngpu ${ngpu} --num_nodes ${num_nodes} \
        --node_rank ${node_rank} --master_addr "${master_addr}" --master_port ${master_port} ${job_opts} -- \
        --config ${train_config} ${common_opts} \
        $([ ${feats_normalize} = global_mvn ] && echo --normalize global_mvn \
            --normalize_conf stats_file=${stats_dir}/train/feats_stats.npz || echo --normalize ${feats_normalize}) \
        $(data_opts train ${train_mt}) $(data_opts valid ${valid_mt}) \
        --train_shape_file ${stats_dir}/train/speech_shape --train_shape_file ${stats_dir}/train/text_shape \
        --valid_shape_file ${stats_dir}/valid/speech_shape --valid_shape_file ${stats_dir}/valid/text_shape \
        --resume true --seed ${seed} --src_langs ${src_lang} --output_dir ${exp} \
        ${init_from:+--init_param ${init_from}} ${train_args} \
        || die "training failed (exit $?): see ${train_log}; rerun --stage 7 to resume"
    [ ${node_rank} -eq 0 ] || { log "node ${node_rank}: training done"; exit 0; }  # node 0 writes the model
    need ${exp}/${inference_model}
    date '+%Y-%m-%dT%H:%M:%S' > ${trained}
fi

inference_tag=decode_$(basename "${inference_config:-default}" .yaml)_$(basename ${inference_model} .pth)
# the decode conditions (espnet_smoe/recipe/evaluation/conditions.py), each in its own dir ${inference_tag}[_<label>]:
# as trained, each --route_ablation stack swapped (swap_<stack>), each --bw_flips level (flip<p>), --bw_auto
conditions=$(${python} -c "from espnet_smoe.recipe.evaluation.conditions import conditions; print(' '.join(c.label \
for c in conditions('${route_ablation}'.split(), '${bw_flips}'.split(), '${bw_auto}' == 'true')))")

if todo 8; then
    log "Stage 8: decoding ${eval_sets}x (${tasks}) x (${conditions}) with ${nj} jobs -> ${exp}/${inference_tag}"
    trained_or_die ${exp}/config.yaml ${exp}/${inference_model}
    ${python} "${root}/local/decode.py" --nj ${nj} --ngpu $((ngpu > 0 ? 1 : 0)) \
        $(for s in ${eval_sets}; do echo --data ${dump}/${s}; done) \
        $(for task in ${tasks}; do echo --task_sym "<${task}>"; done) \
        --lang_sym "<${src_lang}>" --conditions ${conditions} ${job_opts} \
        --s2t_train_config ${exp}/config.yaml --s2t_model_file ${exp}/${inference_model} \
        --output_dir ${exp}/${inference_tag} ${inference_config:+--config ${inference_config}} ${inference_args}
fi

if todo 9; then
    log "Stage 9: scoring -> ${exp}/RESULTS.md, ${exp}/results.json"
    score_tasks=${tasks}
    if [ -n "${cascade_mt}" ]; then
        ${python} "${root}/local/cascade.py" --decode_dir ${exp}/${inference_tag} --test_sets ${eval_sets} \
            --tgt_langs ${tgt_langs} --mt "${cascade_mt}"
        for l in ${tgt_langs}; do score_tasks+=" cascade_st_${l}"; done
    fi
    ${python} "${root}/local/score.py" --decode_dir ${exp}/${inference_tag} --dump ${dump} \
        --test_sets ${eval_sets} --tasks ${score_tasks} --out ${exp} --conditions ${conditions} \
        --cascade_mt "${cascade_mt}"
    if grep -q "router: learned" ${exp}/config.yaml; then
        log "learned gates: expert usage per test set and task -> ${exp}/expert_usage.md"
        ${python} -m espnet_smoe.bin.expert_usage --s2t_train_config ${exp}/config.yaml \
            --s2t_model_file ${exp}/${inference_model} $(for s in ${eval_sets}; do echo --data ${dump}/${s}; done) \
            --lang_sym ${src_lang} --tasks ${tasks} --out ${exp} > ${exp}/expert_usage.log 2>&1 \
            || die "expert usage failed: see ${exp}/expert_usage.log"
    fi
fi

if todo 10; then
    log "Stage 10: packing -> ${exp}/${tag}.zip"
    trained_or_die ${exp}/config.yaml ${exp}/${inference_model}
    ${python} -m espnet_smoe.bin.pack --exp ${exp} --model_file ${exp}/${inference_model} \
        --option ${token_dir}/bbpe.model --option ${stats_dir}/train/feats_stats.npz \
        --outpath ${exp}/${tag}.zip ${hf_repo:+--hf_repo ${hf_repo}}
    log "model card: ${exp}/README.md"
fi

if todo 11; then
    log "Stage 11: ${exp}/${tag}.zip and its card to the Hugging Face Hub ($([ ${hf_upload} = true ] && echo upload || echo dry run))"
    [ -n "${hf_repo}" ] || die "--hf_repo org/name is not set"
    need ${exp}/${tag}.zip ${exp}/README.md
    ${python} -m espnet_smoe.bin.upload --exp ${exp} --archive ${tag}.zip --hf_repo ${hf_repo} \
        --hf_upload ${hf_upload}
fi

log "Finished stages ${stage}-${stop_stage}"
