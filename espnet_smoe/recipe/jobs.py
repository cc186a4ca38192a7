"""The recipe's one job-control layer: stage 6 (statistics), 7 (training on a cluster) and 8
(decoding) run their jobs through :func:`run_jobs`, on one of two backends:

``local``
    every job at once on this machine, as a subprocess whose output goes to its own log; the
    layer waits for all of them, and if any failed it raises :class:`JobsFailed` naming the
    first failed job (lowest number) with its log's tail.
``slurm``
    through `submitit <https://github.com/facebookincubator/submitit>`_: N jobs are submitted
    as one Slurm job array (``AutoExecutor.map_array``), each with the resources of its section
    of a YAML file (``--slurm_conf``, below); the layer waits for the array and reports failures
    as the local backend does (the job's log, else submitit's stderr). submitit's own files
    (sbatch scripts, pickles, stdout/stderr) go to ``<log dir>/submitit``, which, like the
    experiment directory, must be on a file system the nodes share.

A job is a command (a list of arguments), its log and the directory it runs in. Multi-node
data-parallel training is one job of ``nodes x tasks_per_node`` Slurm tasks
(``torch_distributed=True``): each task gets the ``env://`` variables of
``submitit.helpers.TorchDistributedEnvironment`` (``MASTER_ADDR``/``MASTER_PORT``,
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), which ESPnet's ``espnet2/train/distributed_utils.py``
reads when it is not launching the processes itself (``--multiprocessing_distributed false``),
exactly as under ``torchrun``.

The Slurm YAML has a ``default`` section and one per kind of job (``stats``, ``train``,
``decode``); a job's parameters are ``default`` updated by its section, then by ``overrides``
(``key=value`` strings, the recipe's ``--slurm_args``). Keys are submitit ``AutoExecutor``
parameters, so submitit checks them::

    default: {slurm_partition: cpu, timeout_min: 240, mem_gb: 8, cpus_per_task: 2}
    train: {slurm_partition: gpu, timeout_min: 2880, mem_gb: 64, cpus_per_task: 8}
    decode: {slurm_partition: gpu, slurm_array_parallelism: 8}

The command-line form is :mod:`espnet_smoe.bin.run_jobs`.
"""

import argparse
import dataclasses
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import yaml

BACKENDS = ("local", "slurm")
TAIL = 2000  # characters of a failed job's log shown


class JobsFailed(RuntimeError):
    """Some job failed; the message names the first one and shows its log's tail."""


@dataclasses.dataclass
class Job:
    """One command with its log; callable, so that submitit can run it on a node."""

    cmd: List[str]
    log: str
    cwd: str
    env: Dict[str, str] = dataclasses.field(default_factory=dict)
    append: bool = False
    torch_distributed: bool = False

    def environ(self) -> Dict[str, str]:
        env = {**os.environ, **self.env}
        if self.torch_distributed:  # inside a Slurm task: its rank among all tasks of the job
            from submitit.helpers import TorchDistributedEnvironment

            dist = TorchDistributedEnvironment()
            env.update(MASTER_ADDR=dist.master_addr, MASTER_PORT=str(dist.master_port),
                       RANK=str(dist.rank), WORLD_SIZE=str(dist.world_size),
                       LOCAL_RANK=str(dist.local_rank), LOCAL_WORLD_SIZE=str(dist.local_world_size))
        return env

    def log_path(self, env: Dict[str, str]) -> Path:
        rank = int(env.get("RANK", 0)) if self.torch_distributed else 0
        return Path(self.log if rank == 0 else f"{self.log}.rank{rank}")

    def start(self) -> subprocess.Popen:
        env = self.environ()
        log = self.log_path(env)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a" if self.append else "w", encoding="utf-8") as out:
            return subprocess.Popen(self.cmd, cwd=self.cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def __call__(self) -> int:
        """Run on a Slurm node: raise (failing the submitit job) if the command fails."""
        proc = self.start()
        if proc.wait() != 0:
            raise RuntimeError(f"exit status {proc.returncode}: {' '.join(self.cmd)}")
        return 0


def tail(path: Path, n: int = TAIL) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


def slurm_parameters(conf: Optional[str], section: str, overrides: Sequence[str] = ()) -> dict:
    """submitit parameters for a kind of job: ``default`` of ``conf``, updated by ``section``,
    then by ``key=value`` overrides (values read as YAML: ``timeout_min=60`` is a number)."""
    sections = yaml.safe_load(Path(conf).read_text(encoding="utf-8")) if conf else {}
    sections = sections or {}
    unknown = set(sections) - {"default", "stats", "train", "decode"}
    if unknown:
        raise ValueError(f"{conf}: unknown sections {sorted(unknown)} (default, stats, train, decode)")
    params = {**(sections.get("default") or {}), **(sections.get(section) or {})}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"slurm argument {item!r} is not key=value")
        params[key.strip()] = yaml.safe_load(value)
    return params


def add_job_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    """The recipe's job options on a command line whose jobs are of kind ``section``."""
    parser.add_argument("--cmd_backend", choices=BACKENDS, default="local",
                        help="where the jobs run: this machine, or Slurm through submitit")
    parser.add_argument("--slurm_conf", help=f"YAML of submitit parameters (its {section} section)")
    parser.add_argument("--slurm_args", nargs="*", default=[], metavar="KEY=VALUE",
                        help="submitit parameters over the YAML's")


def slurm_of(args: argparse.Namespace, section: str) -> Optional[dict]:
    """The submitit parameters that :func:`add_job_arguments`' options give (None: local)."""
    if args.cmd_backend != "slurm":
        return None
    return slurm_parameters(args.slurm_conf, section, args.slurm_args)


def run_jobs(jobs: Sequence[Job], *, backend: str = "local", slurm: Optional[dict] = None,
             name: str = "jobs", threads: Optional[int] = None, nodes: int = 1,
             tasks_per_node: int = 1, poll: Optional[Callable[[], None]] = None,
             poll_s: float = 2.0) -> None:
    """Run ``jobs`` to completion on ``backend``; raise :class:`JobsFailed` if any failed.

    ``threads``: ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` of each local job (on Slurm:
    ``cpus_per_task`` when set); by default several local jobs share this machine's CPUs
    equally (each job's own default is all of them, which oversubscribes the cores: see
    docs/performance.md), and a single job keeps its environment's. ``nodes``,
    ``tasks_per_node``: the Slurm tasks of each job (multi-node training; the local backend
    runs one process per job). ``poll`` is called every ``poll_s`` seconds while the jobs run
    (progress bars)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown job backend {backend!r}: {' or '.join(BACKENDS)}")
    if not jobs:
        return
    if backend == "local":
        if any(j.torch_distributed for j in jobs) or nodes * tasks_per_node > 1:
            raise ValueError("the local backend runs one process per job: start multi-process "
                             "training with torchrun (espnet_smoe.recipe.training.launch does)")
        _run_local(jobs, threads, poll, poll_s)
    else:
        handles = submit_slurm(jobs, slurm or {}, name=name, nodes=nodes, tasks_per_node=tasks_per_node)
        wait_slurm(jobs, handles, poll, poll_s)


def _with_threads(job: Job, threads: Optional[int]) -> Job:
    if threads is None:
        return job
    return dataclasses.replace(job, env={"OMP_NUM_THREADS": str(threads),
                                         "MKL_NUM_THREADS": str(threads), **job.env})


def _run_local(jobs: Sequence[Job], threads: Optional[int], poll, poll_s: float) -> None:
    if threads is None and len(jobs) > 1:
        threads = max(1, len(os.sched_getaffinity(0)) // len(jobs))
    procs = [_with_threads(j, threads).start() for j in jobs]
    try:
        while any(p.poll() is None for p in procs):
            time.sleep(poll_s if poll else 0.2)
            if poll:
                poll()
    except BaseException:  # Ctrl-C: no job outlives the stage
        for p in procs:
            p.terminate()
        raise
    if poll:
        poll()
    failed = [n for n, p in enumerate(procs) if p.returncode != 0]
    if failed:
        n = failed[0]
        raise JobsFailed(f"{len(failed)} of {len(jobs)} jobs failed; job {n + 1} (exit status "
                         f"{procs[n].returncode}, log {jobs[n].log}):\n{tail(jobs[n].log)}")


def executor(folder: Path, params: dict):
    """A submitit Slurm executor with ``params`` (the tests replace this)."""
    import submitit

    ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    ex.update_parameters(**params)
    return ex


def submit_slurm(jobs: Sequence[Job], params: dict, *, name: str = "jobs", nodes: int = 1,
                 tasks_per_node: int = 1) -> list:
    """Submit ``jobs`` as one Slurm job array (one job: a plain job); return submitit's jobs."""
    folder = Path(jobs[0].log).parent / "submitit"
    params = {"name": name, **params}
    if nodes * tasks_per_node > 1:
        params.update(nodes=nodes, tasks_per_node=tasks_per_node)
    cpus = params.get("cpus_per_task")
    jobs = [_with_threads(j, cpus) for j in jobs]
    ex = executor(folder, params)
    logging.info(f"submitting {len(jobs)} {name} job(s) to Slurm with {params}; submitit files: {folder}")
    return ex.map_array(_call, jobs)


def _call(job: Job) -> int:  # map_array's function: one array element runs one job
    return job()


def wait_slurm(jobs: Sequence[Job], handles: list, poll=None, poll_s: float = 10.0) -> None:
    """Wait for submitted jobs; raise :class:`JobsFailed` with the first failure's log."""
    try:
        while not all(h.done() for h in handles):
            time.sleep(poll_s)
            if poll:
                poll()
    except BaseException:
        for h in handles:
            h.cancel(check=False)
        raise
    if poll:
        poll()
    failed = [(n, e) for n, e in enumerate(h.exception() for h in handles) if e is not None]
    if failed:
        n, error = failed[0]
        log = tail(jobs[n].log) or (handles[n].stderr() or "")[-TAIL:]
        raise JobsFailed(f"{len(failed)} of {len(jobs)} Slurm jobs failed; job {n + 1} (Slurm job "
                         f"{handles[n].job_id}, log {jobs[n].log}): {str(error)[-TAIL:]}\n{log}")
