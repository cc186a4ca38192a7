"""Integration: ``egs2/mini_es_en/s2t1/run.sh --size smoke`` runs every stage, 1 to 10.

The recipe runs in a copy of its directory inside a temporary tree whose ``local/``, ``conf/``,
``tools/`` and ``.venv`` point back to the repository, so nothing is written into the checkout.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
RECIPE = Path("egs2/mini_es_en/s2t1")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    for name in ("local", "conf", "tools", ".venv"):
        if (REPO / name).exists():
            (root / name).symlink_to(REPO / name)
    shutil.copytree(REPO / RECIPE, root / RECIPE, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))
    recipe = root / RECIPE
    proc = subprocess.run(["./run.sh", "--size", "smoke", "--nj", "2"], cwd=recipe,
                          capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, f"run.sh failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return recipe, proc.stdout


def test_every_stage_ran(smoke_run):
    _, out = smoke_run
    for stage in range(1, 11):
        assert f"Stage {stage}:" in out


def test_test_sets_exist_once_per_bandwidth(smoke_run):
    recipe, _ = smoke_run
    for bw in ("wb", "nb"):
        labels = (recipe / f"dump/raw/test_{bw}/utt2bw").read_text().split()[1::2]
        assert labels and set(labels) == {bw}
    train = (recipe / "dump/raw/train_mix/utt2bw").read_text().split()[1::2]
    assert set(train) == {"wb", "nb"}  # training mixes both bandwidths


def test_multitask_examples_carry_guiding_tokens(smoke_run):
    recipe, _ = smoke_run
    texts = dict(line.split(" ", 1) for line in
                 (recipe / "dump/raw/train_mix_mt/text").read_text().splitlines())
    categories = dict(line.split() for line in
                      (recipe / "dump/raw/train_mix_mt/utt2category").read_text().splitlines())
    assert texts and set(categories.values()) == {"asr", "st_eng"}
    for utt, text in texts.items():
        assert text.startswith(f"<spa><{categories[utt]}>"), (utt, text)


def test_results_table_and_json(smoke_run):
    recipe, _ = smoke_run
    exp = recipe / "exp/s2t_dec_smoe"  # the default config: DecS-MoE
    assert "| test set | bandwidth | task |" in (exp / "RESULTS.md").read_text()
    results = json.loads((exp / "results.json").read_text())["results"]
    got = {(r["test_set"], r["task"]) for r in results}
    assert got == {(s, t) for s in ("test_wb", "test_nb") for t in ("asr", "st_eng")}
    n_test = len((recipe / "data/test/text").read_text().splitlines())
    for r in results:
        assert r["utterances"] == n_test
        assert r["bandwidth"] == r["test_set"][-2:]
        for metric in ("wer", "cer") if r["task"] == "asr" else ("bleu", "chrf"):
            assert isinstance(r[metric], float) and r[metric] >= 0


def test_packed_model_loads_and_decodes(smoke_run):
    from espnet_smoe import Speech2Text

    recipe, _ = smoke_run
    archive = recipe / "exp/s2t_dec_smoe/s2t_dec_smoe.zip"
    s2t = Speech2Text.from_pretrained(archive, beam_size=1, maxlenratio=0.2)
    wav_path = next((recipe / "data/test_nb/wav").glob("*.wav"))
    wav, rate = sf.read(wav_path)
    assert rate == 16000
    _, tokens, *_ = s2t(wav, lang_sym="<spa>", task_sym="<st_eng>", bandwidth="nb")[0]
    assert tokens[:2] == ["<spa>", "<st_eng>"]


def test_data_stage_is_idempotent(smoke_run):
    recipe, _ = smoke_run
    proc = subprocess.run(["./run.sh", "--size", "smoke", "--stage", "1", "--stop_stage", "1"],
                          cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 0 and "skipping" in proc.stdout


def test_missing_inputs_give_a_clear_error(smoke_run):
    recipe, _ = smoke_run
    proc = subprocess.run(["./run.sh", "--size", "smoke", "--stage", "7", "--stop_stage", "7",
                           "--bbpe_vocab_size", "123"], cwd=recipe, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "missing exp/s2t_stats_bbpe123/train/speech_shape" in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def matrix_run(smoke_run):
    """The experiment matrix on the smoke data (stages 7-10): a dense, the full S-MoE (encoder
    routed by bandwidth, which the default run's DecS-MoE does not cover) and a learned-gate
    variant, one seed."""
    recipe, _ = smoke_run
    proc = subprocess.run(["./run.sh", "--size", "smoke", "--matrix", "mini", "--stage", "7",
                           "--variants", "base encdec_smoe learned_moe", "--nj", "1"],
                          cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 0, f"matrix failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return recipe / "exp/matrix"


def test_matrix_compares_variants_in_one_report(matrix_run):
    summary = json.loads((matrix_run / "results.json").read_text())
    variants = summary["variants"]
    assert list(variants) == ["base", "encdec_smoe", "learned_moe"]
    for name, v in variants.items():
        metrics = ("wer", "bleu", "cer", "chrf")
        assert set(v["scores"]) == {f"{m}_{bw}" for m in metrics for bw in ("nb", "wb")}, name
        assert v["rtf"] > 0 and v["params"]["total"] >= v["params"]["active_max"]
        assert v["per_seed"][0]["train_seconds"] > 0, name  # from ESPnet's reporter
    encdec = variants["encdec_smoe"]
    assert set(encdec["relative_to_base"]) == set(encdec["scores"])
    for key, rel in encdec["relative_to_base"].items():
        base, smoe = variants["base"]["scores"][key]["mean"], encdec["scores"][key]["mean"]
        if base == 0:
            assert rel is None, key  # no relative change against a zero score
        else:
            better = smoe < base if key.startswith(("wer", "cer")) else smoe > base
            assert (rel > 0) == better, key
    # S-MoE: more parameters in total, the same active count as Base
    assert encdec["params"]["total"] > variants["base"]["params"]["total"]
    assert encdec["params"]["active_max"] == variants["base"]["params"]["active_max"]
    report = (matrix_run / "RESULTS.md").read_text()
    assert "| EncDecS-MoE |" in report and "Routing ablation" in report and "Expert usage" in report
    assert "| variant | CER NB | CER WB | chrF NB | chrF WB |" in report
    assert (matrix_run / "matrix.png").stat().st_size > 0


def test_matrix_runs_the_routing_ablation_and_expert_usage(matrix_run):
    variants = json.loads((matrix_run / "results.json").read_text())["variants"]
    assert set(variants["encdec_smoe"]["ablation"]) == {"swap_encoder", "swap_decoder"}
    assert variants["base"]["ablation"] == {} and variants["learned_moe"]["ablation"] == {}
    usage = variants["learned_moe"]["expert_usage"]
    assert set(usage["encoder"]) == {"test_wb", "test_nb"}
    assert set(usage["decoder"]) == {f"{s}/{t}" for s in ("test_wb", "test_nb") for t in ("asr", "st_eng")}
    for layers in usage["encoder"].values():
        assert all(sum(row) == pytest.approx(1.0, abs=1e-3) for row in layers)
    assert all(0.0 <= v <= 1.0 for vals in usage["separation"].values() for v in vals)
    assert (matrix_run / "learned_moe_seed1/expert_usage.png").is_file()
