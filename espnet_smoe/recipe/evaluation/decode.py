"""Stage 8: decode test sets for tasks under each decode condition, with ``nj`` parallel jobs.

Every data set is decoded for every task into ``<condition dir>/<set>/<task>`` (the condition's
directory beside the as-trained decode dir: :mod:`espnet_smoe.recipe.evaluation.conditions`). Per condition,
each set's keys are split into ``nj`` parts; job n decodes part n of every set for every task with
:func:`espnet_smoe.decoding.data_dir.decode_data_dir`, all in one process (one interpreter and
one set of espnet2 imports per job, not per set and task; its log is
``<condition dir>/logs/decode.<n>.log``). Jobs share the CPU threads equally; one progress bar
covers all of them. Then each set x task's ``<n>best_recog/*``, ``too_short`` (utterances too
short to decode: empty hypotheses), ``bandwidth`` (each utterance's route), ``bw_disagree`` and
``timing.json`` are merged from the jobs' parts. The jobs run through the recipe's job layer
(:mod:`espnet_smoe.recipe.jobs`): ``local`` on this machine, ``slurm`` as a submitit job array
with the ``decode`` section of the Slurm YAML. A failing job stops the stage with its log's tail.
With one local job, decoding runs in this process.
"""

import json
import logging
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple

from tqdm import tqdm

from espnet_smoe.recipe import jobs as job_layer
from espnet_smoe.recipe.evaluation.conditions import TRAINED, DecodeCondition
from espnet_smoe.recipe.datadir import read_table, write_table

LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"


class DecodeFailed(RuntimeError):
    """A job failed, or left utterances undecoded; the message says where to look."""


@dataclass(frozen=True)
class DecodePlan:
    """What stage 8 decodes, and how. ``output_dir``: the as-trained decode dir; ``config``: an
    inference YAML and ``inference_args`` further options, both for every decoding call (after the
    condition's own); ``slurm``: the job layer's submitit parameters of the ``decode`` section
    (:func:`espnet_smoe.recipe.jobs.slurm_of`), None to run on this machine."""

    data: Tuple[Path, ...]
    task_syms: Tuple[str, ...]
    output_dir: Path
    lang_sym: str
    s2t_train_config: str
    s2t_model_file: str
    conditions: Tuple[DecodeCondition, ...] = (TRAINED,)
    nj: int = 1
    ngpu: int = 0
    config: Optional[str] = None
    inference_args: Tuple[str, ...] = ()
    slurm: Optional[Mapping] = None

    @property
    def backend(self) -> str:
        return "local" if self.slurm is None else "slurm"

    def task_dir(self, condition: DecodeCondition, data: Path, task: str) -> Path:
        return condition.directory(self.output_dir) / data.name / task.strip("<>")

    def keys_file(self, condition: DecodeCondition, data: Path, job: int) -> Path:
        """Job n's part of a set's keys, shared by every task."""
        return condition.directory(self.output_dir) / data.name / "logs" / f"keys.{job}.scp"

    def log(self, condition: DecodeCondition, job: int) -> Path:
        return condition.directory(self.output_dir) / "logs" / f"decode.{job}.log"


def decode(plan: DecodePlan, relaunch: Sequence[str]) -> None:
    """Decode every condition of ``plan``. ``relaunch``: the command line that runs job n of a
    condition (:func:`run_job`) when given ``--conditions <label> --job <n>`` (local/decode.py's)."""
    for condition in plan.conditions:
        _decode_condition(plan, condition, relaunch)


def _decode_condition(plan: DecodePlan, condition: DecodeCondition, relaunch: Sequence[str]) -> None:
    keys = {data: sorted(read_table(data / "wav.scp")) for data in plan.data}
    nj = max(1, min(plan.nj, min(len(k) for k in keys.values())))
    for data, set_keys in keys.items():
        for n in range(1, nj + 1):
            part = plan.keys_file(condition, data, n)
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_text("".join(f"{k}\n" for k in set_keys[n - 1 :: nj]), encoding="utf-8")
            for task in plan.task_syms:  # an earlier run's outputs
                shutil.rmtree(plan.task_dir(condition, data, task) / "logs" / f"output.{n}", ignore_errors=True)
    plan.log(condition, 1).parent.mkdir(parents=True, exist_ok=True)
    if nj == 1 and plan.backend == "local":
        with _logging_to(plan.log(condition, 1)):
            run_job(plan, condition, 1)
    else:
        _run_jobs(plan, condition, nj, sum(len(k) for k in keys.values()) * len(plan.task_syms), relaunch)
    for data, set_keys in keys.items():
        for task in plan.task_syms:
            merge(plan.task_dir(condition, data, task), nj, set_keys)


@contextmanager
def _logging_to(log: Path):
    """Log lines to ``log`` while decoding in this process (the progress bars stay on the terminal)."""
    handler = logging.FileHandler(log, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def decode_job(plan: DecodePlan, job: int) -> None:
    """Job n of the plan's one condition, in a process :func:`decode` started: its log lines go
    to stderr, which the job layer sends to the job's log."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.captureWarnings(True)
    (condition,) = plan.conditions
    run_job(plan, condition, job)


def run_job(plan: DecodePlan, condition: DecodeCondition, job: int) -> None:
    """Job n of a condition: its part of every set, for every task, in this process."""
    from espnet_smoe.decoding.data_dir import decode_data_dir, get_parser  # torch and espnet2: jobs only

    for data in plan.data:
        for task in plan.task_syms:
            cmd = ["--ngpu", str(plan.ngpu), "--num_workers", "0",
                   "--data_path_and_name_and_type", f"{data / 'wav.scp'},speech,kaldi_ark",
                   "--data_path_and_name_and_type", f"{data / 'utt2bw'},bandwidth,text",
                   "--key_file", str(plan.keys_file(condition, data, job)), "--lang_sym", plan.lang_sym,
                   "--task_sym", task, "--s2t_train_config", plan.s2t_train_config,
                   "--s2t_model_file", plan.s2t_model_file,
                   "--output_dir", str(plan.task_dir(condition, data, task) / "logs" / f"output.{job}"),
                   *(["--config", plan.config] if plan.config else []), *condition.inference_args(),
                   *plan.inference_args]
            logging.info(f"decoding {data} {task} ({condition.label}): {' '.join(cmd)}")
            try:
                decode_data_dir(get_parser().parse_args(cmd))
            except Exception as e:
                logging.exception(f"decoding {data} {task} failed")
                raise DecodeFailed(f"decoding {data} {task} failed (see {plan.log(condition, job)}): "
                                   f"{type(e).__name__}: {e}") from e


def _run_jobs(plan: DecodePlan, condition: DecodeCondition, nj: int, total: int, relaunch: Sequence[str]):
    """One process per job (``relaunch``) through the job layer; local jobs share the CPU
    threads equally; one progress bar covers them all."""
    jobs = [job_layer.Job([*relaunch, "--conditions", condition.label, "--job", str(n)],
                          str(plan.log(condition, n)), os.getcwd()) for n in range(1, nj + 1)]
    slurm = None if plan.slurm is None else {
        **({"gpus_per_node": plan.ngpu} if plan.ngpu > 0 else {}), **plan.slurm}
    scores = [plan.task_dir(condition, data, task) / "logs" / f"output.{n}" / "1best_recog" / "score"
              for data in plan.data for task in plan.task_syms for n in range(1, nj + 1)]

    with tqdm(total=total, desc=f"decoding {len(plan.data)} sets x {len(plan.task_syms)} tasks") as bar:
        try:
            job_layer.run_jobs(jobs, backend=plan.backend, slurm=slurm, name="decode",
                               poll=lambda: bar.update(sum(_count(p) for p in scores) - bar.n))
        except job_layer.JobsFailed as e:
            raise DecodeFailed(f"decoding failed: {e}") from e


def _count(path: Path) -> int:
    return sum(1 for _ in open(path, encoding="utf-8")) if path.is_file() else 0


def merge(out: Path, nj: int, keys: Sequence[str]) -> None:
    """Concatenate the jobs' outputs of one set and task; every key must have been decoded."""
    logs = out / "logs"
    for best in sorted({p.name for p in (logs / "output.1").glob("*best_recog")}):
        (out / best).mkdir(exist_ok=True)
        for name in sorted({p.name for p in (logs / "output.1" / best).iterdir()}):
            merged: Dict[str, str] = {}
            for n in range(1, nj + 1):
                part = logs / f"output.{n}" / best / name
                if part.is_file():
                    merged.update(read_table(part))
            if best == "1best_recog" and name == "score" and len(merged) != len(keys):
                missing = sorted(set(keys) - set(merged))
                raise DecodeFailed(f"{out}: {len(missing)} utterances were not decoded, e.g. {missing[:5]}")
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
