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
never silently) and ``prep_report.json`` (counts, hours). The command line is
egs2/fisher_callhome_covost2/s2t1/local/prep_fisher_callhome.py.
"""

import logging
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from espnet_smoe.recipe.corpora.normalize import normalize_source, normalize_target, strip_markup
from espnet_smoe.recipe.corpora.prep import (PrepError, SetReport, count_reasons, reasons_note,
                                             write_prepared)
from espnet_smoe.recipe.datadir import write_table

FISHER_SETS = ("fisher_train", "fisher_dev", "fisher_dev2", "fisher_test")
CALLHOME_SETS = ("callhome_train", "callhome_devtest", "callhome_evltest")
MULTI_REF = ("fisher_dev", "fisher_dev2", "fisher_test")  # four English references each
ES_MISMATCH_LIMIT = 0.1  # share of lines differing from corpus/ldc/<set>.es taken for misalignment
log = logging.getLogger(__name__)


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


class Calls(NamedTuple):
    """One corpus's conversations: transcript and speech files by call id, and how to read a
    transcript into numbered lines."""

    transcripts: Dict[str, List[Path]]
    speech: Dict[str, List[Path]]
    read: Callable[[Path], List[Line]]


def read_mapping(path: Path) -> List[Tuple[str, List[int]]]:
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
    """A translation-corpus file, one line per mapping line (``expected`` of them)."""
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


def prepare_set(name: str, calls: Calls, audio: Audio, translations: Path, out: Path,
                src_case: str = "lc.rm", tgt_case: str = "tc") -> SetReport:
    """Data dir ``out/name`` from the set's mapping file, its calls and their translations."""
    mapping = read_mapping(translations / "mapping" / name)
    refs = ([translations / "corpus/ldc" / f"{name}.en.{i}" for i in range(4)] if name in MULTI_REF
            else [translations / "corpus/ldc" / f"{name}.en"])
    english = [read_lines(p, len(mapping), "English translations") for p in refs]
    es_path = translations / "corpus/ldc" / f"{name}.es"
    spanish = read_lines(es_path, len(mapping), "Spanish side") if es_path.is_file() else None

    tables = {n: {} for n in ("wav.scp", "segments", "text", "text.eng", "utt2spk", "utt2bw",
                              "raw_text", *(f"text.eng.{i}" for i in range(1, len(refs))))}
    skipped, parsed, es_mismatch, mixed, seconds = {}, {}, {}, 0, 0.0
    for k, (call, ids) in enumerate(mapping):
        key = f"{call}:{'_'.join(map(str, ids))}"

        def skip(reason, detail=""):
            skipped[key] = f"{reason} {detail}".strip()

        if call not in parsed:
            path = _one(calls.transcripts, call, "transcript")
            parsed[call] = calls.read(path) if path else None
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
        text = normalize_source(raw, src_case)
        translation = normalize_target(english[0][k], tgt_case)
        if round(end, 2) <= round(start, 2):
            skip("zero_length", f"{start:.2f} to {end:.2f} s")
            continue
        if not text:
            skip("empty_text", f"transcript '{raw}'")
            continue
        if not translation:
            skip("empty_translation", f"translation '{english[0][k]}'")
            continue
        sph = _one(calls.speech, call, "speech")
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
            tables[f"text.eng.{i}"][utt] = normalize_target(english[i][k], tgt_case)
        seconds += end - start
    if spanish is not None and len(es_mismatch) > ES_MISMATCH_LIMIT * max(1, len(mapping)):
        example = next(iter(es_mismatch.items()))
        raise PrepError(f"{name}: {len(es_mismatch)} of {len(mapping)} mapping lines differ from "
                        f"{es_path} (e.g. {example[0]}: {example[1]}): transcripts, mapping and "
                        "translations are not aligned (another LDC release or corpus version?)")

    if mapping and not tables["text"]:
        raise PrepError(f"{name}: none of its {len(mapping)} mapping lines kept (reasons: "
                        f"{count_reasons(skipped)})")
    notes = {"mixed_sides": mixed,  # joined across both sides: kept on the first line's channel
             "es_mismatch": None if spanish is None else len(es_mismatch)}  # unlike <set>.es
    report = SetReport(name, "mapping_lines", len(mapping), len(tables["text"]), count_reasons(skipped),
                       round(seconds / 3600, 3), notes)
    set_dir = out / name
    write_prepared(set_dir, tables, skipped, report, ["eng"])
    if spanish is not None:
        write_table(set_dir / "prep_es_mismatch", es_mismatch)
    log.info(f"{set_dir}: kept {report.kept} of {len(mapping)} ({report.hours:.2f} h), skipped "
             f"{len(skipped)}{reasons_note(report.skipped_by_reason)} -> {set_dir}/prep_skipped; "
             f"{mixed} joined across both sides (kept on the first side's channel)"
             + ("" if spanish is None else f"; {len(es_mismatch)} differ from {es_path.name}"))
    return report


def prepare(out: Path, translations: Path, fisher_speech: Optional[Path] = None,
            fisher_transcripts: Optional[Path] = None, callhome_speech: Optional[Path] = None,
            callhome_transcripts: Optional[Path] = None,
            sets: Sequence[str] = (*FISHER_SETS, *CALLHOME_SETS), src_case: str = "lc.rm",
            tgt_case: str = "tc", sph2pipe: str = "") -> List[SetReport]:
    """The ``sets`` as data dirs ``out/<set>``; a corpus whose sets are not asked for may be
    left out (its roots None). ``sph2pipe``: its executable (default: from PATH)."""
    audio = Audio(find_sph2pipe(sph2pipe))
    roots = {"fisher": (fisher_speech, fisher_transcripts),
             "callhome": (callhome_speech, callhome_transcripts)}
    reports = []
    for prefix, corpus_sets, suffix, read in (("fisher", FISHER_SETS, ".tdf", read_tdf),
                                              ("callhome", CALLHOME_SETS, ".txt", read_callhome_txt)):
        wanted = [s for s in sets if s in corpus_sets]
        if not wanted:
            continue
        for kind, root in zip(("speech", "transcripts"), roots[prefix]):
            if not root or not Path(root).is_dir():
                raise PrepError(f"--{prefix}_{kind} '{root or ''}': not a directory (needed for {wanted[0]})")
        speech, transcripts = (Path(root) for root in roots[prefix])
        calls = Calls(index_files(transcripts, suffix), index_files(speech, ".sph"), read)
        if not calls.speech:
            raise PrepError(f"{speech}: no .sph files")
        for name in wanted:
            reports.append(prepare_set(name, calls, audio, Path(translations), Path(out), src_case, tgt_case))
    return reports
