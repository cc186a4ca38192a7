"""Data-parallel training on CPU: two "nodes" of one process each, started on this machine by the
commands stage 7's launcher (espnet_smoe/recipe/training/launch.py) gives each node of a local multi-node
run (``torchrun`` with a static rendezvous at node 0, the gloo backend), train the smoke model on
single-task batches, and follow the same trajectory as one process given the same global batches.

Why the trajectories must match. ESPnet (``espnet2/tasks/abs_task.py``,
``build_sequence_iter_factory``) builds the global mini-batches exactly as for one process (same
sampler, same ``seed + epoch`` shuffle) and then gives rank r the examples ``batch[r::2]`` of
each. The S2T model's loss is a per-utterance mean (CTC and label-smoothed attention losses are
summed over tokens and divided by the batch size; ``length_normalized_loss: false``) and its
weight is the batch size. ``espnet2/train/trainer.py`` (``train_one_epoch``) turns rank r's loss
into ``loss_r * B_r / B * world_size`` (``recursive_average`` all-reduces the weights), and DDP's
all-reduce divides the summed gradients by ``world_size``: the applied gradient is
``sum_r B_r / B * grad(loss_r)`` = the gradient of the full batch's mean loss. The reported loss
is the same weighted mean. So, in exact arithmetic, both runs take the same steps.

What could break the match, and how the test rules it out:

* dropout draws differ (each rank draws masks for its half-batch from the same seed): the test
  config sets every dropout rate to 0;
* padding: a half-batch is padded to its own longest utterance. The S-MoE model extracts
  features and subsamples each utterance at its own length (``espnet_smoe/nets/padding.py``), so
  the utterances keep their different lengths here;
* float summation order (gradient all-reduce, matmuls over 2 vs 4 utterances): measured, the
  losses agree to the last digit and the parameters to ~1e-7, asserted with ``rtol=1e-5``
  (losses) and ``atol=1e-6`` (parameters after the last step). The one exception is the
  attention *key* biases: their true gradient is 0 (adding ``q.b`` to every score of a query
  leaves the softmax unchanged), so their gradients are rounding noise (~1e-9), which Adam
  normalises into steps of up to ``lr (1 - beta1) / sqrt(1 - beta2)`` = 3.2 ``lr`` (Kingma & Ba,
  sec. 2.1): for them the test asserts that bound, ``|difference| <= 2 * 3.2 * lr * steps``
  (measured: 1e-4, the bound 2e-2).

Single-task batches leave one decoder expert without gradient in every step; the task sets
``--unused_parameters true`` (``find_unused_parameters`` of DDP in ESPnet's trainer) by default,
without which DDP fails at the second step ("Expected to have finished reduction in the prior
iteration"; checked by hand with `--unused_parameters false`). The test checks that each step
used one expert only.
"""

import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet_smoe.recipe.training.launch import Launch
from tiny_corpus import TINY_CONFIG, write_tiny_corpus

pytestmark = pytest.mark.slow
STEPS = 3
FIELDS = [("wav.scp", "speech", "sound"), ("text", "text", "text"), ("text.ctc", "text_ctc", "text"),
          ("text.prev", "text_prev", "text"), ("utt2bw", "bandwidth", "text")]
NO_DROPOUT = {"dropout_rate": 0.0, "positional_dropout_rate": 0.0}


def single_task_corpus(root: Path) -> dict:
    """The tiny corpus with ``utt2category`` (single-task batches, as stage 5's interleaved
    batching writes), shape files, and a config without dropout that trains one step per epoch."""
    corpus = write_tiny_corpus(root)
    data = corpus["data"]
    keys = [line.split()[0] for line in (data / "wav.scp").read_text().splitlines()]
    (data / "utt2category").write_text("".join(f"{k} {k.split('_', 1)[1]}\n" for k in keys))
    wavs = dict(line.split() for line in (data / "wav.scp").read_text().splitlines())
    (root / "speech_shape").write_text("".join(f"{k} {sf.info(wavs[k]).frames}\n" for k in keys))
    (root / "text_shape").write_text("".join(f"{k} 12\n" for k in keys))
    config = {**TINY_CONFIG, "max_epoch": STEPS, "num_iters_per_epoch": 1}
    config["encoder_conf"] = {**TINY_CONFIG["encoder_conf"], **NO_DROPOUT, "attention_dropout_rate": 0.0}
    config["decoder_conf"] = {**TINY_CONFIG["decoder_conf"], **NO_DROPOUT,
                              "self_attention_dropout_rate": 0.0, "src_attention_dropout_rate": 0.0}
    corpus["config"].write_text(yaml.safe_dump(config), encoding="utf-8")
    return corpus


def train_args(root: Path, corpus: dict, out: str) -> list:
    args = ["--config", str(corpus["config"]), "--token_list", str(corpus["token_list"]),
            "--bpemodel", str(corpus["bpemodel"]), "--num_att_plot", "0", "--output_dir", str(root / out),
            "--fold_length", "80000", "--fold_length", "150"]
    for split in ("train", "valid"):
        for path, name, kind in FIELDS:
            args += [f"--{split}_data_path_and_name_and_type", f"{corpus['data'] / path},{name},{kind}"]
        args += [f"--{split}_shape_file", str(root / "speech_shape"),
                 f"--{split}_shape_file", str(root / "text_shape")]
    return args


def trajectory(exp: Path):
    """Per-epoch (= per-step) training statistics and the final parameters."""
    ckpt = torch.load(exp / "checkpoint.pth", weights_only=False, map_location="cpu")
    stats = ckpt["reporter"]["stats"]
    return [{k: float(v) for k, v in stats[e]["train"].items() if isinstance(v, (int, float))}
            for e in sorted(stats)], ckpt["model"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    corpus = single_task_corpus(root)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    single = subprocess.Popen(Launch().command(train_args(root, corpus, "single")), cwd=root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with socket.socket() as s:  # a free port for node 0's rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nodes = [subprocess.Popen(Launch(ngpu=0, num_nodes=2, node_rank=rank, master_addr="127.0.0.1",
                                     master_port=port).command(train_args(root, corpus, "ddp")),
                              cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in (0, 1)]
    outputs = {}
    for name, proc in (("single", single), ("ddp", nodes[0]), ("ddp node 1", nodes[1])):
        try:
            outputs[name] = proc.communicate(timeout=240)[0]
        except subprocess.TimeoutExpired:
            for p in (single, *nodes):
                p.kill()
            pytest.fail(f"{name} training did not finish in 240 s (DDP hang on unused parameters?)")
        assert proc.returncode == 0, f"{name} training failed:\n{outputs[name][-4000:]}"
    return root, outputs


def test_two_gloo_processes_train_as_one_data_parallel_job(runs):
    root, outputs = runs
    assert "world_size=2" in outputs["ddp"].replace(" ", "") or ":0/2]" in outputs["ddp"], outputs["ddp"][-3000:]
    config = yaml.safe_load((root / "ddp/config.yaml").read_text())
    assert config["unused_parameters"] is True and config["dist_backend"] == "gloo"


def test_each_step_trains_one_decoder_expert(runs):
    root, _ = runs
    steps, _ = trajectory(root / "ddp")
    assert len(steps) == STEPS
    for s in steps:  # a single-task batch: one expert has every token, the other none
        assert sorted([s["dec_e0"], s["dec_e1"]]) == [0.0, 1.0], s


def test_loss_trajectory_and_parameters_match_one_process(runs):
    root, _ = runs
    single, single_params = trajectory(root / "single")
    ddp, ddp_params = trajectory(root / "ddp")
    for key in ("loss", "loss_att", "loss_ctc"):
        a, b = [s[key] for s in single], [s[key] for s in ddp]
        np.testing.assert_allclose(b, a, rtol=1e-5, err_msg=key)
    assert len({round(s["loss"], 3) for s in single}) == STEPS  # the steps changed the model
    assert single_params.keys() == ddp_params.keys()
    lr = TINY_CONFIG["optim_conf"]["lr"]
    for name, p in single_params.items():
        if name.endswith("linear_k.bias"):  # zero true gradient: Adam steps on rounding noise
            assert (ddp_params[name] - p).abs().max() <= 2 * 3.2 * lr * STEPS, name
        else:
            torch.testing.assert_close(ddp_params[name], p, atol=1e-6, rtol=0, msg=name)
