"""Stage 9 (espnet_smoe/recipe/evaluation/scoring.py, local/score.py): normalisation, WER and CER on
hand-counted examples, the rows of each decode condition, RESULTS.md and the cascade."""

import dataclasses
import json
import random
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import editdistance  # the scorer before jiwer (an espnet dependency): numbers must not change
import pytest

from espnet_smoe.audio.channel import Channel
from espnet_smoe.recipe.evaluation import scoring as score
from espnet_smoe.recipe.evaluation.cascade import cascade, translate
from espnet_smoe.recipe.evaluation.conditions import DecodeCondition, conditions
from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.recipe.evaluation.results_md import channel_table, environment, markdown
from espnet_smoe.recipe.evaluation.results import Results

REPO = Path(__file__).resolve().parents[1]


def test_normalize_lowercases_and_drops_punctuation():
    assert score.normalize("¡Hola, Mundo!  ¿Qué tal?") == ["hola", "mundo", "qué", "tal"]


def test_wer_counts_word_edits_over_reference_words():
    # one substitution (gato -> pato) and one deletion (negro) over 3 + 2 reference words
    refs, hyps = ["el gato negro", "buenos días"], ["El pato.", "buenos días"]
    assert score.wer(refs, hyps) == pytest.approx(100 * 2 / 5)


def test_cer_counts_character_edits_with_spaces():
    # "el gato" (7 characters) -> "el pato": one substitution
    assert score.cer(["el gato"], ["el pato"]) == pytest.approx(100 / 7)
    # a missing word costs its characters and one space: "a bc" -> "a" is 2 + 1 edits of 4
    assert score.cer(["a bc"], ["a"]) == pytest.approx(100 * 3 / 4)


def test_perfect_hypotheses_score_zero():
    refs = ["Al viajero, jamón, vino y pan casero."]
    assert score.wer(refs, refs) == 0 and score.cer(refs, ["al viajero jamón vino y pan casero"]) == 0


def write(path: Path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def scored_set(tmp_path, hyps):
    """A test set of two utterances (one left out by stage 2) and a decode holding ``hyps``."""
    dump, decode = tmp_path / "dump", tmp_path / "decode"
    write(dump / "test_nb/text", ["u1 hola", "u2 adiós"])
    write(dump / "test_nb/utt2bw", ["u1 nb", "u2 nb"])
    write(dump / "test_nb/skipped", ["u3 empty 0 samples"])
    write(decode / "test_nb/asr/1best_recog/text_nospecial", hyps)
    write(decode / "test_nb/asr/too_short", ["u2 160"])
    return dump, decode


def report(rows, decode, by_channel=()) -> str:
    """RESULTS.md of ``rows`` without the environment block."""
    return markdown(Results(str(decode), tuple(rows), tuple(by_channel)), "", env=[])


def test_a_hypothesis_without_a_reference_is_an_error(tmp_path):
    """Extra hypotheses were once dropped without a word."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2", "u9 otra"])
    with pytest.raises(ValueError, match=r"1 hypotheses for utterances .* e\.g\. \['u9'\]"):
        score.score_set(dump, decode, "test_nb", "asr")


def test_results_count_left_out_and_too_short_utterances(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    (row,), _ = score.score_set(dump, decode, "test_nb", "asr")
    assert (row.utterances, row.skipped, row.too_short, row.scores.wer) == (2, 1, 1, 50.0)
    notes = report([row], decode)
    assert "- test_nb asr: 1 utterances left out at data preparation" in notes
    assert "1 too short to decode" in notes


def test_a_native_bandwidth_set_is_scored_per_bandwidth(tmp_path):
    """Native mode keeps each test utterance's own bandwidth in one set: a row for each."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/utt2bw", ["u1 wb", "u2 nb"])
    rows, _ = score.score_set(dump, decode, "test_nb", "asr")
    assert [(r.bandwidth, r.utterances, r.scores.wer, r.too_short) for r in rows] == [
        ("wb", 1, 0.0, 0), ("nb", 1, 100.0, 1)]
    assert "1 too short to decode" in report(rows, decode)


def test_utterances_routed_against_their_labels_are_counted(tmp_path):
    """Decoding with --bandwidth auto (or wb/nb, or --bw_flip) over a set with utt2bw lists
    disagreements."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(decode / "test_nb/asr/bw_disagree", ["u1 auto=wb utt2bw=nb"])
    (row,), _ = score.score_set(dump, decode, "test_nb", "asr")
    assert row.bw_disagree == 1
    assert "1 routed otherwise than their utt2bw says" in report([row], decode)


def test_routing_disagreements_are_counted_per_bandwidth(tmp_path):
    """In a native set, each bandwidth's row counts its own utterances routed against their
    label (once every row got the whole set's count, so the notes and the detection point of the
    label-noise curve were wrong)."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/utt2bw", ["u1 wb", "u2 nb"])
    write(decode / "test_nb/asr/bw_disagree", ["u2 detected=wb utt2bw=nb"])
    rows, _ = score.score_set(dump, decode, "test_nb", "asr")
    assert [(r.bandwidth, r.bw_disagree) for r in rows] == [("wb", 0), ("nb", 1)]
    assert "1 routed otherwise than their utt2bw says" in report(rows, decode)


def test_telephone_test_sets_are_also_scored_per_codec_and_noise(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/utt2channel", ["u1 codec=gsm band=300-3400 eq=1000:+1.0 peak=-3.0 noise=pink@25.0dB",
                                          "u2 codec=amr-nb@4.75 band=300-3400 eq=900:-2.0 peak=-9.0 noise=white@12.5dB"])
    assert score.channel_groups(read_table(dump / "test_nb/utt2channel")) == {
        "codec=amr-nb": ["u2"], "codec=gsm": ["u1"], "snr<20dB": ["u2"], "snr>=20dB": ["u1"]}
    rows = score.channel_rows(dump, decode, ["test_nb"], ["asr"])
    assert [(r.group, r.scores.wer) for r in rows] == [
        ("codec=amr-nb", 100.0), ("codec=gsm", 0.0), ("snr<20dB", 100.0), ("snr>=20dB", 0.0)]
    assert "| test_nb | codec=gsm | 1 | 0.00 | 0.00 |  |  |  |" in channel_table(rows)  # BLEU, chrF, TER empty


def test_utt2channel_lines_read_back_as_the_calls_that_wrote_them():
    """Stage 2 writes Channel.describe(); scoring reads it with Channel.parse, its one reader."""
    for n in range(200):
        call = Channel.draw(1, f"utt{n}")
        line = call.describe()
        found = Channel.parse(line)
        assert found.describe() == line
        assert found == (call if call.codec == "amr-nb" else dataclasses.replace(call, amr_mode=0))
    assert [Channel.parse(line) for line in ("wb", "lowpass+mulaw", "native-nb")] == [None] * 3


def test_the_cascade_translates_each_transcript_and_is_scored_as_translation(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/text.eng", ["u1 HOLA", "u2 ADIÓS"])
    out = decode / "test_nb/cascade_st_eng/1best_recog/text_nospecial"
    assert list(cascade(decode, ["test_nb"], ["eng"], "tr a-z A-Z")) == [
        f"test_nb: 2 transcripts -> tr a-z A-Z -> {out.parent}/text_nospecial"]
    assert out.read_text(encoding="utf-8").splitlines() == ["u1 HOLA", "u2 "]  # an empty transcript stays empty
    (row,), signatures = score.score_set(dump, decode, "test_nb", "cascade_st_eng")
    assert row.task == "cascade_st_eng" and row.scores.bleu is not None and row.scores.wer is None and signatures


@pytest.mark.parametrize("command, error", [("head -n 1", "returned 1 lines for 2 sentences"),
                                            ("false", "failed")])
def test_a_translator_that_loses_lines_or_fails_stops_the_cascade(command, error):
    with pytest.raises(RuntimeError, match=error):
        translate(command, ["hola", "adiós"])


def test_translation_is_scored_against_every_reference_of_the_set(tmp_path):
    """Fisher's dev and test sets have four English references (text.eng, text.eng.1-3)."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/text.eng", ["u1 the cat sat on the mat", "u2 good morning to you all"])
    write(dump / "test_nb/text.eng.1", ["u1 a cat sat upon a mat", "u2 good day to you all"])
    write(decode / "test_nb/st_eng/1best_recog/text_nospecial", ["u1 a cat sat upon a mat", "u2 good day to you all"])
    (one,), _ = score.score_set(dump, decode, "test_nb", "st_eng")
    assert one.scores.bleu == 100.0  # the second reference matches word for word
    (tmp_path / "dump/test_nb/text.eng.1").unlink()
    (single,), _ = score.score_set(dump, decode, "test_nb", "st_eng")
    assert single.scores.bleu < 50


def old_error_rate(refs, hyps, unit):
    """local/score.py's error rate before jiwer: editdistance totals over reference length."""
    pairs = [(unit(r), unit(h)) for r, h in zip(refs, hyps)]
    return 100.0 * sum(editdistance.eval(r, h) for r, h in pairs) / max(1, sum(len(r) for r, _ in pairs))


# (refs, hyps, hand-counted WER counts (hits, sub, del, ins, ref), CER counts alike)
HAND_COUNTED = [
    # el, buenos, días right; gato -> pato: 1 S; negro missing: 1 D.  Characters: "el gato negro"
    # (13) vs "el pato": 6 right, g -> p 1 S, " negro" 6 D; "buenos días" 11 right
    (["el gato negro", "buenos días"], ["El pato.", "buenos días"], (3, 1, 1, 0, 5), (17, 1, 6, 0, 24)),
    # an extra word: 1 I ("sí " 3 inserted characters); punctuation and case do not count
    (["¿Qué tal?"], ["sí, qué tal"], (2, 0, 0, 1, 2), (7, 0, 0, 3, 7)),
    # an empty hypothesis (a too short utterance): every unit deleted
    (["hola mundo"], [""], (0, 0, 2, 0, 2), (0, 0, 10, 0, 10)),
    # a reference empty after normalisation: hypothesis units are insertions over 0 reference units
    (["¡…!"], ["eh"], (0, 0, 0, 1, 0), (0, 0, 0, 2, 0)),
]


@pytest.mark.parametrize("refs, hyps, words, chars", HAND_COUNTED)
def test_jiwer_counts_substitutions_deletions_insertions_by_hand(refs, hyps, words, chars):
    for unit, expected in ((score.normalize, words), (score.characters, chars)):
        c = score.edit_counts(refs, hyps, unit)
        assert (c["hits"], c["sub"], c["del"], c["ins"], c["ref"]) == expected
        # the same number as the editdistance scorer of before, on the same sequences
        assert score.error_rate(refs, hyps, unit) == pytest.approx(old_error_rate(refs, hyps, unit))
        assert score.error_rate(refs, hyps, unit) == pytest.approx(100 * sum(expected[1:4]) / max(1, expected[4]))


def test_jiwer_rates_equal_the_editdistance_rates_of_before():
    """Random Spanish-like sentences with punctuation, case and accents: WER and CER as before."""
    rng = random.Random(0)
    vocab = ["el", "la", "Gato", "perro", "¿qué?", "tal,", "días", "año", "sí!", "no", "—", "buenos"]
    refs = [" ".join(rng.choices(vocab, k=rng.randint(0, 8))) for _ in range(200)]
    hyps = [" ".join(rng.choices(vocab, k=rng.randint(0, 8))) for _ in range(200)]
    assert score.wer(refs, hyps) == pytest.approx(old_error_rate(refs, hyps, score.normalize))
    assert score.cer(refs, hyps) == pytest.approx(old_error_rate(refs, hyps, score.characters))
    assert score.UNITS == {"wer": score.normalize, "cer": score.characters}  # local/significance.py's units


def test_asr_rows_carry_the_counts_behind_wer_and_cer(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])  # u2 "adiós" decoded empty
    (row,), _ = score.score_set(dump, decode, "test_nb", "asr")
    found = row.scores.to_json()
    assert {k: v for k, v in found.items() if k.startswith("wer")} == {
        "wer": 50.0, "wer_hits": 1, "wer_sub": 0, "wer_del": 1, "wer_ins": 0, "wer_ref": 2, "wer_snt_err": 1}
    assert {k: v for k, v in found.items() if k.startswith("cer")} == {  # "hola" 4 hits, "adiós" 5 deleted
        "cer": round(100 * 5 / 9, 2), "cer_hits": 4, "cer_sub": 0, "cer_del": 5, "cer_ins": 0, "cer_ref": 9,
        "cer_snt_err": 1}


def test_ter_counts_a_shifted_phrase_as_one_edit_against_every_reference(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/text.eng", ["u1 the cat sat on the mat", "u2 good morning"])
    # u1: "on the mat" shifted to the front: 1 shift; u2: "morning" -> "day": 1 substitution
    write(decode / "test_nb/st_eng/1best_recog/text_nospecial", ["u1 on the mat the cat sat", "u2 good day"])
    (row,), signatures = score.score_set(dump, decode, "test_nb", "st_eng")
    assert (row.scores.ter, row.scores.ter_edits, row.scores.ter_ref) == (25.0, 2, 8)  # 2 edits / 8 reference words
    assert signatures["ter"].startswith("nrefs:1|case:lc|tok:tercom|")
    # a second reference that u2 matches word for word: TER takes the closest reference
    write(dump / "test_nb/text.eng.1", ["u1 a cat sat on a mat", "u2 good day"])
    (row,), signatures = score.score_set(dump, decode, "test_nb", "st_eng")
    # u1: 1 shift against the first reference (6 words, second: 3 edits); u2 0 edits;
    # the reference length is the references' average: (6 + 6) / 2 + (2 + 2) / 2
    assert (row.scores.ter, row.scores.ter_edits, row.scores.ter_ref) == (12.5, 1, 8)
    assert signatures["ter"].startswith("nrefs:2|") and signatures["bleu"].startswith("nrefs:2|")


def test_environment_block_names_the_versions_and_the_git_hash(tmp_path, monkeypatch):
    env = "\n".join(environment(REPO))
    assert env.startswith("## Environments\n- date: `")
    assert f"- python version: `{sys.version.replace(chr(10), ' ')}`" in env
    assert f"- espnet version: `espnet {metadata.version('espnet')}`" in env
    assert f"- pytorch version: `pytorch {metadata.version('torch')}`" in env
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:  # a git checkout (the recipe's and CI's case)
        assert f"- Git hash: `{head.stdout.strip()}`\n  - Commit date: `" in env
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert "- Git hash: `unknown`" in environment(tmp_path)  # not a git checkout


def test_results_md_has_espnet_tables_beside_the_summary(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/text.eng", ["u1 the cat sat on the mat", "u2 good morning"])
    write(decode / "test_nb/st_eng/1best_recog/text_nospecial", ["u1 on the mat the cat sat", "u2 good day"])
    write(decode / "test_nb/st_eng/too_short", ["u2 160"])
    out = tmp_path / "exp"
    report = score.score_run(dump, decode, ["test_nb"], ["asr", "st_eng"], out, repo=REPO)
    assert (out / "RESULTS.md").read_text(encoding="utf-8") == report
    assert report.startswith("<!-- Generated by local/score.py -->\n# RESULTS\n## Environments\n")
    assert f"## {decode}\n" in report and "| test set | bandwidth | task | routes |" in report
    # hola right, adiós deleted: Corr 50 Sub 0 Del 50 Ins 0 Err 50, 1 of 2 sentences wrong
    assert ("### WER\n\n|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|\n|---|---|---|---|---|---|---|---|---|\n"
            "|test_nb/asr|2|2|50.0|0.0|50.0|0.0|50.0|50.0|\n") in report
    assert "### CER\n\n|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|\n|---|---|---|---|---|---|---|---|---|\n" \
           "|test_nb/asr|2|9|44.4|0.0|55.6|0.0|55.6|50.0|\n" in report
    assert "### BLEU\n" in report and "|dataset|score|verbose_score|" in report
    assert "### TER\n" in report and "|test_nb/st_eng|25.0|edits = 2 ref_len = 8|" in report
    result = json.loads((out / "results.json").read_text())
    assert set(result) == {"decode_dir", "results", "by_channel", "bleu_signature", "chrf_signature",
                           "ter_signature"}
    assert f"TER: sacrebleu `{result['ter_signature']}`." in report
    asr, st = result["results"]
    assert (asr["wer_sub"], asr["wer_del"], asr["wer_ins"], asr["wer_ref"]) == (0, 1, 0, 2)
    assert st["ter"] == 25.0 and "wer" not in st and "ter" not in asr
    assert "- test_nb asr: 1 utterances left out at data preparation" in report
    assert "1 too short to decode (empty hypotheses" in report


def test_a_native_bandwidth_set_names_each_bandwidth_in_espnet_tables(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/utt2bw", ["u1 wb", "u2 nb"])
    rows, _ = score.score_set(dump, decode, "test_nb", "asr")
    rows += [dataclasses.replace(r, condition=DecodeCondition.parse("swap_encoder")) for r in rows[:1]]
    tables = report(rows, decode)
    assert "|test_nb/asr [wb]|1|1|100.0|0.0|0.0|0.0|0.0|0.0|" in tables
    assert "|test_nb/asr [nb]|1|1|0.0|0.0|100.0|0.0|100.0|100.0|" in tables
    assert "|swap_encoder/test_nb/asr|1|1|100.0|0.0|0.0|0.0|0.0|0.0|" in tables


def test_the_channel_table_shows_the_models_translation_not_the_cascades(tmp_path):
    """The cascade's scores once overwrote end-to-end translation's in the per-channel table."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/utt2channel", ["u1 codec=gsm band=300-3400 eq=1000:+1.0 peak=-3.0 noise=pink@25.0dB",
                                          "u2 codec=gsm band=300-3400 eq=900:-2.0 peak=-9.0 noise=white@12.5dB"])
    write(dump / "test_nb/text.eng", ["u1 good morning to you all", "u2 see you later my friend"])
    write(decode / "test_nb/st_eng/1best_recog/text_nospecial", ["u1 nothing alike here", "u2 nope"])
    write(decode / "test_nb/cascade_st_eng/1best_recog/text_nospecial",
          ["u1 good morning to you all", "u2 see you later my friend"])
    rows = score.channel_rows(dump, decode, ["test_nb"], ["asr", "st_eng", "cascade_st_eng"])
    assert {r.task for r in rows} == {"asr", "st_eng"}
    gsm = [r for r in rows if r.group == "codec=gsm" and r.task == "st_eng"][0]
    assert gsm.scores.bleu < 10
    line = [l for l in channel_table(rows) if "codec=gsm" in l][0]
    assert f"| {gsm.scores.bleu:.2f} |" in line


def test_label_noise_decodes_are_scored_as_their_own_rows(tmp_path):
    """Condition flip<p> is scored from <decode_dir>_flip<p> beside the trained decode, as rows flip<p>."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2 adiós"])
    write(tmp_path / "decode_flip0.5/test_nb/asr/1best_recog/text_nospecial", ["u1 hola", "u2 no"])
    score.score_run(dump, decode, ["test_nb"], ["asr"], tmp_path / "exp", repo=REPO,
                    conditions=conditions(bw_flips=["0.5"]))
    rows = json.loads((tmp_path / "exp/results.json").read_text())["results"]
    assert [(r["routes"], r["wer"]) for r in rows] == [("trained", 0.0), ("flip0.5", 50.0)]
    assert "|flip0.5/test_nb/asr|" in (tmp_path / "exp/RESULTS.md").read_text().replace(" ", "")


def test_the_decode_routed_by_detection_is_scored_as_rows_auto(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2 adiós"])
    write(tmp_path / "decode_auto/test_nb/asr/1best_recog/text_nospecial", ["u1 hola", "u2 no"])
    write(tmp_path / "decode_auto/test_nb/asr/bw_disagree", ["u2 detected=wb utt2bw=nb"])
    rows = score.score_decodes(dump, decode, ["test_nb"], ["asr"], conditions(bw_auto=True)).rows
    assert [(r.routes, r.scores.wer, r.bw_disagree) for r in rows] == [("trained", 0.0, None), ("auto", 50.0, 1)]


def test_the_command_line_scores_the_conditions_named_either_way(tmp_path):
    """local/score.py: --conditions, or the recipe's --swap_routes / --bw_flips / --bw_auto."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2 adiós"])
    for condition, hyps in (("swap_encoder", ["u1 no", "u2 no"]), ("flip0.1", ["u1 hola", "u2 no"]),
                            ("auto", ["u1 hola", "u2 adiós"])):
        write(tmp_path / f"decode_{condition}/test_nb/asr/1best_recog/text_nospecial", hyps)
    common = [sys.executable, str(REPO / "local/score.py"), "--decode_dir", str(decode), "--dump", str(dump),
              "--test_sets", "test_nb", "--tasks", "asr", "--out"]
    for out, named in (("listed", ["--conditions", "trained", "swap_encoder", "flip0.1", "auto"]),
                       ("options", ["--swap_routes", "encoder", "--bw_flips", "0.1", "--bw_auto"])):
        subprocess.run([*common, str(tmp_path / out), *named], check=True, capture_output=True)
    listed, options = (json.loads((tmp_path / out / "results.json").read_text()) for out in ("listed", "options"))
    assert listed == options
    assert [(r["routes"], r["wer"]) for r in listed["results"]] == [
        ("trained", 0.0), ("swap_encoder", 100.0), ("flip0.1", 50.0), ("auto", 0.0)]
