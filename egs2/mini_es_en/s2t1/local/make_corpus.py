#!/usr/bin/env python3
"""Make the mini_es_en corpus: Spanish speech with Spanish transcripts and translations.

Sentences come from fortunes-es, speech from espeak-ng (Spanish voices x variants x speed x
pitch = many "speakers"), translations (``text.<l>`` per ``--tgt_langs``: English by default,
also Catalan and Portuguese) from Apertium (local/apertium.py). Deterministic for a seed; split
by sentence; dev/test speakers use (voice, variant) pairs never heard in training. Each split's
``spk2voice`` says who its speakers are: ``<voice>+<variant> <words per minute> <pitch>``.

``test_ood`` is out of domain in text, voice and prosody: software messages and their English
originals, both written by people (local/ui_strings.py; their other targets are Apertium's),
spoken by (voice, variant) pairs no other split uses, at speeds and pitches outside the training
ranges. It is drawn from its own random stream, so the other splits are the same with or
without it.

Levers (recipe README, "Levers"): ``--train_size`` fortunes sentences for training, ``--ui_train``
more training sentences from other programs' messages (a second text source, with its human
English), ``--train_speakers`` voices for training, ``--prosody utterance`` a speed and pitch per
utterance around its speaker's.

Usage:
    python local/make_corpus.py --size default --seed 777 --out data --wavdir downloads/wav --nj 2
"""

import argparse
import random
import re
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import soundfile as sf
from tqdm import tqdm

from espnet_smoe.recipe.datadir import spk2utt, write_table
import apertium
import ui_strings
from ui_strings import TEST_DOMAINS, TRAIN_DOMAINS

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
PROSODY_JITTER = 0.15  # --prosody utterance: speed and pitch within +-15 % of the speaker's
Speaker = Tuple[str, str, int, int]  # voice, variant, speed, pitch
Item = Tuple[str, str, Dict[str, str]]  # utterance id suffix, Spanish, target language -> text
QUOTES = re.compile(r"[\"«»“”]")
ALLOWED = re.compile(r"^[A-Za-zÁÉÍÓÚÜÑáéíóúüñ ,;:.¡!¿?-]+$")


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--wavdir", type=Path, default=Path("downloads/mini_es_en/wav"))
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--tgt_langs", nargs="+", default=["eng"], choices=sorted(apertium.MODES),
                        help="translation targets (ISO 639-3), each a text.<l>")
    parser.add_argument("--train_size", type=int, help="fortunes sentences for training "
                        "(default: the size's; the first N of a larger N's)")
    parser.add_argument("--ui_train", type=int, help="also train on this many messages of "
                        "TRAIN_DOMAINS (local/ui_strings.py; default: the size's, UI_TRAIN)")
    parser.add_argument("--train_speakers", type=int, default=SPEAKERS["train"])
    parser.add_argument("--prosody", choices=("speaker", "utterance"), default="speaker",
                        help="a speed and pitch per speaker, or per training utterance around it")
    return parser.parse_args()


def fortunes() -> List[str]:
    """Each fortune's text without its attribution (the indented '-- Author' tail)."""
    files = sorted(FORTUNES.glob("*.u8"))
    if not files:
        sys.exit(f"no fortunes in {FORTUNES}: install the Debian package fortunes-es")
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


def translations(spanish: List[str], tgt_langs: List[str], english: Optional[List[str]] = None
                 ) -> List[Dict[str, str]]:
    """Each sentence's targets: Apertium's, except the given (human) English."""
    by_lang = {lang: english if lang == "eng" and english is not None
               else apertium.translate(spanish, lang) for lang in tgt_langs}
    return [{lang: by_lang[lang][i] for lang in tgt_langs} for i in range(len(spanish))]


def espeak_variants() -> List[str]:
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
        sys.exit(f"--train_speakers {n_train}: only {len(pool)} (voice, variant) pairs are left "
                 "for training")
    held = {"dev": voices[:n_dev], "test": voices[n_dev : n_dev + n_test], "train": pool[:n_train]}
    speakers = {split: [(v, var, rng.randint(*SPEED), rng.randint(*PITCH)) for v, var in chosen]
                for split, chosen in held.items()}
    ood = random.Random(f"{seed}/test_ood/speakers")
    speakers["test_ood"] = [(v, var, ood.randint(*ood.choice(OOD_SPEED)), ood.randint(*ood.choice(OOD_PITCH)))
                            for v, var in voices[len(voices) - n_ood :]]
    return speakers


def split_sizes(n: int, size: str, train_size: Optional[int]) -> Dict[str, int]:
    spec = dict(SIZES[size])
    if size == "full":
        dev, test = int(n * spec["dev"]), int(n * spec["test"])
        spec = {"test": test, "dev": dev, "train": n - dev - test}
    if train_size is not None:
        spec["train"] = train_size
    if sum(spec.values()) > n:
        sys.exit(f"--size {size} needs {sum(spec.values())} sentences, only {n} available")
    return spec


def ui_splits(seed: int, n_test: int, n_train: Optional[int]) -> Dict[str, List[Item]]:
    """test_ood's message pairs, and --ui_train's from other programs (none of them a Spanish
    sentence of test_ood's domains; None: all); each from its own random stream."""
    test_pool, train_pool = ui_strings.pairs(TEST_DOMAINS), ui_strings.pairs(TRAIN_DOMAINS)
    held_out = {es.lower() for es, _ in test_pool}
    train_pool = [p for p in train_pool if p[0].lower() not in held_out]
    chosen = {}
    for split, pool, n in (("test_ood", test_pool, n_test), ("train", train_pool, n_train)):
        n = len(pool) if n is None else n
        if n > len(pool):
            sys.exit(f"{split}: {n} message pairs asked for, {len(pool)} available")
        order = list(range(len(pool)))
        random.Random(f"{seed}/{split}/ui").shuffle(order)
        chosen[split] = [(f"ui{i:05d}", *pool[i]) for i in order[:n]]
    return chosen


def with_targets(messages: List[Tuple[str, str, str]], tgt_langs: List[str]) -> List[Item]:
    """Message triples (suffix, Spanish, human English) -> items with every target."""
    targets = translations([es for _, es, _ in messages], tgt_langs, [en for _, _, en in messages])
    return [(suffix, es, t) for (suffix, es, _), t in zip(messages, targets)]


def prosody(speaker: Speaker, utt: str, seed: int) -> Speaker:
    """--prosody utterance: the speaker's speed and pitch, each moved by up to PROSODY_JITTER."""
    voice, variant, speed, pitch = speaker
    rng = random.Random(f"{seed}/prosody/{utt}")
    jitter = lambda value: round(value * (1 + rng.uniform(-PROSODY_JITTER, PROSODY_JITTER)))
    return voice, variant, jitter(speed), min(99, jitter(pitch))


def synthesize(job) -> Tuple[str, float]:
    utt, text, (voice, variant, speed, pitch), path = job
    cmd = ["espeak-ng", "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch), "-w", str(path),
           "--stdin"]  # on stdin, text starting with "-" is not read as an option
    subprocess.run(cmd, input=text, text=True, check=True, capture_output=True)
    info = sf.info(path)
    if info.frames == 0:
        raise RuntimeError(f"espeak-ng wrote no audio for {utt}: {text}")
    return utt, info.frames / info.samplerate


def main():
    args = get_args()
    rng = random.Random(args.seed)
    sents = sentences(fortunes())
    print(f"{len(sents)} sentences after filtering")
    order = list(range(len(sents)))
    rng.shuffle(order)
    sizes = split_sizes(len(sents), args.size, args.train_size)
    speakers = make_speakers(rng, args.seed, args.train_speakers)
    plan, start = {}, 0
    for split in ("test", "dev", "train"):
        plan[split] = order[start : start + sizes[split]]
        start += sizes[split]
    chosen = sorted(i for ids in plan.values() for i in ids)
    translation = dict(zip(chosen, translations([sents[i] for i in chosen], args.tgt_langs)))
    items = {split: [(f"{i:05d}", sents[i], translation[i]) for i in ids] for split, ids in plan.items()}
    n_ui = UI_TRAIN[args.size] if args.ui_train is None else args.ui_train
    messages = ui_splits(args.seed, OOD_SIZES[args.size], n_ui)
    items["train"] += with_targets(messages["train"], args.tgt_langs)
    items["test_ood"] = with_targets(messages["test_ood"], args.tgt_langs)

    args.wavdir.mkdir(parents=True, exist_ok=True)
    for split, chosen_items in items.items():
        tables = {name: {} for name in ("wav.scp", "text", "utt2spk", "spk2voice",
                                        *(f"text.{lang}" for lang in args.tgt_langs))}
        jobs = []
        for n, (suffix, text, targets) in enumerate(chosen_items):
            spk_idx = n % len(speakers[split])
            spk = f"{split.replace('_', '')}{spk_idx:02d}"
            utt = f"{spk}-{suffix}"
            path = (args.wavdir / f"{utt}.wav").resolve()
            speaker = speakers[split][spk_idx]
            if args.prosody == "utterance" and split == "train":
                speaker = prosody(speaker, utt, args.seed)
            jobs.append((utt, text, speaker, path))
            tables["wav.scp"][utt] = str(path)
            tables["text"][utt] = text
            for lang, target in targets.items():
                tables[f"text.{lang}"][utt] = target
            tables["utt2spk"][utt] = spk
            voice, variant, speed, pitch = speakers[split][spk_idx]
            tables["spk2voice"][spk] = f"{voice}+{variant} {speed} {pitch}"
        with ThreadPoolExecutor(args.nj) as pool:  # espeak-ng runs as subprocesses
            durations = dict(tqdm(pool.map(synthesize, jobs), total=len(jobs), desc=f"speak {split}"))
        out = args.out / split
        out.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            write_table(out / name, table)
        write_table(out / "spk2utt", spk2utt(tables["utt2spk"]))
        print(f"{out}: {len(chosen_items)} utterances, {len(set(tables['utt2spk'].values()))} speakers, "
              f"{sum(durations.values()) / 3600:.2f} h")


if __name__ == "__main__":
    main()
