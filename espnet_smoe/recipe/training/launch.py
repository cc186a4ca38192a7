"""Stage 7's launcher: how the training processes of one run start, on this machine or on Slurm.

===============================  ===============================================================
case                             command
===============================  ===============================================================
one process (``ngpu`` 0 or 1)    ``python -m espnet_smoe.bin.s2t_train --ngpu <ngpu> ...``
one node, ``ngpu`` > 1           ``python -m torch.distributed.run --nnodes 1 --nproc_per_node
                                 <ngpu> --standalone -m espnet_smoe.bin.s2t_train ...``
``num_nodes`` > 1, local         the same with ``--nnodes <num_nodes>`` and, for torchrun's
                                 static rendezvous at node 0, ``--node_rank <r> --master_addr
                                 <node 0> --master_port <p>``: started on every node
Slurm                            ``python -m espnet_smoe.bin.s2t_train ...`` as one job of
                                 ``num_nodes`` x processes-per-node tasks (submitit sets each
                                 task's rank: :mod:`espnet_smoe.recipe.jobs`)
===============================  ===============================================================

Data parallel (DDP) runs one process per GPU (``ngpu`` is per node), or one per node on the
CPU; each trains with ``--ngpu 1`` (``--ngpu 0`` and gloo on the CPU) and
``--multiprocessing_distributed false``, so ESPnet reads the launcher's ``env://`` variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``) instead of forking itself.
The distributed options come before the caller's, so that the caller's last word still wins.

Locally the output is appended to the log, and the lines that tell progress or failure
(:data:`SHOWN`) are also printed; on Slurm the job layer appends it to the log.
"""

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from espnet_smoe.recipe.jobs import BACKENDS, Job, run_jobs

TRAIN = ("-m", "espnet_smoe.bin.s2t_train")
SHOWN = re.compile(r"epoch results|ERROR|Error|Traceback")  # lines shown on the terminal


@dataclasses.dataclass(frozen=True)
class Launch:
    """Where the processes of one training run start (the recipe's options of the same names)."""

    ngpu: int = 0  # GPUs per node
    num_nodes: int = 1
    node_rank: int = 0  # local backend, num_nodes > 1: this node's rank (0 on the master)
    master_addr: str = ""  # local backend, num_nodes > 1: node 0's address
    master_port: int = 29500
    backend: str = "local"  # jobs.BACKENDS

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}: {' or '.join(BACKENDS)}")
        if self.ngpu < 0 or self.num_nodes < 1 or not 0 <= self.node_rank < self.num_nodes:
            raise ValueError(f"ngpu {self.ngpu}, num_nodes {self.num_nodes}, node_rank "
                             f"{self.node_rank}: want ngpu >= 0 and 0 <= node_rank < num_nodes")
        if self.backend == "local" and self.num_nodes > 1 and not self.master_addr:
            raise ValueError(f"--num_nodes {self.num_nodes} with --cmd_backend local: run stage 7 "
                             f"on every node with --master_addr <node 0> --node_rank "
                             f"<0..{self.num_nodes - 1}> (or use --cmd_backend slurm)")

    @property
    def nproc(self) -> int:
        """Processes per node: one per GPU, one on the CPU."""
        return max(self.ngpu, 1)

    @property
    def distributed(self) -> bool:
        return self.nproc * self.num_nodes > 1

    def train_options(self) -> List[str]:
        """The options each training process gets from the launch."""
        if not self.distributed:
            return ["--ngpu", str(self.ngpu)]
        return ["--ngpu", "1" if self.ngpu else "0", "--multiprocessing_distributed", "false",
                "--dist_backend", "nccl" if self.ngpu else "gloo"]

    def command(self, train_args: Sequence[str], python: str = sys.executable) -> List[str]:
        """The command that starts this node's processes (on Slurm: each task's)."""
        train = [*TRAIN, *self.train_options(), *train_args]
        if self.backend == "slurm" or not self.distributed:
            return [python, *train]
        rendezvous = ["--standalone"] if self.num_nodes == 1 else [
            "--node_rank", str(self.node_rank), "--master_addr", self.master_addr,
            "--master_port", str(self.master_port)]
        return [python, "-m", "torch.distributed.run", "--nnodes", str(self.num_nodes),
                "--nproc_per_node", str(self.nproc), *rendezvous, *train]


def train(launch: Launch, train_args: Sequence[str], log: Path, slurm: Optional[dict] = None) -> int:
    """Run the training ``launch`` describes, its output appended to ``log``; its exit status.

    ``slurm``: the submitit parameters of the ``train`` section (Slurm backend); a Slurm job
    asks for ``ngpu`` GPUs per node. Raises ``JobsFailed`` when the Slurm job fails."""
    cmd = launch.command(train_args)
    if launch.backend == "local":
        return run_logged(cmd, Path(log))
    params = {**(slurm or {}), **({"gpus_per_node": launch.ngpu} if launch.ngpu else {})}
    job = Job(cmd, str(log), os.getcwd(), append=True, torch_distributed=launch.distributed)
    run_jobs([job], backend="slurm", slurm=params, name="train", nodes=launch.num_nodes,
             tasks_per_node=launch.nproc)
    return 0


def run_logged(cmd: Sequence[str], log: Path) -> int:
    """Run ``cmd``, its output appended to ``log`` and its :data:`SHOWN` lines printed (what
    ``cmd 2>&1 | tee -a log | grep -E ...`` does); its exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                text = line.decode("utf-8", errors="replace")
                if SHOWN.search(text):
                    print(text, end="", flush=True)
        except BaseException:  # Ctrl-C: the training does not outlive the stage
            proc.terminate()
            proc.wait()
            raise
        return proc.wait()
