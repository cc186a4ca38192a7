"""Stage 9's metrics (``local/score.py``): normalisation, WER and CER on hand-counted examples."""

import importlib.util
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
