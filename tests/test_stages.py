"""Steps that skip finished work (espnet_smoe/recipe/stages.py, CLI espnet_smoe.bin.run_step):
a step's ``.done`` marker holds while its command and inputs are those it ran with."""

import logging
import os
import subprocess
import sys

import pytest

from espnet_smoe.recipe.stages import MARKER, MissingInput, Step, run_step


def counting_step(tmp_path, *options: str) -> Step:
    """Copies ``in`` to ``out`` and counts its runs in ``runs``."""
    script = f"mkdir -p out && cp -r in/. out/ && echo {' '.join(options) or '-'} >> runs"
    return Step(3, tmp_path / "out", (tmp_path / "in",), ("bash", "-c", f"cd {tmp_path} && {script}"))


def runs(tmp_path):
    return (tmp_path / "runs").read_text().splitlines() if (tmp_path / "runs").exists() else []


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "in/wav").mkdir(parents=True)
    (tmp_path / "in/text").write_text("a hola\n")
    (tmp_path / "in/wav/a.wav").write_bytes(b"RIFF")
    return tmp_path / "in"


def test_a_step_runs_once_and_again_when_its_options_change(tmp_path, inputs, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(2):
        assert run_step(counting_step(tmp_path)) == 0
    assert runs(tmp_path) == ["-"]
    assert "Stage 3: " + str(tmp_path / "out") + " up to date, skipped" in caplog.text
    assert run_step(counting_step(tmp_path, "--seed", "2")) == 0
    assert run_step(counting_step(tmp_path, "--seed", "2")) == 0
    assert runs(tmp_path) == ["-", "--seed 2"]


def test_a_changed_added_or_removed_input_file_reruns_the_step(tmp_path, inputs):
    step = counting_step(tmp_path)
    run_step(step)
    stat = (inputs / "wav/a.wav").stat()
    os.utime(inputs / "wav/a.wav", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # rewritten
    run_step(step)
    (inputs / "utt2bw").write_text("a wb\n")
    run_step(step)
    (inputs / "utt2bw").unlink()
    run_step(step)
    run_step(step)
    assert len(runs(tmp_path)) == 4


def test_a_failed_or_interrupted_step_runs_again(tmp_path, inputs):
    failing = Step(3, tmp_path / "out", (inputs,), ("bash", "-c", f"echo x >> {tmp_path}/runs; exit 3"))
    assert run_step(failing) == 3 and run_step(failing) == 3
    assert runs(tmp_path) == ["x", "x"] and not (tmp_path / "out" / MARKER).exists()
    run_step(counting_step(tmp_path))
    assert (tmp_path / "out" / MARKER).exists()
    (tmp_path / "in/text").write_text("a adios\n")
    # the marker goes before the command runs: an interrupted run leaves none
    assert run_step(Step(3, tmp_path / "out", (inputs,), ("test", "!", "-e", str(tmp_path / "out" / MARKER)))) == 0


def test_a_missing_input_is_named_before_anything_runs(tmp_path):
    with pytest.raises(MissingInput, match=r"missing .*/nothing: run the earlier stages first"):
        run_step(Step(4, tmp_path / "out", (tmp_path / "nothing",), ("touch", str(tmp_path / "ran"))))
    assert not (tmp_path / "ran").exists()


def test_cli_passes_the_command_its_options_and_exit_status(tmp_path, inputs):
    def cli(*cmd):
        return subprocess.run([sys.executable, "-m", "espnet_smoe.bin.run_step", "--stage", "5", "--out", "out",
                               "--input", "in", "in/text", "--", *cmd], cwd=tmp_path, capture_output=True, text=True)

    first, again = cli("bash", "-c", "mkdir out; echo --input ran"), cli("bash", "-c", "mkdir out; echo --input ran")
    assert first.returncode == 0 and first.stdout == "--input ran\n"
    assert again.returncode == 0 and again.stdout.endswith("Stage 5: out up to date, skipped\n")
    assert cli("bash", "-c", "exit 4").returncode == 4
    missing = subprocess.run([sys.executable, "-m", "espnet_smoe.bin.run_step", "--stage", "5", "--out", "out",
                              "--input", "gone", "--", "true"], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 1 and "missing gone: run the earlier stages first" in missing.stderr
