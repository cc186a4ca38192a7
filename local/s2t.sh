#!/usr/bin/env bash
# The S-MoE speech-to-text pipeline, shared by every corpus's egs2/<corpus>/s2t1/run.sh.
# A corpus's run.sh sets its languages and data-prep command, then passes its options through:
#
#   ./run.sh [--stage N] [--stop_stage M] [--ngpu N] [--nj N] [--train_config FILE]
#            [--inference_config FILE] [--tag NAME] [...any option below]
#
#  1 data prep (corpus's local/data.sh) -> data/{train,dev,test}, checked against the contract
#  2 (--speed_perturb: speed-perturbed copies of the training set first, as ESPnet recipes)
#    NB/WB at 16 kHz, utt2bw, utt2channel: --train_bw_mode split|both makes WB and NB versions
#    (--nb_channel telephone: a simulated call with real codecs; lowpass: the 8 kHz band only)
#    and every test set once in each bandwidth (<set>_wb, <set>_nb); native keeps real
#    recordings in their own bandwidth (labels by --bw_labels utt2bw|rate|detect), a test set as
#    one set <set>_native scored per bandwidth. Unusable audio is left out and listed in
#    data/<set>/skipped (training/valid sets also drop utterances shorter than --min_duration),
#    segments cut at their recording's end in data/<set>/cut
#  3 dump: audio to kaldiio ark/scp + utt2num_samples
#  4 BBPE tokenizer and token list
#  5 multitask examples with guiding tokens (<src><asr>, <src><st_tgt>)
#  6 statistics (shapes, feature mean/var) with ESPnet's collect_stats (--nj jobs)
#  7 training (espnet_smoe.bin.s2t_train; resumable: rerun --stage 7 after an interruption; a
#    failed training stops the recipe; train.log grows). Data parallel (DDP, one process per GPU)
#    when --ngpu > 1 or --num_nodes > 1, started by torchrun (torch.distributed.run), whose
#    env:// variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) ESPnet reads with
#    --multiprocessing_distributed false; each process trains with --ngpu 1 (0 and gloo on CPU).
#    --ngpu is per node. Several nodes: --cmd_backend slurm submits one job of --num_nodes nodes
#    x --ngpu tasks (submitit sets each task's variables); without Slurm, run --stage 7
#    --stop_stage 7 on every node with the same --num_nodes and --master_addr (node 0's host)
#    and its own --node_rank (torchrun's static rendezvous; exp/ on a shared file system)
#  8 decoding of every test set x task (--nj jobs); --route_ablation "encoder decoder" also
#    decodes with those stacks' S-MoE routes swapped (each to the other expert), --bw_flips
#    "0.1 0.5" with those fractions of the bandwidth labels flipped (the same utterances at
#    every level, nested; local/label_noise.py draws the curves), --bw_auto true routed by
#    each utterance's detected bandwidth instead of its label
#  9 scoring: WER and CER / BLEU, chrF and TER / RTF per bandwidth -> exp/<tag>/RESULTS.md,
#    results.json; with --cascade_mt also the cascade (the asr transcripts through that text
#    translator, task cascade_st_<l>), the baseline end-to-end translation has to beat; for a learned-gate model also its expert usage per test set and task
#    (expert_usage.md)
# 10 packing: exp/<tag>/<tag>.zip, loadable by espnet_smoe.Speech2Text.from_pretrained, with its
#    model card exp/<tag>/README.md (--hf_repo: the Hub repository it names)
# 11 (opt-in: --stop_stage 11) upload of the pack and card to the Hugging Face Hub repository
#    --hf_repo org/name: a dry run that lists them unless --hf_upload true
#
# Jobs (stages 6, 7, 8) run through one layer, espnet_smoe/recipe/jobs.py (CLI espnet_smoe.bin.run_jobs),
# like ESPnet's cmd.sh: --cmd_backend local (default) runs them on this machine, each with its
# log, the first failed job's log tail shown; --cmd_backend slurm submits them with submitit (a
# job array per stage) using the sections default/stats/train/decode of --slurm_conf (YAML of
# submitit parameters: slurm_partition, timeout_min, mem_gb, cpus_per_task, gpus_per_node, ...;
# see conf/slurm.yaml) and --slurm_args "key=value ..." over them.
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
num_nodes=1                  # training nodes, --ngpu GPUs each (>1: DDP over nodes, see stage 7)
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
[ -x "${root}/.venv/bin/python" ] && python="${root}/.venv/bin/python"

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
# The job layer: run_jobs <kind: stats|train|decode> <nj> <log with JOB> [run_jobs options] -- command
# (every word JOB becomes the job's number; see espnet_smoe/bin/run_jobs.py)
run_jobs() {
    local kind=$1 n=$2 joblog=$3; shift 3
    ${python} -m espnet_smoe.bin.run_jobs --backend ${cmd_backend} --slurm_section ${kind} --nj ${n} \
        --log ${joblog} ${slurm_conf:+--slurm_conf ${slurm_conf}} ${slurm_args:+--slurm_args ${slurm_args}} "$@"
}
job_opts="--cmd_backend ${cmd_backend} ${slurm_conf:+--slurm_conf ${slurm_conf}} ${slurm_args:+--slurm_args ${slurm_args}}"

need() { for f in "$@"; do [ -e "${f}" ] || die "missing ${f}: run the earlier stages first"; done; }
todo() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }

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
    opts="--max_overshoot ${max_overshoot} --nb_channel ${nb_channel} --labels ${bw_labels}"
    [ "${mulaw}" = true ] && opts+=" --mulaw"
    for s in ${train_set} ${valid_set}; do
        need data/${s}/wav.scp
        src=data/${s}
        if [ "${s}" = "${train_set}" ] && [ -n "${speed_perturb}" ]; then
            ${python} "${root}/local/perturb_speed.py" --src data/${s} --dst data/${s}_sp --factors ${speed_perturb}
            src=data/${s}_sp
        fi
        ${python} "${root}/local/make_bandwidth.py" --src ${src} --dst data/${s}_mix \
            --mode ${train_bw_mode} --seed ${seed} --min_duration ${min_duration} ${opts}
    done
    for s in ${test_sets}; do
        if [ "${train_bw_mode}" = native ]; then
            ${python} "${root}/local/make_bandwidth.py" --src data/${s} --dst data/${s}_native --mode native ${opts}
            continue
        fi
        for bw in wb nb; do
            ${python} "${root}/local/make_bandwidth.py" --src data/${s} --dst data/${s}_${bw} --mode ${bw} ${opts}
        done
    done
fi

if todo 3; then
    log "Stage 3: dump audio to ${dump}"
    for s in ${train_set}_mix ${valid_set}_mix ${eval_sets}; do
        need data/${s}/wav.scp
        ${python} "${root}/local/dump_audio.py" --src data/${s} --dst ${dump}/${s}
    done
fi

if todo 4; then
    log "Stage 4: BBPE (vocabulary ${bbpe_vocab_size}) -> ${token_dir}"
    need ${dump}/${train_set}_mix/text
    texts="--text ${dump}/${train_set}_mix/text"
    for l in ${tgt_langs}; do texts+=" --text ${dump}/${train_set}_mix/text.${l}"; done
    ${python} "${root}/local/train_bbpe.py" ${texts} --src_lang ${src_lang} --tgt_langs ${tgt_langs} \
        --vocab_size ${bbpe_vocab_size} --outdir ${token_dir} --nj ${nj}
fi

if todo 5; then
    log "Stage 5: multitask examples (${tasks}; ${batching} batches)"
    for s in ${train_set} ${valid_set}; do
        need ${dump}/${s}_mix/wav.scp
        ${python} "${root}/local/make_multitask.py" --src ${dump}/${s}_mix --dst ${dump}/${s}_mix_mt \
            --src_lang ${src_lang} --tgt_langs ${tgt_langs} --batching ${batching}
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
    need ${train_mt}/text ${valid_mt}/text ${token_dir}/tokens.txt
    mkdir -p ${stats_dir}/logs
    for n in $(seq ${nj}); do  # key files of job n: every nj-th example
        awk -v nj=${nj} -v n=${n} '(NR - 1) % nj == n - 1 {print $1}' ${train_mt}/wav.scp > ${stats_dir}/logs/train.${n}.keys
        awk -v nj=${nj} -v n=${n} '(NR - 1) % nj == n - 1 {print $1}' ${valid_mt}/wav.scp > ${stats_dir}/logs/valid.${n}.keys
    done
    run_jobs stats ${nj} ${stats_dir}/logs/stats.JOB.log -- \
        ${python} -m espnet_smoe.bin.s2t_train --collect_stats true --config ${train_config} \
            ${common_opts} $(data_opts train ${train_mt}) $(data_opts valid ${valid_mt}) \
            --train_shape_file ${stats_dir}/logs/train.JOB.keys \
            --valid_shape_file ${stats_dir}/logs/valid.JOB.keys \
            --output_dir ${stats_dir}/logs/stats.JOB ${train_args} \
        || die "statistics failed (the failed job's log is above; all: ${stats_dir}/logs/stats.*.log)"
    ${python} -m espnet2.bin.aggregate_stats_dirs $(for n in $(seq ${nj}); do echo --input_dir ${stats_dir}/logs/stats.${n}; done) \
        --output_dir ${stats_dir}
    log "statistics: $(wc -l < ${stats_dir}/train/speech_shape) training examples"
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
    mkdir -p ${exp}
    rm -f ${trained}
    nproc=$((ngpu > 0 ? ngpu : 1))  # processes per node: one per GPU
    train_cmd="${python} -m espnet_smoe.bin.s2t_train"
    dist_opts="--ngpu ${ngpu}"
    if [ $((nproc * num_nodes)) -gt 1 ]; then  # DDP: each process one GPU (none: CPU, gloo)
        dist_opts="--ngpu $((ngpu > 0 ? 1 : 0)) --multiprocessing_distributed false --dist_backend $([ ${ngpu} -gt 0 ] && echo nccl || echo gloo)"
        if [ ${cmd_backend} = local ]; then
            rdzv=--standalone
            if [ ${num_nodes} -gt 1 ]; then
                [ -n "${master_addr}" ] || die "--num_nodes ${num_nodes} with --cmd_backend local: run stage 7" \
                    "on every node with --master_addr <node 0> --node_rank <0..$((num_nodes - 1))> (or use --cmd_backend slurm)"
                rdzv="--node_rank ${node_rank} --master_addr ${master_addr} --master_port ${master_port}"
            fi
            train_cmd="${python} -m torch.distributed.run --nnodes ${num_nodes} --nproc_per_node ${nproc} ${rdzv} -m espnet_smoe.bin.s2t_train"
        fi
    fi
    train_log=${exp}/train.log
    [ ${node_rank} -eq 0 ] || train_log=${exp}/train.node${node_rank}.log
    echo "# $(date '+%Y-%m-%dT%H:%M:%S') stage 7 (resumes from ${exp}/checkpoint.pth if present${init_from:+, else starts from ${init_from}})" >> ${train_log}
    train_opts="--config ${train_config} ${common_opts} \
        $([ ${feats_normalize} = global_mvn ] && echo --normalize global_mvn \
            --normalize_conf stats_file=${stats_dir}/train/feats_stats.npz || echo --normalize ${feats_normalize}) \
        $(data_opts train ${train_mt}) $(data_opts valid ${valid_mt}) \
        --train_shape_file ${stats_dir}/train/speech_shape --train_shape_file ${stats_dir}/train/text_shape \
        --valid_shape_file ${stats_dir}/valid/speech_shape --valid_shape_file ${stats_dir}/valid/text_shape \
        --resume true ${dist_opts} --seed ${seed} --src_langs ${src_lang} \
        --output_dir ${exp} ${init_from:+--init_param ${init_from}} ${train_args}"
    if [ ${cmd_backend} = slurm ]; then  # one job: num_nodes x nproc tasks (ranks: submitit)
        run_jobs train 1 ${train_log} --append --nodes ${num_nodes} --tasks_per_node ${nproc} \
            $([ $((nproc * num_nodes)) -gt 1 ] && echo --torch_distributed) \
            $([ ${ngpu} -gt 0 ] && echo --gpus_per_node ${ngpu}) -- ${train_cmd} ${train_opts} \
            || die "training failed: see ${train_log}; rerun --stage 7 to resume"
    # pipefail: the pipeline fails when training does; grep may find nothing to show
    elif ! ${train_cmd} ${train_opts} 2>&1 | tee -a ${train_log} \
        | { grep --line-buffered -E "epoch results|ERROR|Error|Traceback" || true; }; then
        die "training failed (exit ${PIPESTATUS[0]}): see ${train_log}; rerun --stage 7 to resume"
    fi
    if [ ${node_rank} -gt 0 ]; then  # node 0 writes the model and goes on
        log "node ${node_rank}: training done"
        exit 0
    fi
    need ${exp}/${inference_model}
    date '+%Y-%m-%dT%H:%M:%S' > ${trained}
fi

inference_tag=decode_$(basename "${inference_config:-default}" .yaml)_$(basename ${inference_model} .pth)

if todo 8; then
    log "Stage 8: decoding ${eval_sets}x (${tasks}) with ${nj} jobs -> ${exp}/${inference_tag}"
    trained_or_die ${exp}/config.yaml ${exp}/${inference_model}
    # as trained, each routing ablation (swap_<stack>), each label-noise level (flip<p>), detection (auto)
    for condition in none ${route_ablation} $(for p in ${bw_flips}; do echo flip${p}; done) \
            $([ "${bw_auto}" = true ] && echo auto); do
        case ${condition} in
        none) out=${exp}/${inference_tag}; route_opts="--swap_routes none" ;;
        flip*) out=${exp}/${inference_tag}_${condition}; route_opts="--bw_flip ${condition#flip}"
               log "label noise: ${condition#flip} of the bandwidth labels flipped -> ${out}" ;;
        auto) out=${exp}/${inference_tag}_auto; route_opts="--bandwidth auto"
              log "routed by detected bandwidth, not utt2bw -> ${out}" ;;
        *) out=${exp}/${inference_tag}_swap_${condition}; route_opts="--swap_routes ${condition}"
           log "routing ablation: ${condition} routes swapped -> ${out}" ;;
        esac
        ${python} "${root}/local/decode.py" --nj ${nj} --ngpu $((ngpu > 0 ? 1 : 0)) \
            $(for s in ${eval_sets}; do echo --data ${dump}/${s}; done) \
            $(for task in ${tasks}; do echo --task_sym "<${task}>"; done) \
            --lang_sym "<${src_lang}>" ${route_opts} ${job_opts} \
            --s2t_train_config ${exp}/config.yaml --s2t_model_file ${exp}/${inference_model} \
            --output_dir ${out} ${inference_config:+--config ${inference_config}} ${inference_args}
    done
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
        --test_sets ${eval_sets} --tasks ${score_tasks} --out ${exp} --swap_routes ${route_ablation} \
        --bw_flips ${bw_flips} $([ "${bw_auto}" = true ] && echo --bw_auto) \
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
