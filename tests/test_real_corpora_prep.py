"""Data preparation of egs2/fisher_callhome_covost2 (espnet_smoe/recipe/corpora/fisher_callhome.py,
covost2.py) on tiny corpora in their real on-disk layouts (tests/fixtures_real_corpora.py):
Fisher/CallHome SPHERE + LDC transcripts + the Fisher-Callhome translations, and Common Voice
MP3 + CoVoST 2's TSV."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fixtures_real_corpora as fx
import numpy as np
import pytest

from espnet_smoe.recipe.corpora import covost2, fisher_callhome
from espnet_smoe.recipe.corpora.prep import PrepError
from espnet_smoe.recipe.datadir import check_data_dir, iter_audio, load_audio, read_table

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs2/fisher_callhome_covost2/s2t1"
LOCAL = RECIPE / "local"
PYTHON = sys.executable
needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox (reads SPHERE) is not installed")
ALL_SETS = (*fx.FISHER_MAPPING, *fx.CALLHOME_MAPPING)


@pytest.fixture(scope="module")
def ldc(tmp_path_factory):
    return fx.make_fisher_callhome(tmp_path_factory.mktemp("corpora"))


@pytest.fixture(scope="module")
def fisher_callhome_sets(ldc, tmp_path_factory):
    """(data dir root, set -> report) of the prep on the fixture corpora (needs sox only for
    wav.scp)."""
    if shutil.which("sox") is None:
        pytest.skip("sox (reads SPHERE) is not installed")
    out = tmp_path_factory.mktemp("data")
    return out, {report.set: report for report in fisher_callhome.prepare(out, **ldc)}


@pytest.fixture(scope="module")
def covost(tmp_path_factory):
    paths = fx.make_covost(tmp_path_factory.mktemp("covost"))
    out = tmp_path_factory.mktemp("data")
    return out, covost2.prepare(paths["covost_tsv"], paths["cv_root"], out), paths


# --- Fisher + CallHome ------------------------------------------------------------------------

def test_every_official_split_passes_the_contract(fisher_callhome_sets):
    data, _ = fisher_callhome_sets
    for name in ALL_SETS:
        utts = check_data_dir(data / name, ["eng"])
        assert utts, name
        assert set(read_table(data / name / "utt2bw").values()) == {"nb"}
        spk = read_table(data / name / "utt2spk")
        segments = read_table(data / name / "segments")
        for utt in utts:  # speaker = conversation side = recording, a prefix of the utterance id
            assert utt.startswith(spk[utt] + "-") and segments[utt].split()[0] == spk[utt]


def test_sets_hold_the_calls_of_their_mapping_files(fisher_callhome_sets):
    data, _ = fisher_callhome_sets
    for name, rows in {**fx.FISHER_MAPPING, **fx.CALLHOME_MAPPING}.items():
        calls = {utt.rsplit("-", 3)[0] for utt in read_table(data / name / "text")}
        assert calls == {c for c, _, _ in rows if c in {**fx.FISHER, **fx.CALLHOME}}, name


def test_segments_texts_and_translations_line_up(fisher_callhome_sets):
    data, _ = fisher_callhome_sets
    for name, expected in fx.EXPECTED.items():
        segments, text, eng = (read_table(data / name / f) for f in ("segments", "text", "text.eng"))
        for utt, (segment, spanish, english) in expected.items():
            assert (segments[utt], text[utt], eng[utt]) == (segment, spanish, english), (name, utt)
    assert set(read_table(data / "fisher_train/text")) == set(fx.EXPECTED["fisher_train"])


def test_normalisation_drops_annotations_case_and_punctuation(fisher_callhome_sets):
    data, _ = fisher_callhome_sets
    for name in ALL_SETS:
        for utt, text in read_table(data / name / "text").items():
            assert text == text.lower() and text.strip() == text
            assert not any(c in text for c in "()[]{}<>.,¿?¡!/+*#'\""), (utt, text)
        raw = read_table(data / name / "raw_text")
        assert set(raw) == set(read_table(data / name / "text"))
    raw = read_table(data / "fisher_train/raw_text")
    assert raw["20051009_182032_217_fsp-A-000250-000400"] == (
        'Y ((tu)) familia <foreign lang="English"> okay </foreign> [noise]')


def test_callhome_latin1_transcripts_are_decoded(fisher_callhome_sets):
    data, _ = fisher_callhome_sets
    assert read_table(data / "callhome_devtest/text")["sp_0897-A-000050-000180"] == "hola mamá qué tal"
    assert read_table(data / "callhome_train/text")["sp_1001-B-000030-000120"] == "te llamo mañana sí"


def test_skipped_items_are_listed_and_counted(fisher_callhome_sets):
    data, reports = fisher_callhome_sets
    assert sorted(reports) == sorted(ALL_SETS)
    for name, expected in fx.SKIPPED.items():
        listed = {k: v.split()[0] for k, v in read_table(data / name / "prep_skipped").items()}
        assert listed == expected
        assert reports[name].skipped == len(expected)
        assert reports[name].kept + reports[name].skipped == reports[name].total
    report = json.loads((data / "fisher_train/prep_report.json").read_text())
    assert list(report) == ["set", "mapping_lines", "kept", "skipped", "skipped_by_reason", "hours",
                            "mixed_sides", "es_mismatch"]
    assert report["hours"] == pytest.approx((1.0 + 0.8 + 1.5 + 1.9) / 3600, abs=1e-3)
    assert {**report, "hours": None} == {
        "set": "fisher_train", "mapping_lines": 7, "kept": 4, "skipped": 3, "hours": None,
        "skipped_by_reason": {"empty_text": 1, "empty_translation": 1, "no_transcript": 1},
        "mixed_sides": 1, "es_mismatch": 0}
    assert report == json.loads(reports["fisher_train"].to_json())  # the record returned
    for name in set(ALL_SETS) - set(fx.SKIPPED):
        assert read_table(data / name / "prep_skipped") == {}


def test_fisher_test_sets_keep_their_four_references(fisher_callhome_sets):
    data, _ = fisher_callhome_sets
    for name in fx.MULTI_REF:
        eng = read_table(data / name / "text.eng")
        for i in (1, 2, 3):
            ref = read_table(data / name / f"text.eng.{i}")
            assert ref == {u: f"Ref {i}: {t}" for u, t in eng.items()}
    assert not (data / "fisher_train/text.eng.1").exists()


@needs_sox
def test_wav_scp_extracts_each_side_and_segments_cut_at_the_times(fisher_callhome_sets):
    data, _ = fisher_callhome_sets
    wavs = read_table(data / "fisher_dev/wav.scp")
    assert wavs["20051010_212418_225_fsp-A"].endswith(" remix 1 |")
    assert wavs["20051010_212418_225_fsp-B"].endswith(" remix 2 |")
    for name in ("fisher_dev", "callhome_devtest"):
        segments = read_table(data / name / "segments")
        for utt, wav, rate in iter_audio(data / name):
            rec, start, end = segments[utt].split()
            assert rate == fx.RATE and len(wav) == pytest.approx((float(end) - float(start)) * rate, abs=2)
            peak = np.abs(np.fft.rfft(wav)).argmax() * rate / len(wav)
            assert peak == pytest.approx(fx.TONE[rec[-1]], abs=15), utt  # this side's tone
            assert np.sqrt(np.mean(wav ** 2)) > 0.25, utt  # the cut holds speech, not silence


def test_target_case_lc_rm(ldc, tmp_path):
    if shutil.which("sox") is None:
        pytest.skip("sox (reads SPHERE) is not installed")
    fisher_callhome.prepare(tmp_path, **ldc, tgt_case="lc.rm", sets=["callhome_train"])
    assert read_table(tmp_path / "callhome_train/text.eng") == {
        "sp_1001-A-000130-000200": "sure bye", "sp_1001-B-000030-000120": "i'll call you tomorrow okay"}


def test_translation_lines_must_match_the_mapping(ldc, tmp_path):
    corpus = tmp_path / "corpora"
    paths = fx.make_fisher_callhome(corpus)
    en = paths["translations"] / "corpus/ldc/callhome_train.en"
    en.write_text("\n".join(en.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(PrepError, match="callhome_train.en: 1 lines for 2 mapping lines"):
        fisher_callhome.prepare(tmp_path / "data", **paths, sets=["callhome_train"])


def test_misaligned_spanish_side_is_an_error(tmp_path):
    if shutil.which("sox") is None:
        pytest.skip("sox (reads SPHERE) is not installed")
    paths = fx.make_fisher_callhome(tmp_path / "corpora")
    es = paths["translations"] / "corpus/ldc/fisher_dev.es"
    lines = es.read_text().splitlines()
    es.write_text("\n".join(lines[1:] + lines[:1]) + "\n")  # shifted by one line
    with pytest.raises(PrepError, match="3 of 3 mapping lines differ from .* not aligned"):
        fisher_callhome.prepare(tmp_path / "data", **paths, sets=["fisher_dev"])


def _shorten_corpus(tmp_path) -> dict:
    paths = fx.make_fisher_callhome(tmp_path / "corpora")
    sph = paths["callhome_speech"] / "CALLHOME/SPANISH/SPEECH/TRAIN/SP_1001.SPH"
    fx.shorten_sphere(sph, seconds=3.0)
    return paths


def test_shorten_sphere_without_a_decoder_names_file_and_tool(tmp_path, monkeypatch):
    paths = _shorten_corpus(tmp_path)
    monkeypatch.setenv("PATH", os.pathsep.join(  # no sph2pipe anywhere on PATH
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "sph2pipe").exists()))
    with pytest.raises(PrepError, match="SP_1001.SPH: shorten-compressed NIST SPHERE") as error:
        fisher_callhome.prepare(tmp_path / "data", **paths, sets=["callhome_train"])
    assert "put it on PATH or pass --sph2pipe" in str(error.value)
    assert not (tmp_path / "data/callhome_train/text").exists()  # nothing half-written


def test_shorten_sphere_goes_through_sph2pipe(tmp_path):
    """A stand-in sph2pipe (the real one is not installable here) shows the pipe the prep writes
    and that stage 2's reader takes its output: one channel of WAV."""
    paths = _shorten_corpus(tmp_path)
    stub = tmp_path / "bin/sph2pipe"
    stub.parent.mkdir()
    stub.write_text(f"""#!{PYTHON}
import sys, numpy as np, soundfile as sf
args = sys.argv[1:]
assert args[:3] == ["-f", "wav", "-p"] and args[3] == "-c", args
tone = {{"1": 440.0, "2": 1000.0}}[args[4]]
t = np.arange(3 * 8000) / 8000
sf.write(sys.stdout.buffer, 0.5 * np.sin(2 * np.pi * tone * t), 8000, format="WAV", subtype="PCM_16")
""")
    stub.chmod(0o755)
    fisher_callhome.prepare(tmp_path / "data", **paths, sets=["callhome_train"], sph2pipe=str(stub))
    wavs = read_table(tmp_path / "data/callhome_train/wav.scp")
    sph = paths["callhome_speech"].resolve() / "CALLHOME/SPANISH/SPEECH/TRAIN/SP_1001.SPH"
    assert wavs == {"sp_1001-A": f"{stub} -f wav -p -c 1 {sph} |",
                    "sp_1001-B": f"{stub} -f wav -p -c 2 {sph} |"}
    wav, rate = load_audio(wavs["sp_1001-B"])
    assert rate == 8000 and np.abs(np.fft.rfft(wav)).argmax() * rate / len(wav) == pytest.approx(1000, abs=1)


# --- CoVoST 2 ---------------------------------------------------------------------------------

def test_covost_official_splits(covost):
    data, reports, _ = covost
    for split, clips in fx.COVOST_SPLITS.items():
        utts = check_data_dir(data / f"covost_{split}", ["eng"])
        assert {u.split("-", 1)[1] for u in utts} == clips, split  # train: train + train_covost
        assert set(read_table(data / f"covost_{split}/utt2bw").values()) == {"wb"}
        spk = read_table(data / f"covost_{split}/utt2spk")
        assert all(u == f"{spk[u]}-{u.split('-', 1)[1]}" and spk[u] in fx.CLIENTS for u in utts)
    assert [(r.set, r.total, r.kept, r.skipped_by_reason) for r in reports] == [
        ("covost_train", 3, 2, {"missing_audio": 1}), ("covost_dev", 1, 1, {}),
        ("covost_test", 2, 1, {"empty_translation": 1})]
    assert json.loads((data / "covost_train/prep_report.json").read_text()) == {  # no durations asked
        "set": "covost_train", "rows": 3, "kept": 2, "skipped": 1,
        "skipped_by_reason": {"missing_audio": 1}, "hours": None}


def test_covost_texts_and_skips(covost):
    data, _, _ = covost
    utt = f"{fx.CLIENTS[1]}-common_voice_es_19600002"
    assert read_table(data / "covost_train/text")[utt] == "me llamo ana"
    assert read_table(data / "covost_train/text.eng")[utt] == 'My name is "Ana".'  # raw quotes kept
    assert read_table(data / "covost_train/raw_text")[utt] == 'Me llamo "Ana".'
    utt = f"{fx.CLIENTS[0]}-common_voice_es_19600001"
    assert read_table(data / "covost_train/text")[utt] == "dónde está la estación"
    skipped = read_table(data / "covost_train/prep_skipped")
    assert skipped["common_voice_es_19600005.mp3"].startswith("missing_audio ")
    assert read_table(data / "covost_test/prep_skipped")["common_voice_es_19600006.mp3"].startswith(
        "empty_translation")


def test_covost_wav_scp_lists_readable_mp3(covost):
    data, _, paths = covost
    for utt, path in read_table(data / "covost_dev/wav.scp").items():
        assert path == str((paths["cv_root"] / "clips/common_voice_es_19600003.mp3").resolve())
        wav, rate = load_audio(path)
        assert rate == 48000 and len(wav) / rate == pytest.approx(1.0, abs=0.05)


def test_covost_with_validated_tsv_takes_its_sentences_and_clients(tmp_path):
    paths = fx.make_covost(tmp_path / "covost")
    validated = fx.make_validated_tsv(paths["cv_root"], leave_out="common_voice_es_19600002.mp3")
    covost2.prepare(paths["covost_tsv"], paths["cv_root"], tmp_path / "data", cv_tsv=validated)
    text = read_table(tmp_path / "data/covost_train/text")
    assert text == {f"{'cv00' * 8}-common_voice_es_19600001": "validada 0"}
    skipped = read_table(tmp_path / "data/covost_train/prep_skipped")
    assert skipped["common_voice_es_19600002.mp3"].startswith("not_in_validated")
    assert skipped["common_voice_es_19600005.mp3"].startswith("missing_audio")


def test_covost_tsv_without_its_columns_is_an_error(tmp_path):
    paths = fx.make_covost(tmp_path / "covost")
    paths["covost_tsv"].write_text("path\tsentence\nx.mp3\thola\n")
    with pytest.raises(PrepError, match="no column translation, split, client_id"):
        covost2.prepare(paths["covost_tsv"], paths["cv_root"], tmp_path / "data")


# --- the command lines ------------------------------------------------------------------------

@needs_sox
def test_prep_fisher_callhome_prints_each_set_and_reports_errors_by_name(ldc, tmp_path):
    args = [*(f"--{k}={v}" for k, v in ldc.items()), "--sets", "callhome_devtest", "fisher_dev"]
    proc = subprocess.run([PYTHON, str(LOCAL / "prep_fisher_callhome.py"), *args, f"--out={tmp_path}"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [  # in the order of the corpora, not of --sets
        f"{tmp_path}/fisher_dev: kept 3 of 3 (0.00 h), skipped 0 -> {tmp_path}/fisher_dev/prep_skipped; "
        "0 joined across both sides (kept on the first side's channel); 0 differ from fisher_dev.es",
        f"{tmp_path}/callhome_devtest: kept 2 of 3 (0.00 h), skipped 1 (empty_text 1) -> "
        f"{tmp_path}/callhome_devtest/prep_skipped; 0 joined across both sides (kept on the first "
        "side's channel); 0 differ from callhome_devtest.es"]
    proc = subprocess.run([PYTHON, str(LOCAL / "prep_fisher_callhome.py"), f"--translations={tmp_path}",
                           f"--out={tmp_path}"], capture_output=True, text=True)
    assert (proc.returncode, proc.stderr) == (
        1, "prep_fisher_callhome.py: error: --fisher_speech '': not a directory (needed for fisher_train)\n")


def test_prep_covost2_prints_each_split_and_reports_errors_by_name(tmp_path):
    paths = fx.make_covost(tmp_path / "covost")
    command = [PYTHON, str(LOCAL / "prep_covost2.py"), f"--covost_tsv={paths['covost_tsv']}",
               f"--cv_root={paths['cv_root']}", f"--out={tmp_path}"]
    proc = subprocess.run([*command, "--durations"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = tmp_path / "covost_train"
    assert proc.stdout.splitlines()[0] == (
        f"{data}: kept 2 of 3 (0.00 h), skipped 1 (missing_audio 1) -> {data}/prep_skipped")
    assert json.loads((data / "prep_report.json").read_text())["hours"] == pytest.approx(2 / 3600, abs=1e-3)
    paths["covost_tsv"].write_text("path\tsentence\nx.mp3\thola\n")
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith(
        f"prep_covost2.py: error: {paths['covost_tsv']}: no column translation, split, client_id")


# --- the recipe's data.sh ---------------------------------------------------------------------

@pytest.mark.slow
@needs_sox
def test_data_sh_makes_the_recipe_sets(ldc, tmp_path):
    cv = fx.make_covost(tmp_path / "covost")
    opts = {"fisher_speech": ldc["fisher_speech"], "fisher_transcripts": ldc["fisher_transcripts"],
            "callhome_speech": ldc["callhome_speech"], "callhome_transcripts": ldc["callhome_transcripts"],
            "fisher_callhome_translations": ldc["translations"], **cv}
    args = [a for k, v in opts.items() for a in (f"--{k}", str(v))]
    proc = subprocess.run(["bash", str(LOCAL / "data.sh"), *args], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = tmp_path / "data"
    for name in ("train", "dev", "fisher_dev2", "fisher_test", "callhome_devtest",
                 "callhome_evltest", "covost_test"):
        check_data_dir(data / name, ["eng"])
    train = read_table(data / "train/text")
    parts = [read_table(data / p / "text") for p in ("fisher_train", "callhome_train", "covost_train")]
    assert train == {k: v for part in parts for k, v in part.items()}
    bw = read_table(data / "train/utt2bw")
    assert sorted(bw.values()) == ["nb"] * 6 + ["wb"] * 2
    dev = read_table(data / "dev/segments")
    covost_utt = f"{fx.CLIENTS[0]}-common_voice_es_19600003"
    assert dev[covost_utt] == f"{covost_utt} 0 -1"  # a whole clip
    assert len(list(iter_audio(data / "dev"))) == 4  # segments of both kinds load
    again = subprocess.run(["bash", str(LOCAL / "data.sh"), *args], cwd=tmp_path,
                           capture_output=True, text=True)
    assert again.returncode == 0 and "skipping" in again.stdout + again.stderr


@pytest.mark.slow
@needs_sox
def test_recipe_runs_on_the_fixtures_from_data_prep_to_scores(ldc, tmp_path):
    """run.sh in a temporary tree: data prep, native NB/WB at 16 kHz and dump (stages 1-3), then
    a smoke training of the paper's EncDecS-MoE at mini size, decoding and scoring (4-9)."""
    root = tmp_path / "tree"
    for name in ("local", "conf", "tools", ".venv"):
        if (REPO / name).exists():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).symlink_to(REPO / name)
    recipe = root / "egs2/fisher_callhome_covost2/s2t1"
    shutil.copytree(RECIPE, recipe, symlinks=True, ignore=shutil.ignore_patterns("data", "dump", "exp"))
    cv = fx.make_covost(tmp_path / "covost")
    opts = {"fisher_speech": ldc["fisher_speech"], "fisher_transcripts": ldc["fisher_transcripts"],
            "callhome_speech": ldc["callhome_speech"], "callhome_transcripts": ldc["callhome_transcripts"],
            "fisher_callhome_translations": ldc["translations"], **cv}
    args = [a for k, v in opts.items() for a in (f"--{k}", str(v))]
    proc = subprocess.run(["./run.sh", *args, "--stop_stage", "3", "--nj", "1"], cwd=recipe,
                          capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    dump = recipe / "dump/raw"
    assert sorted(read_table(dump / "train_mix/utt2bw").values()) == ["nb"] * 6 + ["wb"] * 2
    for name in ("fisher_dev2", "fisher_test", "callhome_devtest", "callhome_evltest", "covost_test"):
        assert (dump / f"{name}_native/wav.scp").is_file(), name
    assert set(read_table(dump / "covost_test_native/utt2bw").values()) == {"wb"}
    assert set(read_table(dump / "callhome_devtest_native/utt2bw").values()) == {"nb"}

    smoke = ["--stage", "4", "--stop_stage", "9", "--nj", "1", "--ngpu", "0", "--bbpe_vocab_size", "300",
             "--train_config", "conf/mini/encdec_smoe.yaml", "--inference_config", "conf/decode_fast.yaml",
             "--train_args", "--max_epoch 1 --batch_size 2"]
    proc = subprocess.run(["./run.sh", *args, *smoke], cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    rows = json.loads((recipe / "exp/s2t_encdec_smoe/results.json").read_text())["results"]
    scored = {(r["test_set"], r["bandwidth"]) for r in rows}
    assert scored == {("fisher_dev2_native", "nb"), ("fisher_test_native", "nb"), ("callhome_devtest_native", "nb"),
                      ("callhome_evltest_native", "nb"), ("covost_test_native", "wb")}
    assert {r["task"] for r in rows} == {"asr", "st_eng"}
