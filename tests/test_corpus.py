"""The embedded corpus's splits (espnet_smoe/recipe/corpora/mini_es_en.py): test_ood is out of
domain in text, voice and prosody, and adding it (or a corpus lever) leaves the other splits as
they were. Speech is not synthesised here (the recipe test does that)."""

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_smoe.recipe.corpora import apertium, ui_strings
from espnet_smoe.recipe.corpora import mini_es_en as corpus

RECIPE = Path(__file__).resolve().parents[1] / "egs2/mini_es_en/s2t1"

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@needs_espeak
@pytest.mark.parametrize("n_train", [40, 120])
def test_test_ood_speakers_are_new_voices_outside_the_training_prosody(n_train):
    speakers = corpus.make_speakers(random.Random(777), 777, n_train)
    voices = {split: {(v, var) for v, var, _, _ in spk} for split, spk in speakers.items()}
    assert len(voices["train"]) == n_train and len(voices["test_ood"]) == corpus.SPEAKERS["test_ood"]
    splits = sorted(voices)
    for i, a in enumerate(splits):
        for b in splits[i + 1 :]:
            assert not voices[a] & voices[b], (a, b)
    for _, _, speed, pitch in speakers["test_ood"]:
        assert not corpus.SPEED[0] <= speed <= corpus.SPEED[1]
        assert not corpus.PITCH[0] <= pitch <= corpus.PITCH[1]


@needs_espeak
def test_more_training_speakers_leave_the_other_splits_and_the_first_speakers_alone():
    few = corpus.make_speakers(random.Random(777), 777, 40)
    many = corpus.make_speakers(random.Random(777), 777, 120)
    for split in ("dev", "test", "test_ood"):
        assert few[split] == many[split]
    assert few["train"] == many["train"][:40]


def test_test_ood_is_human_translated_messages_never_in_training():
    split = corpus.ui_splits(777, 300, 0)
    with_train = corpus.ui_splits(777, 300, 2000)
    assert split["test_ood"] == with_train["test_ood"]  # its own random stream
    assert len(split["test_ood"]) == 300 and len(with_train["train"]) == 2000
    test_pool = dict(ui_strings.pairs(ui_strings.TEST_DOMAINS))
    for _, es, en in split["test_ood"]:
        assert test_pool[es] == en  # the program's own English, not a machine translation
    held_out = {es.lower() for es in test_pool}
    assert not {es.lower() for _, es, _ in with_train["train"]} & held_out


@pytest.mark.parametrize("text, ok", [
    ("Nombre de archivo no válido", True),
    ("falta un fichero", True),
    ("Sí", False),                                   # too short to be a sentence
    ("-a, --all muestra todo", False),               # option names are not spoken words
    ("Si no se especifica ninguna opción, se supone -P.", False),
    ("El PID del proceso", False),                   # acronyms are spelt, not read
    ("Copiando %s a %s", False),                     # format strings
])
def test_only_speakable_messages_are_kept(text, ok):
    assert ui_strings.speakable(text, ui_strings.SPANISH) is ok


needs_apertium = pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")


@needs_apertium
def test_each_target_language_gets_its_own_translation_and_messages_keep_their_human_english():
    messages = [("ui00001", "El archivo no existe.", "File does not exist"),
                ("ui00002", "Marca de tiempo no válida", "Invalid time stamp")]
    items = corpus.with_targets(messages, ["eng", "cat", "por"])
    assert [(i.suffix, i.spanish) for i in items] == [m[:2] for m in messages]
    assert [i.targets["eng"] for i in items] == ["File does not exist", "Invalid time stamp"]
    first = items[0].targets
    assert first["cat"] == "L'arxiu no existeix." and first["por"] == "O arquivo não existe."
    fortunes = corpus.translations(["El archivo no existe."], ["eng"])  # no human English
    assert fortunes == [{"eng": "The archive does not exist."}]
    with pytest.raises(apertium.ApertiumError, match="'deu'"):
        corpus.translations(["Hola."], ["deu"])


@needs_apertium
def test_an_empty_transcript_stays_an_empty_line_through_the_cascades_translator():
    """Stage 9 sends every transcript, empty ones too (too short to decode), through
    ``python3 local/apertium.py {tgt}`` (s2t.sh puts the environment's python3 first on PATH)."""
    assert apertium.translate(["Hola.", "", "El gato."], "por") == ["Olá.", "", "O gato."]
    command = [sys.executable, "local/apertium.py"]
    proc = subprocess.run([*command, "por"], cwd=RECIPE, input="Hola.\n\nEl gato.\n",
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (0, "Olá.\n\nO gato.\n"), proc.stderr
    proc = subprocess.run([*command, "deu"], cwd=RECIPE, input="Hola.\n", capture_output=True, text=True)
    assert proc.returncode == 1 and "no Apertium mode from Spanish into 'deu'" in proc.stderr
