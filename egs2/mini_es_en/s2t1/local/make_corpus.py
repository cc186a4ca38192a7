#!/usr/bin/env python3
"""Make the mini_es_en corpus: Spanish speech with Spanish transcripts and English translations.

Sentences come from fortunes-es, speech from espeak-ng (Spanish voices x variants x speed x
pitch = many "speakers"), translations from Apertium spa-eng. Deterministic for a seed; split
by sentence; dev/test speakers use (voice, variant) pairs never heard in training.

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
from typing import Dict, List, Tuple

import soundfile as sf
from tqdm import tqdm

from espnet_smoe.datadir import write_table

FORTUNES = Path("/usr/share/games/fortunes/es")
SIZES = {  # utterances per split; None = all remaining sentences
    "smoke": {"train": 20, "dev": 5, "test": 5},
    "default": {"train": 4000, "dev": 200, "test": 300},
    "full": {"train": None, "dev": 0.04, "test": 0.06},
}
SPEAKERS = {"train": 40, "dev": 6, "test": 8}
VOICES = ("es", "es-419")
SPEED = (130, 190)  # words per minute
PITCH = (30, 70)
QUOTES = re.compile(r"[\"«»“”]")
ALLOWED = re.compile(r"^[A-Za-zÁÉÍÓÚÜÑáéíóúüñ ,;:.¡!¿?-]+$")


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--wavdir", type=Path, default=Path("downloads/mini_es_en/wav"))
    parser.add_argument("--nj", type=int, default=2)
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


def translate(sents: List[str]) -> List[str]:
    """Apertium spa-eng in one call, one sentence per line."""
    out = subprocess.run(["apertium", "-u", "spa-eng"], input="\n".join(sents) + "\n",
                         capture_output=True, text=True, check=True).stdout.rstrip("\n").split("\n")
    if len(out) != len(sents):
        sys.exit(f"apertium returned {len(out)} lines for {len(sents)} sentences")
    empty = [s for s, t in zip(sents, out) if not t.strip()]
    if empty:
        sys.exit(f"apertium gave an empty translation for {len(empty)} sentences, e.g. {empty[:3]}")
    return [t.strip() for t in out]


def espeak_variants() -> List[str]:
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1:]
    return sorted(line.split()[4].split("/")[-1] for line in out if line.strip())


def make_speakers(rng: random.Random) -> Dict[str, List[Tuple[str, str, int, int]]]:
    """Speakers per split; (voice, variant) pairs of dev/test are disjoint from train's."""
    pairs = [(v, var) for v in VOICES for var in espeak_variants()]
    rng.shuffle(pairs)
    held = {"dev": pairs[: SPEAKERS["dev"]], "test": pairs[SPEAKERS["dev"] : SPEAKERS["dev"] + SPEAKERS["test"]]}
    train_pairs = pairs[SPEAKERS["dev"] + SPEAKERS["test"] :]
    held["train"] = train_pairs[: SPEAKERS["train"]]
    return {split: [(v, var, rng.randint(*SPEED), rng.randint(*PITCH)) for v, var in chosen]
            for split, chosen in held.items()}


def split_sizes(n: int, size: str) -> Dict[str, int]:
    spec = SIZES[size]
    if size == "full":
        dev, test = int(n * spec["dev"]), int(n * spec["test"])
        return {"test": test, "dev": dev, "train": n - dev - test}
    if sum(spec.values()) > n:
        sys.exit(f"--size {size} needs {sum(spec.values())} sentences, only {n} available")
    return spec


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
    sizes = split_sizes(len(sents), args.size)
    speakers = make_speakers(rng)
    plan, start = {}, 0
    for split in ("test", "dev", "train"):
        plan[split] = order[start : start + sizes[split]]
        start += sizes[split]
    chosen = sorted(i for ids in plan.values() for i in ids)
    translation = dict(zip(chosen, translate([sents[i] for i in chosen])))

    args.wavdir.mkdir(parents=True, exist_ok=True)
    for split, ids in plan.items():
        tables = {name: {} for name in ("wav.scp", "text", "text.eng", "utt2spk")}
        jobs = []
        for n, i in enumerate(ids):
            spk_idx = n % len(speakers[split])
            spk = f"{split}{spk_idx:02d}"
            utt = f"{spk}-{i:05d}"
            path = (args.wavdir / f"{utt}.wav").resolve()
            jobs.append((utt, sents[i], speakers[split][spk_idx], path))
            tables["wav.scp"][utt] = str(path)
            tables["text"][utt] = sents[i]
            tables["text.eng"][utt] = translation[i]
            tables["utt2spk"][utt] = spk
        with ThreadPoolExecutor(args.nj) as pool:  # espeak-ng runs as subprocesses
            durations = dict(tqdm(pool.map(synthesize, jobs), total=len(jobs), desc=f"speak {split}"))
        out = args.out / split
        out.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            write_table(out / name, table)
        spk2utt = {}
        for utt, spk in tables["utt2spk"].items():
            spk2utt.setdefault(spk, []).append(utt)
        write_table(out / "spk2utt", {s: " ".join(sorted(u)) for s, u in spk2utt.items()})
        print(f"{out}: {len(ids)} utterances, {len(spk2utt)} speakers, "
              f"{sum(durations.values()) / 3600:.2f} h")


if __name__ == "__main__":
    main()
