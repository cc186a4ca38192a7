"""Stage 9's metrics (``local/score.py``): normalisation, WER and CER on hand-counted examples."""

import importlib.util
import sys
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("score", Path(__file__).parents[1] / "local/score.py")
score = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score)


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


def test_a_hypothesis_without_a_reference_is_an_error(tmp_path):
    """Extra hypotheses were once dropped without a word."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2", "u9 otra"])
    with pytest.raises(SystemExit, match=r"1 hypotheses for utterances .* e\.g\. \['u9'\]"):
        score.score_set(dump, decode, "test_nb", "asr")


def test_results_count_left_out_and_too_short_utterances(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    (row,), _ = score.score_set(dump, decode, "test_nb", "asr")
    assert (row["utterances"], row["skipped"], row["too_short"], row["wer"]) == (2, 1, 1, 50.0)
    report = score.markdown([row], {}, decode)
    assert "- test_nb asr: 1 utterances left out at data preparation" in report
    assert "1 too short to decode" in report


def test_a_native_bandwidth_set_is_scored_per_bandwidth(tmp_path):
    """Native mode keeps each test utterance's own bandwidth in one set: a row for each."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/utt2bw", ["u1 wb", "u2 nb"])
    rows, _ = score.score_set(dump, decode, "test_nb", "asr")
    assert [(r["bandwidth"], r["utterances"], r["wer"], r["too_short"]) for r in rows] == [
        ("wb", 1, 0.0, 0), ("nb", 1, 100.0, 1)]
    assert "1 too short to decode" in score.markdown(rows, {}, decode)


def test_utterances_routed_against_their_labels_are_counted(tmp_path):
    """Decoding with --bandwidth auto (or wb/nb, or --bw_flip) over a set with utt2bw lists
    disagreements."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(decode / "test_nb/asr/bw_disagree", ["u1 auto=wb utt2bw=nb"])
    (row,), _ = score.score_set(dump, decode, "test_nb", "asr")
    assert row["bw_disagree"] == 1
    assert "1 routed otherwise than their utt2bw says" in score.markdown([row], {}, decode)


def test_telephone_test_sets_are_also_scored_per_codec_and_noise(tmp_path):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/utt2channel", ["u1 codec=gsm band=300-3400 eq=1000:+1.0 peak=-3.0 noise=pink@25.0dB",
                                          "u2 codec=amr-nb@4.75 band=300-3400 eq=900:-2.0 peak=-9.0 noise=white@12.5dB"])
    assert score.channel_groups(score.read_table(dump / "test_nb/utt2channel")) == {
        "codec=amr-nb": ["u2"], "codec=gsm": ["u1"], "snr<20dB": ["u2"], "snr>=20dB": ["u1"]}
    rows = score.channel_rows(dump, decode, ["test_nb"], ["asr"])
    assert [(r["group"], r["wer"]) for r in rows] == [
        ("codec=amr-nb", 100.0), ("codec=gsm", 0.0), ("snr<20dB", 100.0), ("snr>=20dB", 0.0)]
    assert "| test_nb | codec=gsm | 1 | 0.00 | 0.00 |  |  |" in score.channel_table(rows)


cascade_spec = importlib.util.spec_from_file_location("cascade", Path(__file__).parents[1] / "local/cascade.py")
cascade = importlib.util.module_from_spec(cascade_spec)
cascade_spec.loader.exec_module(cascade)


def test_the_cascade_translates_each_transcript_and_is_scored_as_translation(tmp_path, monkeypatch):
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/text.eng", ["u1 HOLA", "u2 ADIÓS"])
    monkeypatch.setattr(sys, "argv", ["cascade.py", "--decode_dir", str(decode), "--test_sets", "test_nb",
                                      "--tgt_langs", "eng", "--mt", "tr a-z A-Z"])
    cascade.main()
    out = decode / "test_nb/cascade_st_eng/1best_recog/text_nospecial"
    assert out.read_text(encoding="utf-8").splitlines() == ["u1 HOLA", "u2 "]  # an empty transcript stays empty
    (row,), signatures = score.score_set(dump, decode, "test_nb", "cascade_st_eng")
    assert row["task"] == "cascade_st_eng" and "bleu" in row and "wer" not in row and signatures


@pytest.mark.parametrize("command, error", [("head -n 1", "returned 1 lines for 2 sentences"),
                                            ("false", "failed")])
def test_a_translator_that_loses_lines_or_fails_stops_the_cascade(command, error):
    with pytest.raises(SystemExit, match=error):
        cascade.translate(command, ["hola", "adiós"])


def test_translation_is_scored_against_every_reference_of_the_set(tmp_path):
    """Fisher's dev and test sets have four English references (text.eng, text.eng.1-3)."""
    dump, decode = scored_set(tmp_path, ["u1 hola", "u2"])
    write(dump / "test_nb/text.eng", ["u1 the cat sat on the mat", "u2 good morning to you all"])
    write(dump / "test_nb/text.eng.1", ["u1 a cat sat upon a mat", "u2 good day to you all"])
    write(decode / "test_nb/st_eng/1best_recog/text_nospecial", ["u1 a cat sat upon a mat", "u2 good day to you all"])
    (one,), _ = score.score_set(dump, decode, "test_nb", "st_eng")
    assert one["bleu"] == 100.0  # the second reference matches word for word
    (tmp_path / "dump/test_nb/text.eng.1").unlink()
    (single,), _ = score.score_set(dump, decode, "test_nb", "st_eng")
    assert single["bleu"] < 50
