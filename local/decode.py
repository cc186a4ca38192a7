#!/usr/bin/env python3
"""Stage 8: decode one test set for one task with ``--nj`` parallel jobs, showing progress.

Splits the set's keys into ``--nj`` parts, runs ``espnet_smoe.bin.s2t_inference`` on each (logs
in ``<output_dir>/logs/decode.<n>.log``; each job gets an equal share of the CPU threads), shows
one progress bar over all jobs, then merges ``<n>best_recog/*`` and the jobs' ``timing.json``
into ``<output_dir>``. A failing job stops the stage with its log's tail. Options this script
does not know (``--swap_routes``, ``--beam_size``, ...) go to every s2t_inference job. With one
job, decoding runs in this process (its log in the same file), sparing a second interpreter.

Usage:
    python local/decode.py --nj 2 --data dump/raw/test_nb --task_sym '<asr>' --lang_sym '<spa>' \
        --output_dir exp/s2t/decode/test_nb/asr --s2t_train_config exp/s2t/config.yaml \
        --s2t_model_file exp/s2t/valid.acc.ave.pth --config conf/decode.yaml
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from tqdm import tqdm

from espnet_smoe.datadir import read_table, write_table


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="dumped data dir (wav.scp, utt2bw)")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--nj", type=int, default=1)
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--lang_sym", required=True)
    parser.add_argument("--task_sym", required=True)
    parser.add_argument("--s2t_train_config", required=True)
    parser.add_argument("--s2t_model_file", required=True)
    parser.add_argument("--config", help="inference config (YAML of s2t_inference options)")
    return parser.parse_known_args()


def main():
    args, inference_args = get_args()
    keys = sorted(read_table(args.data / "wav.scp"))
    nj = max(1, min(args.nj, len(keys)))
    logs = args.output_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    commands = []
    for n in range(1, nj + 1):
        key_file = logs / f"keys.{n}.scp"
        key_file.write_text("".join(f"{k}\n" for k in keys[n - 1 :: nj]), encoding="utf-8")
        cmd = ["--ngpu", str(args.ngpu), "--num_workers", "0",
               "--data_path_and_name_and_type", f"{args.data / 'wav.scp'},speech,kaldi_ark",
               "--data_path_and_name_and_type", f"{args.data / 'utt2bw'},bandwidth,text",
               "--key_file", str(key_file), "--lang_sym", args.lang_sym, "--task_sym", args.task_sym,
               "--s2t_train_config", args.s2t_train_config, "--s2t_model_file", args.s2t_model_file,
               "--output_dir", str(logs / f"output.{n}")]
        commands.append(cmd + (["--config", args.config] if args.config else []) + inference_args)
    if nj == 1:
        decode_here(commands[0], logs / "decode.1.log")
    else:
        run_jobs(commands, logs, f"{args.data.name} {args.task_sym}", len(keys))
    merge(logs, nj, args.output_dir, keys)


def run_jobs(commands: List[List[str]], logs: Path, desc: str, total: int):
    """One s2t_inference process per job, each with an equal share of the CPU threads, under one
    progress bar; a failing job stops the stage with its log's tail."""
    threads = str(max(1, (os.cpu_count() or 1) // len(commands)))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    jobs = []
    for n, cmd in enumerate(commands, 1):
        log = open(logs / f"decode.{n}.log", "w", encoding="utf-8")
        cmd = [sys.executable, "-m", "espnet_smoe.bin.s2t_inference", *cmd]
        jobs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log, n))

    def done() -> int:
        return sum(_count(logs / f"output.{n}" / "1best_recog" / "score") for n in range(1, len(jobs) + 1))

    with tqdm(total=total, desc=desc) as bar:
        while any(p.poll() is None for p, _, _ in jobs):
            time.sleep(2)
            bar.update(done() - bar.n)
        bar.update(done() - bar.n)
    for proc, log, n in jobs:
        log.close()
        if proc.returncode != 0:
            tail = (logs / f"decode.{n}.log").read_text(encoding="utf-8")[-2000:]
            sys.exit(f"decoding job {n} failed (see {logs}/decode.{n}.log):\n{tail}")


def decode_here(cmd: List[str], log: Path):
    """The only job, in this process: its log lines go to ``log``, its progress bar to stderr."""
    from espnet_smoe.bin import s2t_inference

    logging.basicConfig(filename=log, filemode="w", level=logging.INFO,
                        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    logging.captureWarnings(True)
    try:
        s2t_inference.main(cmd)
    except Exception as e:
        logging.exception("decoding failed")
        sys.exit(f"decoding failed (see {log}): {type(e).__name__}: {e}")


def _count(path: Path) -> int:
    return sum(1 for _ in open(path, encoding="utf-8")) if path.is_file() else 0


def merge(logs: Path, nj: int, out: Path, keys):
    """Concatenate the jobs' outputs; every key must have been decoded."""
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
    parts = [json.loads((logs / f"output.{n}" / "timing.json").read_text()) for n in range(1, nj + 1)]
    decode_s, audio_s = sum(p["decode_s"] for p in parts), sum(p["audio_s"] for p in parts)
    timing = dict(decode_s=round(decode_s, 3), audio_s=round(audio_s, 3), jobs=nj,
                  utterances=sum(p["utterances"] for p in parts),
                  rtf=round(decode_s / audio_s, 5) if audio_s else None)
    (out / "timing.json").write_text(json.dumps(timing) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
