#!/usr/bin/env python3
"""Stage 8: decode test sets for tasks with ``--nj`` parallel jobs, showing progress.

Every ``--data`` set is decoded for every ``--task_sym`` into ``<output_dir>/<set>/<task>``.
Each set's keys are split into ``--nj`` parts; job n decodes part n of every set for every task
with ``espnet_smoe.bin.s2t_inference``, all in one process (one interpreter and one set of
espnet2 imports per job, not per set and task; its log is ``<output_dir>/logs/decode.<n>.log``).
Jobs share the CPU threads equally; one progress bar covers all of them. Then each set × task's
``<n>best_recog/*``, ``too_short`` (utterances too short to decode: empty hypotheses),
``bandwidth`` (each utterance's route), ``bw_disagree`` and ``timing.json`` are merged from the
jobs' parts. The jobs run through the recipe's job layer (:mod:`espnet_smoe.recipe.jobs`):
``--cmd_backend local`` (default) on this machine, ``slurm`` as a submitit job array with the
``decode`` section of ``--slurm_conf`` (and ``--slurm_args``). A failing job stops the stage with
its log's tail. Options this script does not know (``--swap_routes``, ``--beam_size``, ...) go to
every s2t_inference call. With one local job, decoding runs in this process.

Usage:
    python local/decode.py --nj 2 --data dump/raw/test_wb --data dump/raw/test_nb \
        --task_sym '<asr>' --task_sym '<st_eng>' --lang_sym '<spa>' \
        --output_dir exp/s2t/decode --s2t_train_config exp/s2t/config.yaml \
        --s2t_model_file exp/s2t/valid.acc.ave.pth --config conf/decode.yaml
"""

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import List

from tqdm import tqdm

from espnet_smoe.recipe import jobs as job_layer
from espnet_smoe.recipe.datadir import read_table, write_table


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="dumped data dir (wav.scp, utt2bw); repeat for several sets")
    parser.add_argument("--task_sym", action="append", required=True, help="repeat for several tasks")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--nj", type=int, default=1)
    parser.add_argument("--job", type=int, help=argparse.SUPPRESS)  # set for the jobs this script starts
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--lang_sym", required=True)
    parser.add_argument("--s2t_train_config", required=True)
    parser.add_argument("--s2t_model_file", required=True)
    parser.add_argument("--config", help="inference config (YAML of s2t_inference options)")
    parser.add_argument("--cmd_backend", choices=job_layer.BACKENDS, default="local",
                        help="where the jobs run: this machine, or Slurm through submitit")
    parser.add_argument("--slurm_conf", help="YAML of submitit parameters (its decode section)")
    parser.add_argument("--slurm_args", nargs="*", default=[], metavar="KEY=VALUE",
                        help="submitit parameters over the YAML's")
    return parser.parse_known_args()


def task_dir(args, data: Path, task: str) -> Path:
    return args.output_dir / data.name / task.strip("<>")


def keys_file(args, data: Path, job: int) -> Path:
    """Job n's part of a set's keys, shared by every task."""
    return args.output_dir / data.name / "logs" / f"keys.{job}.scp"


def main():
    args, inference_args = get_args()
    if args.job is not None:
        return run_job(args, inference_args, args.job, log_to_file=False)
    keys = {data: sorted(read_table(data / "wav.scp")) for data in args.data}
    nj = max(1, min(args.nj, min(len(k) for k in keys.values())))
    for data, set_keys in keys.items():
        for n in range(1, nj + 1):
            part = keys_file(args, data, n)
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_text("".join(f"{k}\n" for k in set_keys[n - 1 :: nj]), encoding="utf-8")
            for task in args.task_sym:  # an earlier run's outputs
                shutil.rmtree(task_dir(args, data, task) / "logs" / f"output.{n}", ignore_errors=True)
    (args.output_dir / "logs").mkdir(parents=True, exist_ok=True)
    if nj == 1 and args.cmd_backend == "local":
        run_job(args, inference_args, 1, log_to_file=True)
    else:
        run_jobs(args, nj, sum(len(k) for k in keys.values()) * len(args.task_sym))
    for data, set_keys in keys.items():
        for task in args.task_sym:
            merge(task_dir(args, data, task), nj, set_keys)


def run_job(args, inference_args: List[str], job: int, log_to_file: bool):
    """Job n: its part of every set, for every task, in this process. Its log lines go to
    ``<output_dir>/logs/decode.<n>.log``: straight there for the only job (which leaves its
    progress bars on the terminal), else through stderr, which ``run_jobs`` sends there."""
    from espnet_smoe.bin import s2t_inference

    log = args.output_dir / "logs" / f"decode.{job}.log"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
                        **(dict(filename=log, filemode="w") if log_to_file else {}))
    logging.captureWarnings(True)
    for data in args.data:
        for task in args.task_sym:
            cmd = ["--ngpu", str(args.ngpu), "--num_workers", "0",
                   "--data_path_and_name_and_type", f"{data / 'wav.scp'},speech,kaldi_ark",
                   "--data_path_and_name_and_type", f"{data / 'utt2bw'},bandwidth,text",
                   "--key_file", str(keys_file(args, data, job)), "--lang_sym", args.lang_sym,
                   "--task_sym", task, "--s2t_train_config", args.s2t_train_config,
                   "--s2t_model_file", args.s2t_model_file,
                   "--output_dir", str(task_dir(args, data, task) / "logs" / f"output.{job}")]
            try:
                s2t_inference.main(cmd + (["--config", args.config] if args.config else []) + inference_args)
            except Exception as e:
                logging.exception(f"decoding {data} {task} failed")
                sys.exit(f"decoding {data} {task} failed (see {log}): {type(e).__name__}: {e}")


def run_jobs(args, nj: int, total: int):
    """One process per job (this script with ``--job n``) through the job layer; local jobs
    share the CPU threads equally; one progress bar covers them all."""
    logs = args.output_dir / "logs"
    jobs = [job_layer.Job([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:], "--job", str(n)],
                          str(logs / f"decode.{n}.log"), os.getcwd()) for n in range(1, nj + 1)]
    slurm = None
    if args.cmd_backend == "slurm":
        slurm = job_layer.slurm_parameters(args.slurm_conf, "decode", args.slurm_args)
        if args.ngpu > 0:
            slurm.setdefault("gpus_per_node", args.ngpu)
    scores = [task_dir(args, data, task) / "logs" / f"output.{n}" / "1best_recog" / "score"
              for data in args.data for task in args.task_sym for n in range(1, nj + 1)]

    with tqdm(total=total, desc=f"decoding {len(args.data)} sets x {len(args.task_sym)} tasks") as bar:
        try:
            job_layer.run_jobs(jobs, backend=args.cmd_backend, slurm=slurm, name="decode",
                               poll=lambda: bar.update(sum(_count(p) for p in scores) - bar.n))
        except job_layer.JobsFailed as e:
            sys.exit(f"decoding failed: {e}")


def _count(path: Path) -> int:
    return sum(1 for _ in open(path, encoding="utf-8")) if path.is_file() else 0


def merge(out: Path, nj: int, keys):
    """Concatenate the jobs' outputs of one set and task; every key must have been decoded."""
    logs = out / "logs"
    for best in sorted({p.name for p in (logs / "output.1").glob("*best_recog")}):
        (out / best).mkdir(exist_ok=True)
        for name in sorted({p.name for p in (logs / "output.1" / best).iterdir()}):
            merged = {}
            for n in range(1, nj + 1):
                part = logs / f"output.{n}" / best / name
                if part.is_file():
                    merged.update(read_table(part))
            if best == "1best_recog" and name == "score" and len(merged) != len(keys):
                missing = sorted(set(keys) - set(merged))
                sys.exit(f"{out}: {len(missing)} utterances were not decoded, e.g. {missing[:5]}")
            write_table(out / best / name, merged)
    for name in ("too_short", "bandwidth", "bw_disagree"):
        parts = [logs / f"output.{n}" / name for n in range(1, nj + 1)]
        if name == "too_short" or any(p.is_file() for p in parts):  # too_short even when empty
            write_table(out / name, {k: v for p in parts if p.is_file() for k, v in read_table(p).items()})
    parts = [json.loads((logs / f"output.{n}" / "timing.json").read_text()) for n in range(1, nj + 1)]
    decode_s, audio_s = sum(p["decode_s"] for p in parts), sum(p["audio_s"] for p in parts)
    timing = dict(decode_s=round(decode_s, 3), audio_s=round(audio_s, 3), jobs=nj,
                  utterances=sum(p["utterances"] for p in parts),
                  rtf=round(decode_s / audio_s, 5) if audio_s else None)
    (out / "timing.json").write_text(json.dumps(timing) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
