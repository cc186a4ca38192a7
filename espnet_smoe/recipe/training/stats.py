"""Stage 6: shape files and feature statistics with ESPnet's collect_stats, split over jobs.

Job n of N collects every N-th example of the training and validation sets (their keys in
``<out>/logs/{train,valid}.<n>.keys``) into ``<out>/logs/stats.<n>``, through the job layer
(:mod:`espnet_smoe.recipe.jobs`); ESPnet's ``aggregate_stats_dirs`` then sums the jobs into
``<out>/train`` and ``<out>/valid`` (``speech_shape``, ``text_shape``, ``feats_stats.npz``),
which training reads.
"""

import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from espnet2.bin.aggregate_stats_dirs import aggregate_stats_dirs

from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.recipe.jobs import Job, run_jobs


def split_keys(scp: Path, nj: int) -> List[List[str]]:
    """The keys of ``scp`` dealt to ``nj`` jobs: job n gets every nj-th, from the n-th."""
    keys = list(read_table(scp))
    return [keys[n::nj] for n in range(nj)]


def collect_stats(train_args: Sequence[str], train_dir: Path, valid_dir: Path, out: Path, nj: int,
                  backend: str = "local", slurm: Optional[dict] = None) -> int:
    """Collect the statistics of the examples in ``train_dir`` and ``valid_dir`` (data dirs
    with ``wav.scp``) into ``out``, with ``nj`` jobs of ``s2t_train --collect_stats true
    <train_args>``; return the number of training examples. Raises ``JobsFailed``."""
    logs = Path(out) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for split, data in (("train", train_dir), ("valid", valid_dir)):
        for n, keys in enumerate(split_keys(Path(data) / "wav.scp", nj), 1):
            (logs / f"{split}.{n}.keys").write_text("".join(f"{k}\n" for k in keys), encoding="utf-8")
    jobs = [Job([sys.executable, "-m", "espnet_smoe.bin.s2t_train", "--collect_stats", "true",
                 "--train_shape_file", str(logs / f"train.{n}.keys"),
                 "--valid_shape_file", str(logs / f"valid.{n}.keys"),
                 "--output_dir", str(logs / f"stats.{n}"), *train_args],
                str(logs / f"stats.{n}.log"), os.getcwd()) for n in range(1, nj + 1)]
    run_jobs(jobs, backend=backend, slurm=slurm, name="stats")
    aggregate_stats_dirs([logs / f"stats.{n}" for n in range(1, nj + 1)], out, "INFO", False)
    return len((Path(out) / "train" / "speech_shape").read_text(encoding="utf-8").splitlines())
