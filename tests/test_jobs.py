"""The job layer (espnet_smoe/recipe/jobs.py, CLI espnet_smoe.bin.run_jobs) that stages 6, 7 and 8 use,
and stage 7's launcher over it (espnet_smoe/recipe/training/launch.py, CLI espnet_smoe.bin.launch_train).

Local jobs run for real (tiny shell commands). Slurm is tested by replacing the submission
layer, not with a fake cluster: a stand-in for ``submitit.AutoExecutor`` records what is
submitted and runs each array element in this process; and submitit's real ``SlurmExecutor``
writes its sbatch script with ``sbatch`` itself replaced, to check the resources it asks for.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from espnet_smoe.bin import launch_train
from espnet_smoe.bin import run_jobs as cli
from espnet_smoe.recipe import jobs
from espnet_smoe.recipe.training.launch import Launch, run_logged

REPO = Path(__file__).resolve().parents[1]
SH = ["bash", "-c"]


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "espnet_smoe.bin.run_jobs", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_local_jobs_substitute_job_and_write_one_log_each(tmp_path):
    proc = run_cli("--nj", "3", "--log", "logs/j.JOB.log", "--", *SH,
                   "echo out JOB > out.JOB; echo hello from JOB; echo err JOB >&2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for n in (1, 2, 3):
        assert (tmp_path / f"out.{n}").read_text() == f"out {n}\n"
        assert (tmp_path / f"logs/j.{n}.log").read_text().split("\n")[:2] == [f"hello from {n}", f"err {n}"]


def test_local_jobs_run_concurrently(tmp_path):
    """Each job waits for the other's file: run one after the other, they would never end."""
    job = "touch ready.JOB; for i in $(seq 100); do [ -e ready.{other} ] && exit 0; sleep 0.1; done; exit 1"
    start = time.monotonic()
    jobs.run_jobs([jobs.Job([*SH, job.replace("JOB", str(n)).replace("{other}", str(3 - n))],
                            str(tmp_path / f"{n}.log"), str(tmp_path)) for n in (1, 2)])
    assert time.monotonic() - start < 9


def test_a_failed_local_job_fails_with_its_log_and_the_others_still_finish(tmp_path):
    proc = run_cli("--nj", "3", "--log", "logs/j.JOB.log", "--", *SH,
                   "if [ JOB = 2 ]; then echo 'job two broke: disk full'; exit 3; fi; sleep 0.5; touch done.JOB",
                   cwd=tmp_path)
    assert proc.returncode == 1
    assert "1 of 3 jobs failed; job 2 (exit status 3" in proc.stderr
    assert "job two broke: disk full" in proc.stderr
    assert (tmp_path / "done.1").exists() and (tmp_path / "done.3").exists()


def test_local_threads_are_shared_and_the_environment_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("SMOE_TEST_VAR", "kept")
    jobs.run_jobs([jobs.Job([*SH, "echo $OMP_NUM_THREADS $SMOE_TEST_VAR"], str(tmp_path / "t.log"),
                            str(tmp_path))], threads=3)
    assert (tmp_path / "t.log").read_text() == "3 kept\n"


def test_several_local_jobs_share_the_cpus_by_default_and_one_keeps_its_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    job = [*SH, "echo $OMP_NUM_THREADS"]
    jobs.run_jobs([jobs.Job(job, str(tmp_path / f"{n}.log"), str(tmp_path)) for n in (1, 2)])
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert [(tmp_path / f"{n}.log").read_text() for n in (1, 2)] == [share + "\n"] * 2
    jobs.run_jobs([jobs.Job(job, str(tmp_path / "alone.log"), str(tmp_path))])
    assert (tmp_path / "alone.log").read_text() == "7\n"


def test_local_backend_refuses_multi_process_jobs(tmp_path):
    with pytest.raises(ValueError, match="torchrun"):
        jobs.run_jobs([jobs.Job(["true"], str(tmp_path / "l"), str(tmp_path))], nodes=2)


# --- Slurm, with the submission layer replaced ---------------------------------------------

class FakeJob:
    def __init__(self, fn, arg, n):
        self.job_id = f"777_{n}"
        try:
            fn(arg)
            self.error = None
        except Exception as e:  # as submitit's FailedJobError would carry it
            self.error = e

    def done(self):
        return True

    def exception(self):
        return self.error

    def stderr(self):
        return f"slurm stderr of {self.job_id}"


class FakeExecutor:
    """Stands in for submitit.AutoExecutor: records, then runs each array element here."""

    made = []

    def __init__(self, folder, cluster):
        self.folder, self.cluster, self.params, self.arrays = Path(folder), cluster, {}, []
        FakeExecutor.made.append(self)

    def update_parameters(self, **params):
        self.params.update(params)

    def map_array(self, fn, items):
        items = list(items)
        self.arrays.append(items)
        return [FakeJob(fn, item, n) for n, item in enumerate(items)]


@pytest.fixture
def fake_slurm(monkeypatch):
    submitit = pytest.importorskip("submitit")

    FakeExecutor.made = []
    monkeypatch.setattr(submitit, "AutoExecutor", FakeExecutor)
    return FakeExecutor.made


def slurm_conf(tmp_path) -> Path:
    conf = tmp_path / "slurm.yaml"
    conf.write_text(yaml.safe_dump({"default": {"slurm_partition": "cpu", "timeout_min": 60, "mem_gb": 4},
                                    "decode": {"slurm_partition": "gpu", "cpus_per_task": 2}}))
    return conf


def test_slurm_jobs_are_one_array_with_the_sections_resources(tmp_path, fake_slurm, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["--backend", "slurm", "--slurm_conf", str(slurm_conf(tmp_path)), "--slurm_section",
                     "decode", "--slurm_args", "timeout_min=30", "slurm_array_parallelism=2",
                     "--nj", "3", "--log", "logs/d.JOB.log", "--", *SH, "echo $OMP_NUM_THREADS > out.JOB"])
    assert code == 0
    (ex,) = fake_slurm
    assert ex.cluster == "slurm" and ex.folder == Path("logs/submitit")
    assert ex.params == {"name": "decode", "slurm_partition": "gpu", "timeout_min": 30, "mem_gb": 4,
                         "cpus_per_task": 2, "slurm_array_parallelism": 2}
    (array,) = ex.arrays  # one submission: an array of the three jobs
    assert [j.cmd[-1] for j in array] == [f"echo $OMP_NUM_THREADS > out.{n}" for n in (1, 2, 3)]
    assert [j.log for j in array] == [f"logs/d.{n}.log" for n in (1, 2, 3)]
    assert all(j.cwd == str(tmp_path) for j in array)
    # the jobs ran (here, in place of the nodes): results gathered, threads = cpus_per_task
    assert [(tmp_path / f"out.{n}").read_text() for n in (1, 2, 3)] == ["2\n"] * 3


def test_a_failed_slurm_job_fails_the_stage_with_its_log(tmp_path, fake_slurm, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["--backend", "slurm", "--nj", "2", "--log", "d.JOB.log", "--", *SH,
                     "[ JOB = 1 ] || { echo 'CUDA out of memory in job JOB'; exit 1; }"])
    assert code == 1
    err = capsys.readouterr().err
    assert "1 of 2 Slurm jobs failed; job 2 (Slurm job 777_1, log d.2.log)" in err
    assert "CUDA out of memory in job 2" in err


def test_slurm_training_job_spans_nodes_and_tasks(tmp_path, fake_slurm, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(jobs.Job, "__call__", lambda self: 0)  # no torch env outside Slurm
    code = cli.main(["--backend", "slurm", "--slurm_section", "train", "--nodes", "2",
                     "--tasks_per_node", "4", "--gpus_per_node", "4", "--torch_distributed", "--append",
                     "--log", "exp/train.log", "--", "python", "-m", "espnet_smoe.bin.s2t_train", "--ngpu", "1"])
    assert code == 0
    (ex,) = fake_slurm
    assert ex.params == {"name": "train", "nodes": 2, "tasks_per_node": 4, "gpus_per_node": 4}
    (job,) = ex.arrays[0]
    assert job.torch_distributed and job.append and job.cmd[-2:] == ["--ngpu", "1"]


def test_submitit_writes_the_sbatch_array_we_ask_for(tmp_path, monkeypatch):
    """submitit's real SlurmExecutor, with only ``sbatch`` (and the check for ``srun``) replaced."""
    submitit = pytest.importorskip("submitit")
    from submitit.core import utils

    calls = []

    def fake_sbatch(self, *args, **kwargs):
        calls.append(self.command)
        return "Submitted batch job 4242"

    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 2))
    monkeypatch.setattr(utils.CommandFunction, "__call__", fake_sbatch)
    params = jobs.slurm_parameters(slurm_conf(tmp_path), "decode", ["slurm_array_parallelism=2"])
    handles = jobs.submit_slurm([jobs.Job(["true"], str(tmp_path / f"logs/d.{n}.log"), str(tmp_path))
                                 for n in (1, 2, 3)], params, name="decode")
    assert [h.job_id for h in handles] == ["4242_0", "4242_1", "4242_2"]
    assert len(calls) == 1 and calls[0][0] == "sbatch"
    script = Path(calls[0][1]).read_text() if Path(calls[0][1]).exists() else \
        next((tmp_path / "logs/submitit").glob("*submission.sh")).read_text()
    for line in ("#SBATCH --array=0-2%2", "#SBATCH --partition=gpu", "#SBATCH --time=60",
                 "#SBATCH --mem=4GB", "#SBATCH --cpus-per-task=2", "#SBATCH --job-name=decode"):
        assert line in script, script

    calls.clear()  # a training job: nodes x tasks, one sbatch, not an array
    (handle,) = jobs.submit_slurm([jobs.Job(["true"], str(tmp_path / "exp/train.log"), str(tmp_path))],
                                  {"gpus_per_node": 4}, name="train", nodes=2, tasks_per_node=4)
    script = handle.paths.submission_file.read_text()
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4"):
        assert line in script, script
    assert "--array" not in script


def test_unknown_slurm_parameters_and_sections_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown sections"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("decoding: {mem_gb: 1}\n")
        jobs.slurm_parameters(str(bad), "decode")
    with pytest.raises(ValueError, match="key=value"):
        jobs.slurm_parameters(None, "stats", ["partition"])


def test_torch_distributed_job_gets_its_slurm_task_rank(tmp_path, monkeypatch):
    """Inside task 5 of a 2-node x 4-task Slurm job, as submitit runs it there."""
    pytest.importorskip("submitit")
    for k, v in {"SUBMITIT_EXECUTOR": "slurm", "SLURM_JOB_ID": "99", "SLURM_NTASKS": "8",
                 "SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1", "SLURM_JOB_NODELIST": "gpu-node[3-4]",
                 "SLURM_PROCID": "5", "SLURM_LOCALID": "1"}.items():
        monkeypatch.setenv(k, v)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    job = jobs.Job([*SH, "echo $MASTER_ADDR $RANK $WORLD_SIZE $LOCAL_RANK"], str(tmp_path / "train.log"),
                   str(tmp_path), torch_distributed=True)
    assert job() == 0
    assert (tmp_path / "train.log.rank5").read_text() == "gpu-node3 5 8 1\n"
    assert not (tmp_path / "train.log").exists()  # rank 0 alone writes the training log


# --- stage 7's launcher ----------------------------------------------------------------------

TRAIN = ["py", "-m", "espnet_smoe.bin.s2t_train"]


def test_one_process_trains_with_the_gpus_it_is_given():
    assert Launch(ngpu=0).command(["--config", "c.yaml"], python="py") == [*TRAIN, "--ngpu", "0", "--config", "c.yaml"]
    assert Launch(ngpu=1).command(["--ngpu", "0"], python="py") == [*TRAIN, "--ngpu", "1", "--ngpu", "0"]  # the caller's last


def test_gpus_of_one_node_train_data_parallel_through_torchrun():
    assert Launch(ngpu=4).command(["--config", "c.yaml"], python="py") == [
        "py", "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "4", "--standalone",
        "-m", "espnet_smoe.bin.s2t_train", "--ngpu", "1", "--multiprocessing_distributed", "false",
        "--dist_backend", "nccl", "--config", "c.yaml"]


def test_each_local_node_starts_its_share_of_a_multi_node_run_on_cpu_with_gloo():
    """(tests/test_distributed.py runs this command for two nodes on one machine)"""
    launch = Launch(ngpu=0, num_nodes=2, node_rank=1, master_addr="node0", master_port=1234)
    assert launch.command([], python="py") == [
        "py", "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1", "--node_rank", "1",
        "--master_addr", "node0", "--master_port", "1234", "-m", "espnet_smoe.bin.s2t_train", "--ngpu", "0",
        "--multiprocessing_distributed", "false", "--dist_backend", "gloo"]
    with pytest.raises(ValueError, match=r"on every node with --master_addr <node 0> --node_rank <0..2>"):
        Launch(num_nodes=3)
    with pytest.raises(ValueError, match="node_rank"):
        Launch(num_nodes=2, node_rank=2, master_addr="node0")


def test_local_training_output_goes_to_the_log_and_its_results_and_errors_to_the_terminal(tmp_path, capfd):
    log = tmp_path / "exp/train.log"
    log.parent.mkdir()
    log.write_text("# earlier run\n")
    status = run_logged(["bash", "-c", "echo 'loading data'; echo '1epoch results: loss=3.2'; "
                                      "echo 'Traceback (most recent call last):' >&2; exit 3"], log)
    assert status == 3
    assert log.read_text() == ("# earlier run\nloading data\n1epoch results: loss=3.2\n"
                               "Traceback (most recent call last):\n")
    assert capfd.readouterr().out == "1epoch results: loss=3.2\nTraceback (most recent call last):\n"


def test_cli_refuses_several_local_nodes_without_the_master(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        launch_train.main(["--log", str(tmp_path / "train.log"), "--num_nodes", "2", "--", "--config", "c.yaml"])
    assert exit.value.code == 2 and "--master_addr <node 0>" in capsys.readouterr().err
    assert not (tmp_path / "train.log").exists()


def test_slurm_training_is_one_job_of_nodes_by_gpus(tmp_path, fake_slurm, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(jobs.Job, "__call__", lambda self: 0)  # no torch env outside Slurm
    code = launch_train.main(["--log", "exp/train.log", "--ngpu", "4", "--num_nodes", "2", "--cmd_backend", "slurm",
                              "--slurm_conf", str(slurm_conf(tmp_path)), "--slurm_args", "timeout_min=30",
                              "--", "--config", "c.yaml"])
    assert code == 0
    (ex,) = fake_slurm
    assert ex.params == {"name": "train", "slurm_partition": "cpu", "timeout_min": 30, "mem_gb": 4,
                         "nodes": 2, "tasks_per_node": 4, "gpus_per_node": 4}
    (job,) = ex.arrays[0]
    assert job.torch_distributed and job.append and job.log == "exp/train.log"
    assert job.cmd == [sys.executable, "-m", "espnet_smoe.bin.s2t_train", "--ngpu", "1",
                       "--multiprocessing_distributed", "false", "--dist_backend", "nccl", "--config", "c.yaml"]


def test_slurm_training_on_one_cpu_is_one_plain_task_whose_failure_is_reported(tmp_path, fake_slurm, monkeypatch,
                                                                              capsys):
    monkeypatch.chdir(tmp_path)

    def fail(job):
        raise RuntimeError("exit status 2: s2t_train")

    monkeypatch.setattr(jobs.Job, "__call__", fail)
    code = launch_train.main(["--log", "train.log", "--cmd_backend", "slurm", "--", "--config", "c.yaml"])
    assert code == 1 and "1 of 1 Slurm jobs failed; job 1 (Slurm job 777_0, log train.log)" in capsys.readouterr().err
    (ex,) = fake_slurm
    assert ex.params == {"name": "train"}
    (job,) = ex.arrays[0]
    assert not job.torch_distributed and job.cmd[3:5] == ["--ngpu", "0"]


def test_decode_py_reports_a_failed_job_with_its_log(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text("a x.ark:1\nb x.ark:2\n")
    (data / "utt2bw").write_text("a wb\nb wb\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "local/decode.py"), "--nj", "2", "--data", str(data),
                           "--task_sym", "<asr>", "--lang_sym", "<spa>", "--output_dir", str(tmp_path / "out"),
                           "--s2t_train_config", str(tmp_path / "missing.yaml"),
                           "--s2t_model_file", str(tmp_path / "missing.pth")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    assert "decoding failed: 2 of 2 jobs failed; job 1" in proc.stderr
    assert "missing.yaml" in proc.stderr  # the job's log tail
    assert (tmp_path / "out/logs/decode.1.log").exists() and (tmp_path / "out/logs/decode.2.log").exists()
