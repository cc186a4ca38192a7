#!/usr/bin/env python3
"""Fisher Spanish + CallHome Spanish with the English of the Fisher-Callhome Spanish-English
corpus (Post et al. 2013) -> Kaldi data dirs data/<set> for the seven official splits.

Inputs (the layouts LDC and the translation corpus ship):

- Fisher speech (LDC2010S01): ``**/*.sph``, one 2-channel 8 kHz NIST SPHERE file per call
- Fisher transcripts (LDC2010T04): ``**/<call>.tdf``, UTF-8, tab-separated; a ``file;unicode``
  header line and ``;;MM`` metadata lines, then one line per segment whose columns are file,
  channel (0: A, 1: B), start, end, speaker, speakerType, speakerDialect, transcript, ...
- CallHome speech (LDC96S35): ``CALLHOME/SPANISH/SPEECH/{TRAIN,DEVTEST,EVLTEST}/*.SPH``,
  2-channel 8 kHz SPHERE, shorten-compressed
- CallHome transcripts (LDC96T17): ``transcrp/{train,devtest,evltest}/<call>.txt``, ISO-8859-1,
  lines ``<start> <end> <A|B>: <words>``
- translations (the ``Fisher-Callhome-corpus`` repository): ``mapping/<set>`` and
  ``corpus/ldc/<set>.en`` (Fisher train, CallHome sets) or ``<set>.en.{0,1,2,3}`` (Fisher dev,
  dev2, test: four references). Line k of the English is the translation of mapping line k,
  ``<call> <n>[_<n>...]``: the n-th lines of that call's transcript, 1-based, counting every
  line of a CallHome ``.txt`` and every line of a ``.tdf`` but its header and ``;;MM`` lines.
  ``corpus/ldc/<set>.es``, where the corpus's own build scripts made it, is used as a check of
  that alignment.

Output per set: ``wav.scp`` (one entry per conversation side, ``<call>-A`` / ``<call>-B``, a pipe
that extracts that channel as 16-bit WAV: sox for plain SPHERE, sph2pipe for shorten-compressed
SPHERE, which neither libsndfile nor sox decode), ``segments`` (start of the mapping line's
first transcript line to the end of its last), ``utt2spk`` / ``spk2utt`` (speaker = conversation
side), ``text`` (Spanish, normalised), ``text.eng`` (English reference 0), ``utt2bw`` (nb),
``raw_text`` (the LDC transcript lines as they are), ``text.eng.{1,2,3}`` (the other references of
the Fisher dev/test sets), ``prep_skipped`` (``<call>:<lines> <reason> <detail>``: left out,
never silently) and ``prep_report.json`` (counts, hours).

Usage:
    prep_fisher_callhome.py --fisher_speech /corpora/LDC2010S01 --fisher_transcripts /corpora/LDC2010T04 \
        --callhome_speech /corpora/LDC96S35 --callhome_transcripts /corpora/LDC96T17 \
        --translations /corpora/Fisher-Callhome-corpus --out data
"""

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

from espnet_smoe.recipe.datadir import check_data_dir, spk2utt, write_table

FISHER_SETS = ("fisher_train", "fisher_dev", "fisher_dev2", "fisher_test")
CALLHOME_SETS = ("callhome_train", "callhome_devtest", "callhome_evltest")
MULTI_REF = ("fisher_dev", "fisher_dev2", "fisher_test")  # four English references each
ES_MISMATCH_LIMIT = 0.1  # share of lines differing from corpus/ldc/<set>.es taken for misalignment


class PrepError(RuntimeError):
    """The corpus is not where, or not what, it should be; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# Text normalisation (shared with prep_covost2.py)

_COMMENT = re.compile(r"\[\[.*?\]\]")                 # CallHome [[transcriber comments]]
_TAG = re.compile(r"<[^<>]*>")                        # <laugh>, <foreign lang="English">, <English x>
_BRACED = re.compile(r"\{[^{}]*\}")                   # CallHome {laugh}, {breath}
_BRACKETED = re.compile(r"\[[^\[\]]*\]")              # [noise], [distortion]
_BROKEN_TAG = re.compile(r"</?\s*[A-Za-z]+(\s+lang\S*)?")  # a tag left open: "<foreign langenglish"
_MARKS = re.compile(r"[()+*/#<>\[\]{}]")              # (( )) uncertain speech, +mispron+, #overlap
_SPACES = re.compile(r"\s+")


def strip_markup(text: str) -> str:
    """LDC transcript -> words: annotation tags, noise events and comments go; the words of
    uncertain ``(( ))`` speech and of foreign-language tags stay (Post et al.'s Spanish side)."""
    text = unicodedata.normalize("NFC", text)
    for pattern in (_COMMENT, _TAG, _BRACED, _BRACKETED, _BROKEN_TAG, _MARKS):
        text = pattern.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _drop_punctuation(text: str, keep: str = "") -> str:
    """Every punctuation mark or symbol (Unicode P*, S*) but those in ``keep`` -> a space."""
    return "".join(" " if unicodedata.category(c)[0] in "PS" and c not in keep else c for c in text)


def normalize_source(text: str, case: str = "lc.rm", markup: bool = True) -> str:
    """Spanish training text. ``lc.rm`` (default, ESPnet's src_case for this corpus): lower-cased,
    punctuation and symbols removed (as local/score.py normalises for WER); ``tc``: as written."""
    text = strip_markup(text) if markup else _SPACES.sub(" ", unicodedata.normalize("NFC", text))
    if case == "lc.rm":
        text = _drop_punctuation(text.lower())
    elif case != "tc":
        raise ValueError(f"case must be lc.rm or tc, not {case!r}")
    return _SPACES.sub(" ", text).strip()


_NOTE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|<[^<>]*>|\{[^{}]*\}")  # translators' notes
_ALTERNATIVE = re.compile(r"\b(\w+)/\w+\b")                           # he/she -> he
_NOISY = re.compile(r"[<>\[\]{}()\\/;~=·*]")
_LEADING = re.compile(r"^[\s,.!]+")


def normalize_target(text: str, case: str = "tc", notes: bool = True) -> str:
    """English reference. ``tc`` (default): cased, punctuated, whitespace-normalised (sacreBLEU
    scores it as CoVoST's published results are); ``lc.rm``: also lower-cased with punctuation
    removed but apostrophes (ESPnet's Fisher-Callhome BLEU). ``notes``: also drop translators'
    bracketed notes and ``a/b`` alternatives (the Fisher-Callhome translations have them)."""
    text = unicodedata.normalize("NFC", text).replace("¿", " ").replace("¡", " ")
    text = text.replace("`", "'").replace("´", "'").replace("_", " ")
    if notes:
        text = _ALTERNATIVE.sub(r"\1", _NOTE.sub(" ", text))
        text = _NOISY.sub(" ", text)
    text = _LEADING.sub("", _SPACES.sub(" ", text).strip())
    if not _drop_punctuation(text).strip():  # only punctuation left
        return ""
    if case == "lc.rm":
        text = _drop_punctuation(text.lower(), keep="'")
    elif case != "tc":
        raise ValueError(f"case must be lc.rm or tc, not {case!r}")
    return _SPACES.sub(" ", text).strip()


# ---------------------------------------------------------------------------------------------
# Transcripts


class Line(NamedTuple):
    """One numbered transcript line; side/start/end are None where the line has no timing."""

    side: Optional[str]
    start: Optional[float]
    end: Optional[float]
    text: str


def _physical_lines(raw: str) -> List[str]:
    """Lines as ``cat`` numbers them (a final newline ends the last line, adds none)."""
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def read_tdf(path: Path) -> List[Line]:
    """A Fisher ``.tdf``: header and ``;;MM`` lines are not numbered (as the corpus's
    build_fisher.sh drops them), every other line is."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PrepError(f"{path}: not UTF-8 ({e}); LDC2010T04 transcripts are UTF-8") from None
    lines = []
    for line in _physical_lines(raw):
        if ";;MM" in line or "file;unicode" in line:
            continue
        f = line.split("\t")
        try:
            lines.append(Line("AB"[int(f[1])], float(f[2]), float(f[3]), f[7]))
        except (IndexError, ValueError):
            lines.append(Line(None, None, None, f[7] if len(f) > 7 else ""))
    return lines


_CALLHOME_LINE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s+(\d+(?:\.\d*)?)\s+([AB])[^:\s]*:\s*(.*)$")


def read_callhome_txt(path: Path) -> List[Line]:
    """A CallHome ``.txt`` (ISO-8859-1; UTF-8 accepted too): every line is numbered."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = []
    for line in _physical_lines(text):
        m = _CALLHOME_LINE.match(line)
        if m:
            lines.append(Line(m.group(3), float(m.group(1)), float(m.group(2)), m.group(4)))
        else:
            lines.append(Line(None, None, None, line))
    return lines


def index_files(root: Path, suffix: str) -> Dict[str, List[Path]]:
    """lower-cased stem -> files under ``root`` (any depth) ending in ``suffix``, any case."""
    found: Dict[str, List[Path]] = {}
    for folder, _, names in os.walk(root, followlinks=True):
        for name in names:
            if name.lower().endswith(suffix):
                found.setdefault(name[: -len(suffix)].lower(), []).append(Path(folder, name).resolve())
    return found


def _one(index: Dict[str, List[Path]], call: str, what: str) -> Optional[Path]:
    paths = index.get(call.lower())
    if not paths:
        return None
    if len(paths) > 1:
        raise PrepError(f"{what} of call {call}: {len(paths)} files ({', '.join(map(str, paths))})")
    return paths[0]


# ---------------------------------------------------------------------------------------------
# Audio


def sphere_header(path: Path) -> Dict[str, str]:
    """The fields of a NIST SPHERE header (``name -type value`` lines up to ``end_head``)."""
    with open(path, "rb") as f:
        head = f.read(1024)
        if not head.startswith(b"NIST_1A"):
            raise PrepError(f"{path}: not NIST SPHERE (no NIST_1A header)")
        try:
            size = int(head.split(b"\n")[1])
        except (IndexError, ValueError):
            raise PrepError(f"{path}: malformed SPHERE header") from None
        head += f.read(max(0, size - 1024))
    fields = {}
    for line in head[:size].decode("latin-1").split("\n")[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(None, 2)
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    return fields


def find_sph2pipe(option: str) -> Optional[str]:
    if option:
        if not (os.path.isfile(option) and os.access(option, os.X_OK)) and not shutil.which(option):
            raise PrepError(f"--sph2pipe {option}: not an executable")
        return option
    return shutil.which("sph2pipe")


class Audio:
    """wav.scp entries of conversation sides: one command per file and channel."""

    def __init__(self, sph2pipe: Optional[str]):
        self.sph2pipe = sph2pipe
        self.headers: Dict[Path, Dict[str, str]] = {}

    def command(self, path: Path, side: str) -> str:
        header = self.headers.get(path)
        if header is None:
            header = self.headers[path] = sphere_header(path)
        channels = int(header.get("channel_count", "1"))
        channel = "AB".index(side) + 1
        if channel > channels:
            raise PrepError(f"{path}: {channels} channel(s), no side {side}")
        coding = header.get("sample_coding", "pcm")
        if "shorten" in coding.lower():
            if not self.sph2pipe:
                raise PrepError(
                    f"{path}: shorten-compressed NIST SPHERE (sample_coding '{coding}'), which "
                    "neither libsndfile nor sox decodes. Install sph2pipe, LDC's SPHERE decoder "
                    "that Kaldi and ESPnet use (not in Debian: ESPnet's "
                    "tools/installers/install_sph2pipe.sh or Kaldi's tools/ build it), and put it "
                    "on PATH or pass --sph2pipe /path/to/sph2pipe")
            return f"{shlex.quote(self.sph2pipe)} -f wav -p -c {channel} {shlex.quote(str(path))} |"
        if not shutil.which("sox"):
            raise PrepError(f"{path}: sox is needed to read SPHERE channels (apt-get install sox)")
        remix = f" remix {channel}" if channels > 1 else ""
        return f"sox -t sph {shlex.quote(str(path))} -t wav -e signed-integer -b 16 -{remix} |"


# ---------------------------------------------------------------------------------------------
# Sets


def read_mapping(path: Path) -> List[tuple]:
    """``<call> <n>[_<n>...]`` lines -> [(call, [n, ...])]."""
    if not path.is_file():
        raise PrepError(f"{path}: missing (the mapping files of the Fisher-Callhome-corpus)")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            call, ids = line.split()
            rows.append((call, [int(i) for i in ids.split("_")]))
        except ValueError:
            raise PrepError(f"{path}:{n}: malformed mapping line '{line}'") from None
    return rows


def read_lines(path: Path, expected: int, what: str) -> List[str]:
    if not path.is_file():
        raise PrepError(f"{path}: missing ({what})")
    lines = _physical_lines(path.read_text(encoding="utf-8"))
    if len(lines) != expected:
        raise PrepError(f"{path}: {len(lines)} lines for {expected} mapping lines: the translation "
                        "corpus does not match its mapping file")
    return lines


def _loose(text: str) -> str:
    """Form in which our Spanish and the corpus's ``.es`` line are compared: letters only."""
    return "".join(c for c in normalize_source(text) if c.isalnum())


def prepare_set(name: str, args, transcripts, audio_index, audio: Audio, reader) -> dict:
    corpus = Path(args.translations)
    mapping = read_mapping(corpus / "mapping" / name)
    refs = ([corpus / "corpus/ldc" / f"{name}.en.{i}" for i in range(4)] if name in MULTI_REF
            else [corpus / "corpus/ldc" / f"{name}.en"])
    english = [read_lines(p, len(mapping), "English translations") for p in refs]
    es_path = corpus / "corpus/ldc" / f"{name}.es"
    spanish = read_lines(es_path, len(mapping), "Spanish side") if es_path.is_file() else None

    tables = {n: {} for n in ("wav.scp", "segments", "text", "text.eng", "utt2spk", "utt2bw",
                              "raw_text", *(f"text.eng.{i}" for i in range(1, len(refs))))}
    skipped, parsed, es_mismatch, mixed, seconds = {}, {}, {}, 0, 0.0
    for k, (call, ids) in enumerate(mapping):
        key = f"{call}:{'_'.join(map(str, ids))}"

        def skip(reason, detail=""):
            skipped[key] = f"{reason} {detail}".strip()

        if call not in parsed:
            path = _one(transcripts, call, "transcript")
            parsed[call] = reader(path) if path else None
        lines = parsed[call]
        if lines is None:
            skip("no_transcript", f"no transcript file for call {call}")
            continue
        if any(not 1 <= i <= len(lines) for i in ids):
            skip("bad_line", f"line numbers {ids} beyond the transcript's {len(lines)} lines")
            continue
        picked = [lines[i - 1] for i in ids]
        raw = " ".join(line.text.strip() for line in picked)
        if spanish is not None and _loose(raw) != _loose(spanish[k]):
            es_mismatch[key] = f"ours='{strip_markup(raw)}' corpus='{spanish[k]}'"
        timed = [line for line in picked if line.side]
        if not timed:
            skip("untimed", "no timed transcript line")
            continue
        start, end = min(line.start for line in timed), max(line.end for line in timed)
        if len({line.side for line in timed}) > 1:
            mixed += 1  # kept on the first line's side, as ESPnet's concatenation does
        text = normalize_source(raw, args.src_case)
        translation = normalize_target(english[0][k], args.tgt_case)
        if round(end, 2) <= round(start, 2):
            skip("zero_length", f"{start:.2f} to {end:.2f} s")
            continue
        if not text:
            skip("empty_text", f"transcript '{raw}'")
            continue
        if not translation:
            skip("empty_translation", f"translation '{english[0][k]}'")
            continue
        sph = _one(audio_index, call, "speech")
        if sph is None:
            skip("no_audio", f"no .sph file for call {call}")
            continue
        rec = f"{call}-{timed[0].side}"
        utt = f"{rec}-{round(start * 100):06d}-{round(end * 100):06d}"
        if utt in tables["text"]:
            skip("duplicate", f"same side and times as {utt}")
            continue
        if rec not in tables["wav.scp"]:
            tables["wav.scp"][rec] = audio.command(sph, timed[0].side)
        tables["segments"][utt] = f"{rec} {start:.2f} {end:.2f}"
        tables["text"][utt] = text
        tables["text.eng"][utt] = translation
        tables["utt2spk"][utt] = rec
        tables["utt2bw"][utt] = "nb"
        tables["raw_text"][utt] = raw
        for i in range(1, len(refs)):
            tables[f"text.eng.{i}"][utt] = normalize_target(english[i][k], args.tgt_case)
        seconds += end - start
    if spanish is not None and len(es_mismatch) > ES_MISMATCH_LIMIT * max(1, len(mapping)):
        example = next(iter(es_mismatch.items()))
        raise PrepError(f"{name}: {len(es_mismatch)} of {len(mapping)} mapping lines differ from "
                        f"{es_path} (e.g. {example[0]}: {example[1]}): transcripts, mapping and "
                        "translations are not aligned (another LDC release or corpus version?)")

    if mapping and not tables["text"]:
        raise PrepError(f"{name}: none of its {len(mapping)} mapping lines kept (reasons: "
                        f"{dict(Counter(v.split()[0] for v in skipped.values()))})")
    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    for file, table in tables.items():
        write_table(out / file, table)
    write_table(out / "spk2utt", spk2utt(tables["utt2spk"]))
    write_table(out / "prep_skipped", skipped)
    if spanish is not None:
        write_table(out / "prep_es_mismatch", es_mismatch)
    check_data_dir(out, ["eng"])
    report = {"set": name, "mapping_lines": len(mapping), "kept": len(tables["text"]),
              "skipped": len(skipped),
              "skipped_by_reason": dict(Counter(v.split()[0] for v in skipped.values())),
              "hours": round(seconds / 3600, 3), "mixed_sides": mixed,
              "es_mismatch": None if spanish is None else len(es_mismatch)}
    (out / "prep_report.json").write_text(json.dumps(report, indent=1) + "\n")
    reasons = ", ".join(f"{r} {c}" for r, c in sorted(report["skipped_by_reason"].items()))
    print(f"{out}: kept {report['kept']} of {len(mapping)} ({report['hours']:.2f} h), skipped "
          f"{len(skipped)}{f' ({reasons})' if reasons else ''} -> {out}/prep_skipped; "
          f"{mixed} joined across both sides (kept on the first side's channel)"
          + ("" if spanish is None else f"; {len(es_mismatch)} differ from {es_path.name}"))
    return report


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fisher_speech", help="LDC2010S01 root")
    parser.add_argument("--fisher_transcripts", help="LDC2010T04 root")
    parser.add_argument("--callhome_speech", help="LDC96S35 root")
    parser.add_argument("--callhome_transcripts", help="LDC96T17 root")
    parser.add_argument("--translations", required=True, help="Fisher-Callhome-corpus root")
    parser.add_argument("--out", default="data")
    parser.add_argument("--sets", nargs="+", default=[*FISHER_SETS, *CALLHOME_SETS],
                        choices=[*FISHER_SETS, *CALLHOME_SETS])
    parser.add_argument("--src_case", choices=["lc.rm", "tc"], default="lc.rm")
    parser.add_argument("--tgt_case", choices=["tc", "lc.rm"], default="tc")
    parser.add_argument("--sph2pipe", default="", help="sph2pipe executable (default: from PATH)")
    return parser.parse_args()


def main():
    args = get_args()
    audio = Audio(find_sph2pipe(args.sph2pipe))
    for prefix, sets, suffix, reader in (("fisher", FISHER_SETS, ".tdf", read_tdf),
                                         ("callhome", CALLHOME_SETS, ".txt", read_callhome_txt)):
        wanted = [s for s in args.sets if s in sets]
        if not wanted:
            continue
        roots = {}
        for kind in ("speech", "transcripts"):
            root = getattr(args, f"{prefix}_{kind}")
            if not root or not Path(root).is_dir():
                raise PrepError(f"--{prefix}_{kind} '{root or ''}': not a directory (needed for {wanted[0]})")
            roots[kind] = Path(root)
        transcripts = index_files(roots["transcripts"], suffix)
        audio_index = index_files(roots["speech"], ".sph")
        if not audio_index:
            raise PrepError(f"{roots['speech']}: no .sph files")
        for name in wanted:
            prepare_set(name, args, transcripts, audio_index, audio, reader)


if __name__ == "__main__":
    try:
        main()
    except PrepError as e:
        sys.exit(f"prep_fisher_callhome.py: error: {e}")
