"""Integration: ``egs2/mini_es_en/s2t1/run.sh --size smoke`` runs every stage, 1 to 10, on the
smoke corpus with one utterance of each kind of bad data added after stage 1 (fault injection):
the recipe must leave out and report exactly those, and decode and score the rest.

The recipe runs in a copy of its directory inside a temporary tree whose ``local/``, ``conf/``,
``tools/`` and ``.venv`` point back to the repository, so nothing is written into the checkout.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet_smoe.recipe.datadir import read_table, write_table

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
RECIPE = Path("egs2/mini_es_en/s2t1")
# injected utterance -> (what stage 2 must do: a reason in skipped, "cut", or "kept")
TRAIN_FAULTS = {"empty": "empty", "header": "empty", "truncated": "truncated",
                "blip": "too_short", "garbage": "unreadable"}
TEST_FAULTS = {"backwards": "bad_segment", "afterend": "bad_segment", "overshoot": "overshoot",
               "longer": "cut", "tick": "kept"}  # tick: 10 ms, too short to decode


def linked_tree(root: Path) -> Path:
    """A repository tree at ``root`` whose local/, conf/, tools/ and .venv are the checkout's."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("local", "conf", "tools", ".venv"):
        if (REPO / name).exists():
            (root / name).symlink_to(REPO / name)
    return root


def run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./run.sh", "--size", "smoke", *args], cwd=recipe, capture_output=True,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def add_utterances(data: Path, utts: dict, like: str):
    """Add ``utts`` (id -> wav.scp value) with the speaker and texts of utterance ``like``."""
    for name in ("text", "text.eng", "utt2spk"):
        table = read_table(data / name)
        table.update({utt: table[like] for utt in utts})
        write_table(data / name, table)
    write_table(data / "wav.scp", {**read_table(data / "wav.scp"), **utts})


def inject_faults(data: Path):
    """One bad case of each kind: audio in data/train, segments in data/test."""
    train = sorted(read_table(data / "train/text"))[0]
    spk = read_table(data / "train/utt2spk")[train]
    wav_path = Path(read_table(data / "train/wav.scp")[train])
    wav, rate = sf.read(wav_path, dtype="float32")
    bad = data / "bad"
    bad.mkdir()
    (bad / "empty.wav").write_bytes(b"")
    sf.write(bad / "header.wav", np.zeros(0, "float32"), rate, subtype="PCM_16")
    full = wav_path.read_bytes()
    (bad / "truncated.wav").write_bytes(full[: int(0.3 * len(full))])
    sf.write(bad / "blip.wav", wav[: int(0.05 * rate)], rate, subtype="PCM_16")
    (bad / "garbage.wav").write_bytes(b"not audio at all")
    add_utterances(data / "train", {f"{spk}-zz-{k}": str(bad / f"{k}.wav") for k in TRAIN_FAULTS}, train)

    test = data / "test"
    recs = read_table(test / "wav.scp")
    seconds = {rec: sf.info(path).duration for rec, path in recs.items()}
    segments = {utt: f"{utt} 0 {seconds[utt]:.3f}" for utt in recs}
    rec = sorted(recs)[0]
    spk, dur = read_table(test / "utt2spk")[rec], seconds[rec]
    faults = {"backwards": (1.0, 0.5), "afterend": (dur + 1, dur + 2), "overshoot": (0, dur + 2),
              "longer": (0, dur + 0.2), "tick": (0.5, 0.51)}
    segments.update({f"{spk}-zz-{k}": f"{rec} {a:.3f} {b:.3f}" for k, (a, b) in faults.items()})
    for name in ("text", "text.eng", "utt2spk"):
        table = read_table(test / name)
        table.update({f"{spk}-zz-{k}": table[rec] for k in faults})
        write_table(test / name, table)
    write_table(test / "segments", segments)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = linked_tree(tmp_path_factory.mktemp("recipe"))
    shutil.copytree(REPO / RECIPE, root / RECIPE, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))
    recipe = root / RECIPE
    proc = run(recipe, "--stop_stage", "1")
    assert proc.returncode == 0, f"stage 1 failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    inject_faults(recipe / "data")
    proc = run(recipe, "--nj", "2")  # stage 1 again: checks the changed data dirs
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
    assert got == {(f"{s}_{bw}", t) for s in ("test", "test_ood") for bw in ("wb", "nb")
                   for t in ("asr", "st_eng", "cascade_st_eng")}
    n_test = len((recipe / "data/test/text").read_text().splitlines()) - 3  # 3 left out
    n_ood = len((recipe / "data/test_ood/text").read_text().splitlines())
    for r in results:
        cascade = r["task"] == "cascade_st_eng"  # no decoding of its own: no timing, too_short
        if r["test_set"].startswith("test_ood"):
            assert (r["utterances"], r["skipped"], r["too_short"]) == (n_ood, 0, None if cascade else 0)
        else:
            assert (r["utterances"], r["skipped"], r["too_short"]) == (n_test, 3, None if cascade else 1)
        assert r["bandwidth"] == r["test_set"][-2:] and (r["rtf"] is None) == cascade
        for metric in ("wer", "cer") if r["task"] == "asr" else ("bleu", "chrf"):
            assert isinstance(r[metric], float) and r[metric] >= 0
    assert "cascade_st_<l>: the asr transcripts translated by `python3 local/apertium.py {tgt}`" in (
        exp / "RESULTS.md").read_text()


def test_test_ood_is_another_domain_spoken_by_new_voices(smoke_run):
    """test_ood: software messages with their programs' English, voices no other split has."""
    recipe, _ = smoke_run
    data = recipe / "data"
    voices = {s: {v.split()[0] for v in read_table(data / s / "spk2voice").values()}
              for s in ("train", "dev", "test", "test_ood")}
    assert voices["test_ood"] and all(not voices["test_ood"] & voices[s] for s in ("train", "dev", "test"))
    text, english = read_table(data / "test_ood/text"), read_table(data / "test_ood/text.eng")
    assert set(text) == set(english) and not set(text.values()) & set(read_table(data / "train/text").values())
    assert all(utt.startswith("testood") and "-ui" in utt for utt in text)


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


def faults_where(recipe: Path, data_set: str, name: str) -> dict:
    """Injected utterances listed in ``data/<data_set>/<name>``: kind -> first word of value."""
    table = read_table(recipe / "data" / data_set / name)
    return {utt.rsplit("-zz-", 1)[1]: value.split()[0] for utt, value in table.items()}


def test_stage_2_leaves_out_and_lists_exactly_the_bad_audio(smoke_run):
    recipe, out = smoke_run
    skipped = {k: v for k, v in TRAIN_FAULTS.items() if v not in ("cut", "kept")}
    assert faults_where(recipe, "train_mix", "skipped") == skipped
    assert faults_where(recipe, "train_mix", "cut") == {}
    assert "skipped 5 (unreadable 1, empty 2, truncated 1, too_short 1); cut 0" in out
    for bw in ("wb", "nb"):
        lists = {k: v for k, v in TEST_FAULTS.items() if v not in ("cut", "kept")}
        assert faults_where(recipe, f"test_{bw}", "skipped") == lists
        assert faults_where(recipe, f"test_{bw}", "cut") == {"longer": "cut"}
        dumped = read_table(recipe / f"dump/raw/test_{bw}/text")
        kept = {u.split("-zz-")[1].rsplit("-", 1)[0] for u in dumped if "-zz-" in u}
        assert kept == {"longer", "tick"}
    train = read_table(recipe / "dump/raw/train_mix/text")
    assert not any("-zz-" in utt for utt in train)


def test_too_short_test_utterances_decode_empty_and_are_reported(smoke_run):
    recipe, _ = smoke_run
    exp = recipe / "exp/s2t_dec_smoe"
    for bw in ("wb", "nb"):
        for task in ("asr", "st_eng"):
            decode = next(exp.glob(f"decode_*/test_{bw}/{task}"))
            assert [u.split("-zz-")[-1] for u in read_table(decode / "too_short")] == [f"tick-{bw}"]
            tick = next(u for u in read_table(decode / "1best_recog/text") if "-zz-tick" in u)
            assert read_table(decode / "1best_recog/text_nospecial")[tick] == ""
    report = (exp / "RESULTS.md").read_text()
    assert "- test_nb asr: 3 utterances left out at data preparation" in report
    assert "1 too short to decode (empty hypotheses" in report


def test_decoding_does_not_depend_on_nj(smoke_run):
    """--nj 2 (and batches of 8) once scored differently from --nj 1: padded utterances got
    extra encoder frames."""
    recipe, _ = smoke_run
    shutil.copytree(recipe / "exp/s2t_dec_smoe", recipe / "exp/s2t_nj1",
                    ignore=shutil.ignore_patterns("decode_*"))
    proc = run(recipe, "--stage", "8", "--stop_stage", "8", "--tag", "s2t_nj1", "--nj", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for hyps in (recipe / "exp/s2t_dec_smoe").glob("decode_*/test_*/*/1best_recog/token_int"):
        twin = recipe / "exp/s2t_nj1" / hyps.relative_to(recipe / "exp/s2t_dec_smoe")
        assert twin.read_text() == hyps.read_text(), hyps


def test_label_noise_levels_decode_and_score_beside_the_trained_routes(smoke_run):
    """--bw_flips p decodes once more with that fraction of the bandwidth labels flipped and
    scores it as rows flip<p> (issue 16's label-noise curves); --bw_auto true once more routed by
    detection, as rows auto."""
    recipe, _ = smoke_run
    shutil.copytree(recipe / "exp/s2t_dec_smoe", recipe / "exp/s2t_flips",
                    ignore=shutil.ignore_patterns("decode_*"))
    proc = run(recipe, "--stage", "8", "--stop_stage", "9", "--tag", "s2t_flips", "--bw_flips", "1",
               "--bw_auto", "true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((recipe / "exp/s2t_flips/results.json").read_text())["results"]
    assert {r["routes"] for r in rows} == {"trained", "flip1", "auto"}
    for routes in ("flip1", "auto"):
        assert all(r["bw_disagree"] is not None for r in rows if r["routes"] == routes)
        assert {(r["test_set"], r["task"]) for r in rows if r["routes"] == routes} == {
            (r["test_set"], r["task"]) for r in rows if r["routes"] == "trained" and "cascade" not in r["task"]}
    (routed,) = (recipe / "exp/s2t_flips").glob("decode_*_flip1/test_nb/asr/bandwidth")
    assert {line.split(maxsplit=1)[1] for line in routed.read_text().splitlines()} == {"wb utt2bw+flipped"}
    (detected,) = (recipe / "exp/s2t_flips").glob("decode_*_auto/test_nb/asr/bandwidth")
    assert {line.split()[2] for line in detected.read_text().splitlines()} == {"detected"}


def test_failed_training_fails_the_recipe_and_its_model_is_not_decoded(smoke_run):
    """A failed stage 7 once ended with "Finished stages" and exit 0, and stage 8 decoded the
    model an earlier run had left."""
    recipe, _ = smoke_run
    shutil.copytree(recipe / "exp/s2t_dec_smoe", recipe / "exp/s2t_stale",
                    ignore=shutil.ignore_patterns("decode_*"))
    proc = run(recipe, "--stage", "7", "--tag", "s2t_stale", "--train_args", "--no_such_option 1")
    assert proc.returncode != 0 and "Finished" not in proc.stdout
    assert "training failed (exit 2): see exp/s2t_stale/train.log" in proc.stderr
    log = (recipe / "exp/s2t_stale/train.log").read_text()
    assert "epoch results" in log and "--no_such_option" in log  # the first run's lines kept
    proc = run(recipe, "--stage", "8", "--tag", "s2t_stale")
    assert proc.returncode != 0
    assert "training in exp/s2t_stale is incomplete" in proc.stderr
    assert "rerun --stage 7 to resume it" in proc.stderr


def test_init_from_starts_training_from_that_model_and_a_rerun_resumes_its_own(smoke_run):
    """--init_from (upcycling): EncDecS-MoE starts from the DecS-MoE run, its dense encoder FFNs
    in every encoder expert; stage 7 again resumes the run's own checkpoint instead. At lr 0 each
    epoch's model is the one training started from."""
    recipe, _ = smoke_run
    opts = ["--train_config", "conf/mini/encdec_smoe.yaml", "--tag", "s2t_up",
            "--stage", "7", "--stop_stage", "7", "--init_from", "exp/s2t_dec_smoe"]
    proc = run(recipe, *opts, "--train_args", "--max_epoch 1 --batch_size 8 --optim_conf lr=0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    dense = torch.load(recipe / "exp/s2t_dec_smoe/valid.acc.ave.pth")
    up = torch.load(recipe / "exp/s2t_up/1epoch.pth")
    assert any(k.startswith("encoder.") and ".experts.1." in k for k in up)
    for key, value in up.items():
        assert torch.equal(value, dense[re.sub(r"^(encoder\..*)experts\.\d+\.", r"\1", key)]), key
    assert "else starts from exp/s2t_dec_smoe/valid.acc.ave.pth" in (recipe / "exp/s2t_up/train.log").read_text()

    checkpoint = torch.load(recipe / "exp/s2t_up/checkpoint.pth", weights_only=False)
    for value in checkpoint["model"].values():
        value.mul_(0.9)  # the interrupted run's own weights, unlike any --init_from
    torch.save(checkpoint, recipe / "exp/s2t_up/checkpoint.pth")
    proc = run(recipe, *opts, "--train_args", "--max_epoch 2 --batch_size 8 --optim_conf lr=0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed = torch.load(recipe / "exp/s2t_up/2epoch.pth")
    assert all(torch.equal(resumed[k], v) for k, v in checkpoint["model"].items())

    proc = run(recipe, *opts[:-1], "exp/s2t_base/2epoch.pth")
    assert proc.returncode != 0 and "--init_from: exp/s2t_base/2epoch.pth not found" in proc.stderr


def test_native_mode_keeps_each_test_utterance_in_its_own_bandwidth(smoke_run, tmp_path):
    """--train_bw_mode native once still made upsampled _wb and _nb copies of every test set."""
    recipe, _ = smoke_run
    copy = linked_tree(tmp_path / "native") / RECIPE
    shutil.copytree(recipe, copy, symlinks=True,  # the data of stage 1 only
                    ignore=shutil.ignore_patterns("dump", "exp", "test_wb", "test_nb", "*_mix"))
    proc = run(copy, "--stage", "2", "--stop_stage", "3", "--train_bw_mode", "native",
               "--bw_labels", "rate")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (copy / "dump/raw/test_native/utt2bw").is_file()
    assert not (copy / "data/test_wb").exists() and not (copy / "data/test_nb").exists()
    labels = read_table(copy / "dump/raw/test_native/utt2bw")
    assert labels and set(labels.values()) == {"wb"}  # espeak-ng speaks at 22.05 kHz
    assert set(read_table(copy / "dump/raw/test_native/utt2channel").values()) == {"native-wb"}


def test_speed_perturbation_triples_the_training_set_only(smoke_run, tmp_path):
    recipe, _ = smoke_run
    copy = linked_tree(tmp_path / "sp") / RECIPE
    shutil.copytree(recipe, copy, symlinks=True, ignore=shutil.ignore_patterns("dump", "exp", "*_mix", "*_wb", "*_nb"))
    proc = run(copy, "--stage", "2", "--stop_stage", "3", "--speed_perturb", "0.9 1.0 1.1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    train = read_table(copy / "data/train/text")
    mixed = read_table(copy / "dump/raw/train_mix/text")
    skipped = read_table(copy / "data/train_mix/skipped")  # the injected bad audio, in each copy
    assert len(mixed) == 3 * len(train) - len(skipped)
    for utt in read_table(copy / "data/train/utt2spk"):
        if not any(utt in s for s in skipped):
            assert {f"{utt}-wb", f"{utt}-nb"} & set(mixed) and {f"sp0.9-{utt}-wb", f"sp0.9-{utt}-nb"} & set(mixed)
    assert len(read_table(copy / "dump/raw/dev_mix/text")) == len(read_table(recipe / "dump/raw/dev_mix/text"))


def test_data_stage_is_idempotent(smoke_run):
    recipe, _ = smoke_run
    proc = subprocess.run(["./run.sh", "--size", "smoke", "--stage", "1", "--stop_stage", "1"],
                          cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 0 and "skipping" in proc.stdout


def test_data_stages_skip_finished_steps_and_redo_those_whose_options_changed(smoke_run, tmp_path):
    """Stages 2-6 again: every step is skipped and nothing rewritten. In a copy, stage 5 runs (its
    command names another tree), is skipped the second time, and runs again for --batching mixed."""
    recipe, _ = smoke_run
    written = {p: p.stat().st_mtime_ns for d in ("data", "dump", "exp/s2t_stats_bbpe300")
               for p in (recipe / d).rglob("*") if p.is_file()}
    proc = run(recipe, "--stage", "2", "--stop_stage", "6")
    assert proc.returncode == 0, proc.stderr[-3000:]
    skipped = re.findall(r"Stage (\d): (\S+) up to date, skipped", proc.stdout)
    assert [n for n, _ in skipped] == ["2"] * 6 + ["3"] * 6 + ["4"] + ["5"] * 2 + ["6"]
    assert {p: p.stat().st_mtime_ns for p in written} == written

    copy = linked_tree(tmp_path / "again") / RECIPE
    shutil.copytree(recipe, copy, symlinks=True, ignore=shutil.ignore_patterns("exp", "*_mt"))
    for batching, ran in (("interleaved", True), ("interleaved", False), ("mixed", True)):
        proc = run(copy, "--stage", "5", "--stop_stage", "5", "--batching", batching)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert ("up to date, skipped" not in proc.stdout) == ran, proc.stdout
        assert (copy / "dump/raw/train_mix_mt/utt2category").exists() == (batching == "interleaved")


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
    for name in ("encdec_smoe", "learned_moe"):  # each difference from Base with its p-value
        tested = variants[name]["significance"]
        assert set(tested) == set(encdec["scores"]) and all(0 < t["p_value"] <= 1 for t in tested.values())
    assert "significance" not in variants["base"]
    report = (matrix_run / "RESULTS.md").read_text()
    assert "| EncDecS-MoE |" in report and "Routing ablation" in report and "Expert usage" in report
    assert "## 2. Against Base (hard sharing): difference (p-value)" in report
    assert "| variant | CER NB | CER WB | chrF NB | chrF WB |" in report
    assert (matrix_run / "matrix.png").stat().st_size > 0


def test_matrix_runs_the_routing_ablation_and_expert_usage(matrix_run):
    variants = json.loads((matrix_run / "results.json").read_text())["variants"]
    assert set(variants["encdec_smoe"]["ablation"]) == {"swap_encoder", "swap_decoder"}
    assert variants["base"]["ablation"] == {} and variants["learned_moe"]["ablation"] == {}
    usage = variants["learned_moe"]["expert_usage"]
    sets = {f"{s}_{bw}" for s in ("test", "test_ood") for bw in ("wb", "nb")}
    assert set(usage["encoder"]) == sets
    assert set(usage["decoder"]) == {f"{s}/{t}" for s in sets for t in ("asr", "st_eng")}
    for layers in usage["encoder"].values():
        assert all(sum(row) == pytest.approx(1.0, abs=1e-3) for row in layers)
    assert all(0.0 <= v <= 1.0 for vals in usage["separation"].values() for v in vals)
    assert (matrix_run / "learned_moe_seed1/expert_usage.png").is_file()


def test_help_lists_the_options_a_user_passes_with_this_recipes_values():
    """--help once printed s2t.sh's internals (--root, --tasks) and its own defaults (BBPE
    1000 where the recipe uses 500), without run.sh's --size and --matrix."""
    proc = subprocess.run(["./run.sh", "--size", "smoke", "--help"], cwd=REPO / RECIPE,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    options = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  --")}
    assert {"--size", "--matrix", "--corpus_seed", "--stage", "--bbpe_vocab_size", "--test_sets"} <= options
    assert not {"--root", "--tasks", "--python", "--exp"} & options
    values = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines() if line.startswith("  --")}
    assert values["--bbpe_vocab_size"] == "'300'" and values["--size"] == "'smoke'"
    assert values["--train_config"] == "'conf/mini/dec_smoe.yaml'"


def test_a_recipe_made_from_the_template_runs_once_its_data_prep_is_written(smoke_run, tmp_path):
    """egs2/TEMPLATE/setup.sh: the new-corpus path. Its data.sh stub stops stage 1 with what to
    write; with a data prep written (here: the smoke corpus copied in), stages 1-9 run."""
    recipe, _ = smoke_run
    root = linked_tree(tmp_path / "repo")
    (root / "egs2").mkdir()
    shutil.copytree(REPO / "egs2/TEMPLATE", root / "egs2/TEMPLATE")
    setup = [str(root / "egs2/TEMPLATE/setup.sh"), "egs2/mycorpus/s2t1"]
    proc = subprocess.run(setup, cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    new = root / "egs2/mycorpus/s2t1"
    assert os.readlink(new / "conf") == "../../../conf" and "mycorpus / s2t1" in (new / "README.md").read_text()
    assert subprocess.run(setup, cwd=root, capture_output=True, text=True).returncode != 0  # no overwrite

    stub = subprocess.run(["./run.sh", "--stop_stage", "1"], cwd=new, capture_output=True, text=True)
    assert stub.returncode != 0 and "not written yet" in stub.stderr
    # a second target language: its text.cat (a copy of the English here) and --tgt_langs
    (new / "local/data.sh").write_text(
        "#!/usr/bin/env bash\nset -eu\nmkdir -p data\n"
        + "".join(f"rm -rf data/{s}; cp -r {recipe}/data/{s} data/{s}; cp data/{s}/text.eng data/{s}/text.cat\n"
                  for s in ("train", "dev", "test")))
    proc = subprocess.run(["./run.sh", "--stop_stage", "9", "--tgt_langs", "eng cat",
                           "--train_config", "conf/mini/dec_smoe.yaml",
                           "--bbpe_vocab_size", "300", "--inference_config", "conf/decode_fast.yaml",
                           "--train_args", "--max_epoch 1 --batch_size 8", "--nj", "1"],
                          cwd=new, capture_output=True, text=True)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    rows = json.loads((new / "exp/s2t_dec_smoe/results.json").read_text())["results"]
    assert {(r["test_set"], r["task"], r["bandwidth"]) for r in rows} == {  # espeak-ng's 22.05 kHz: wb by rate
        ("test_native", task, "wb") for task in ("asr", "st_eng", "st_cat")}
    config = yaml.safe_load((new / "exp/s2t_dec_smoe/config.yaml").read_text())
    assert config["decoder_conf"]["route_tokens"] == "per_task"  # no config edit for the new language
    model = torch.load(new / "exp/s2t_dec_smoe/valid.acc.ave.pth", map_location="cpu")
    assert {k.split(".experts.")[1].split(".")[0] for k in model if ".experts." in k and k.startswith("decoder.")} == {"0", "1", "2"}
