"""The mini_es_en corpus: Spanish speech with Spanish transcripts and translations, made from
Debian packages.

Sentences come from fortunes-es, speech from espeak-ng (Spanish voices x variants x speed x
pitch = many "speakers"), translations (``text.<l>`` per target language: English by default,
also Catalan and Portuguese) from Apertium (:mod:`~espnet_smoe.recipe.corpora.apertium`).
Deterministic for a seed; split by sentence; dev/test speakers use (voice, variant) pairs never
heard in training. Each split's ``spk2voice`` says who its speakers are: ``<voice>+<variant>
<words per minute> <pitch>``.

``test_ood`` is out of domain in text, voice and prosody: software messages and their English
originals, both written by people (:mod:`~espnet_smoe.recipe.corpora.ui_strings`; their other
targets are Apertium's), spoken by (voice, variant) pairs no other split uses, at speeds and
pitches outside the training ranges. It is drawn from its own random stream, so the other splits
are the same with or without it.

Levers (recipe README, "Levers"): ``train_size`` fortunes sentences for training, ``ui_train``
more training sentences from other programs' messages (a second text source, with its human
English), ``train_speakers`` voices for training, ``prosody="utterance"`` a speed and pitch per
utterance around its speaker's. The command line is egs2/mini_es_en/s2t1/local/make_corpus.py.
"""

import logging
import random
import re
import subprocess
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import soundfile as sf
from tqdm import tqdm

from espnet_smoe.recipe.corpora import apertium, ui_strings
from espnet_smoe.recipe.corpora.prep import PrepError
from espnet_smoe.recipe.datadir import spk2utt, write_table

FORTUNES = Path("/usr/share/games/fortunes/es")
SIZES = {  # utterances per split; None = all remaining sentences
    "smoke": {"train": 20, "dev": 5, "test": 5},
    "default": {"train": 4000, "dev": 200, "test": 300},
    "full": {"train": None, "dev": 0.04, "test": 0.06},
}
OOD_SIZES = {"smoke": 5, "default": 300, "full": 1000}  # test_ood utterances
# Training sentences from other programs' messages (the second text source; None: all). With
# 4,000 fortunes and 4 epochs, the default trains on two genres at the updates of 8 epochs of
# fortunes alone: out of domain it transcribes far better, in domain somewhat worse (recipe
# README, "Levers").
UI_TRAIN = {"smoke": 10, "default": 4000, "full": None}
SPEAKERS = {"train": 40, "dev": 6, "test": 8, "test_ood": 10}
VOICES = ("es", "es-419")
SPEED = (130, 190)  # words per minute
PITCH = (30, 70)
OOD_SPEED = ((100, 125), (195, 220))  # test_ood: slower or faster than any training speaker
OOD_PITCH = ((5, 25), (75, 95))  # lower or higher
PROSODY_JITTER = 0.15  # prosody per utterance: speed and pitch within +-15 % of the speaker's
PROSODIES = ("speaker", "utterance")
QUOTES = re.compile(r"[\"«»“”]")
ALLOWED = re.compile(r"^[A-Za-zÁÉÍÓÚÜÑáéíóúüñ ,;:.¡!¿?-]+$")
log = logging.getLogger(__name__)


class Speaker(NamedTuple):
    """An espeak-ng voice: ``<voice>+<variant>`` at ``speed`` words per minute and ``pitch``."""

    voice: str
    variant: str
    speed: int
    pitch: int

    def spk2voice(self) -> str:
        """The speaker as ``spk2voice`` lists it."""
        return f"{self.voice}+{self.variant} {self.speed} {self.pitch}"


class Sentence(NamedTuple):
    """A sentence to speak: its utterance id suffix, the Spanish, target language -> text."""

    suffix: str
    spanish: str
    targets: Dict[str, str]


class Utterance(NamedTuple):
    """One sentence spoken by one speaker into ``path``."""

    utt: str
    text: str
    speaker: Speaker
    path: Path


def fortunes() -> List[str]:
    """Each fortune's text without its attribution (the indented '-- Author' tail)."""
    files = sorted(FORTUNES.glob("*.u8"))
    if not files:
        raise PrepError(f"no fortunes in {FORTUNES}: install the Debian package fortunes-es")
    texts = []
    for path in files:
        for block in path.read_text(encoding="utf-8").split("\n%\n"):
            lines = []
            for line in block.splitlines():
                if re.match(r"^\s*(--|―|—)", line):
                    break  # attribution: it and what follows are not the quote
                lines.append(line.strip())
            texts.append(" ".join(lines))
    return texts


def sentences(texts: List[str]) -> List[str]:
    """Split into sentences; keep complete Spanish ones of 3-14 words without digits or markup."""
    seen, kept = set(), []
    for text in texts:
        text = unicodedata.normalize("NFC", re.sub(r"\s+", " ", text)).strip()
        text = re.sub(r"(^|\s)[-–—]+\s?", " ", text).strip()  # dialogue dashes, not hyphens
        for sent in re.split(r"(?<=[.!?…])\s+(?=[¡¿A-ZÁÉÍÓÚÑ])", text):
            sent = QUOTES.sub("", sent).replace("…", "...").strip()  # quotes are not spoken
            if not ALLOWED.match(sent) or not sent.endswith((".", "!", "?")):
                continue
            if ("?" in sent) != ("¿" in sent) or ("!" in sent) != ("¡" in sent):
                continue  # half of a question/exclamation: a broken split
            if not 3 <= len(sent.split()) <= 14 or sent.lower() in seen:
                continue
            seen.add(sent.lower())
            kept.append(sent)
    return sorted(kept)


def translations(spanish: List[str], tgt_langs: Sequence[str], english: Optional[List[str]] = None
                 ) -> List[Dict[str, str]]:
    """Each sentence's targets: Apertium's, except the given (human) English."""
    by_lang = {lang: english if lang == "eng" and english is not None
               else apertium.translate(spanish, lang) for lang in tgt_langs}
    return [{lang: by_lang[lang][i] for lang in tgt_langs} for i in range(len(spanish))]


def espeak_variants() -> List[str]:
    """The names of espeak-ng's voice variants, sorted."""
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1:]
    return sorted(line.split()[4].split("/")[-1] for line in out if line.strip())


def make_speakers(rng: random.Random, seed: int, n_train: int) -> Dict[str, List[Speaker]]:
    """Speakers per split. The (voice, variant) pairs of dev, test and test_ood are disjoint from
    train's and from each other's; test_ood takes the last pairs of the shuffled list, so the
    other splits' speakers stay those of a corpus without it."""
    voices = [(v, var) for v in VOICES for var in espeak_variants()]
    rng.shuffle(voices)
    n_dev, n_test, n_ood = SPEAKERS["dev"], SPEAKERS["test"], SPEAKERS["test_ood"]
    pool = voices[n_dev + n_test : len(voices) - n_ood]
    if n_train > len(pool):
        raise PrepError(f"--train_speakers {n_train}: only {len(pool)} (voice, variant) pairs are "
                        "left for training")
    held = {"dev": voices[:n_dev], "test": voices[n_dev : n_dev + n_test], "train": pool[:n_train]}
    speakers = {split: [Speaker(v, var, rng.randint(*SPEED), rng.randint(*PITCH)) for v, var in chosen]
                for split, chosen in held.items()}
    ood = random.Random(f"{seed}/test_ood/speakers")
    speakers["test_ood"] = [Speaker(v, var, ood.randint(*ood.choice(OOD_SPEED)),
                                    ood.randint(*ood.choice(OOD_PITCH)))
                            for v, var in voices[len(voices) - n_ood :]]
    return speakers


def split_sizes(n: int, size: str, train_size: Optional[int]) -> Dict[str, int]:
    """Fortunes sentences per split (test, dev, train) for ``size``, of ``n`` available."""
    spec = dict(SIZES[size])
    if size == "full":
        dev, test = int(n * spec["dev"]), int(n * spec["test"])
        spec = {"test": test, "dev": dev, "train": n - dev - test}
    if train_size is not None:
        spec["train"] = train_size
    if sum(spec.values()) > n:
        raise PrepError(f"--size {size} needs {sum(spec.values())} sentences, only {n} available")
    return spec


def ui_splits(seed: int, n_test: int, n_train: Optional[int]) -> Dict[str, List[Tuple[str, str, str]]]:
    """test_ood's ``(suffix, spanish, english)`` message triples, and ``ui_train``'s from other
    programs (none of them a Spanish sentence of test_ood's domains; None: all); each from its
    own random stream."""
    test_pool = ui_strings.pairs(ui_strings.TEST_DOMAINS)
    train_pool = ui_strings.pairs(ui_strings.TRAIN_DOMAINS)
    held_out = {es.lower() for es, _ in test_pool}
    train_pool = [p for p in train_pool if p[0].lower() not in held_out]
    chosen = {}
    for split, pool, n in (("test_ood", test_pool, n_test), ("train", train_pool, n_train)):
        n = len(pool) if n is None else n
        if n > len(pool):
            raise PrepError(f"{split}: {n} message pairs asked for, {len(pool)} available")
        order = list(range(len(pool)))
        random.Random(f"{seed}/{split}/ui").shuffle(order)
        chosen[split] = [(f"ui{i:05d}", *pool[i]) for i in order[:n]]
    return chosen


def with_targets(messages: List[Tuple[str, str, str]], tgt_langs: Sequence[str]) -> List[Sentence]:
    """Message triples (suffix, Spanish, human English) -> sentences with every target."""
    targets = translations([es for _, es, _ in messages], tgt_langs, [en for _, _, en in messages])
    return [Sentence(suffix, es, t) for (suffix, es, _), t in zip(messages, targets)]


def jittered(speaker: Speaker, utt: str, seed: int) -> Speaker:
    """Prosody per utterance: the speaker's speed and pitch, each moved by up to PROSODY_JITTER."""
    rng = random.Random(f"{seed}/prosody/{utt}")
    jitter = lambda value: round(value * (1 + rng.uniform(-PROSODY_JITTER, PROSODY_JITTER)))
    return speaker._replace(speed=jitter(speaker.speed), pitch=min(99, jitter(speaker.pitch)))


def synthesize(utterance: Utterance) -> Tuple[str, float]:
    """espeak-ng speaks the utterance into its WAV file; returns its id and duration (s)."""
    utt, text, speaker, path = utterance
    cmd = ["espeak-ng", "-v", f"{speaker.voice}+{speaker.variant}", "-s", str(speaker.speed),
           "-p", str(speaker.pitch), "-w", str(path),
           "--stdin"]  # on stdin, text starting with "-" is not read as an option
    subprocess.run(cmd, input=text, text=True, check=True, capture_output=True)
    info = sf.info(path)
    if info.frames == 0:
        raise RuntimeError(f"espeak-ng wrote no audio for {utt}: {text}")
    return utt, info.frames / info.samplerate


def plan_splits(seed: int, size: str, tgt_langs: Sequence[str], train_size: Optional[int],
                ui_train: Optional[int], train_speakers: int
                ) -> Tuple[Dict[str, List[Sentence]], Dict[str, List[Speaker]]]:
    """Each split's sentences, with their targets, and its speakers: the corpus before its audio."""
    rng = random.Random(seed)
    sents = sentences(fortunes())
    log.info(f"{len(sents)} sentences after filtering")
    order = list(range(len(sents)))
    rng.shuffle(order)
    sizes = split_sizes(len(sents), size, train_size)
    speakers = make_speakers(rng, seed, train_speakers)
    plan, start = {}, 0
    for split in ("test", "dev", "train"):
        plan[split] = order[start : start + sizes[split]]
        start += sizes[split]
    chosen = sorted(i for ids in plan.values() for i in ids)
    translation = dict(zip(chosen, translations([sents[i] for i in chosen], tgt_langs)))
    splits = {split: [Sentence(f"{i:05d}", sents[i], translation[i]) for i in ids]
              for split, ids in plan.items()}
    messages = ui_splits(seed, OOD_SIZES[size], UI_TRAIN[size] if ui_train is None else ui_train)
    splits["train"] += with_targets(messages["train"], tgt_langs)
    splits["test_ood"] = with_targets(messages["test_ood"], tgt_langs)
    return splits, speakers


def make_corpus(out: Path, wavdir: Path, size: str = "default", seed: int = 777,
                tgt_langs: Sequence[str] = ("eng",), train_size: Optional[int] = None,
                ui_train: Optional[int] = None, train_speakers: int = SPEAKERS["train"],
                prosody: str = "speaker", nj: int = 2) -> None:
    """Data dirs ``out/{train,dev,test,test_ood}`` (``wav.scp``, ``text``, ``text.<l>`` per
    target, ``utt2spk``, ``spk2utt``, ``spk2voice``), the audio in ``wavdir``. ``size``: one of
    SIZES; ``train_size`` (fortunes sentences), ``ui_train`` (messages; default: the size's,
    UI_TRAIN) and ``train_speakers``: the training set's levers; ``prosody`` "utterance":
    each training utterance at its own speed and pitch around its speaker's; ``nj``: espeak-ng
    processes at once."""
    if prosody not in PROSODIES:
        raise ValueError(f"prosody must be one of {PROSODIES}, not {prosody!r}")
    splits, speakers = plan_splits(seed, size, tgt_langs, train_size, ui_train, train_speakers)
    wavdir.mkdir(parents=True, exist_ok=True)
    for split, chosen in splits.items():
        tables = {name: {} for name in ("wav.scp", "text", "utt2spk", "spk2voice",
                                        *(f"text.{lang}" for lang in tgt_langs))}
        utterances = []
        for n, sentence in enumerate(chosen):
            spk_idx = n % len(speakers[split])
            spk = f"{split.replace('_', '')}{spk_idx:02d}"
            utt = f"{spk}-{sentence.suffix}"
            path = (wavdir / f"{utt}.wav").resolve()
            speaker = speakers[split][spk_idx]
            if prosody == "utterance" and split == "train":
                speaker = jittered(speaker, utt, seed)
            utterances.append(Utterance(utt, sentence.spanish, speaker, path))
            tables["wav.scp"][utt] = str(path)
            tables["text"][utt] = sentence.spanish
            for lang, target in sentence.targets.items():
                tables[f"text.{lang}"][utt] = target
            tables["utt2spk"][utt] = spk
            tables["spk2voice"][spk] = speakers[split][spk_idx].spk2voice()
        with ThreadPoolExecutor(nj) as pool:  # espeak-ng runs as subprocesses
            durations = dict(tqdm(pool.map(synthesize, utterances), total=len(utterances),
                                  desc=f"speak {split}"))
        split_dir = out / split
        split_dir.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            write_table(split_dir / name, table)
        write_table(split_dir / "spk2utt", spk2utt(tables["utt2spk"]))
        log.info(f"{split_dir}: {len(chosen)} utterances, {len(set(tables['utt2spk'].values()))} "
                 f"speakers, {sum(durations.values()) / 3600:.2f} h")
