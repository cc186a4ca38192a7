"""CoVoST 2 Spanish->English on Common Voice clips -> Kaldi data dirs data/covost_{train,dev,test}.

Inputs:

- ``--covost_tsv``: ``covost_v2.es_en.tsv`` (CoVoST 2's release), tab-separated with a header,
  columns ``path`` (clip file name), ``sentence``, ``translation``, ``client_id`` and ``split``,
  read as CoVoST's get_covost_splits.py reads it (no quoting, ``\\`` escapes, empty fields kept
  as empty strings)
- ``--cv_root``: the Common Voice (version 4) Spanish folder, clips in ``<cv_root>/clips/<path>``
  (48 kHz MP3)
- ``--cv_tsv`` (optional): Common Voice's ``validated.tsv``. As in get_covost_splits.py the
  sentence and client_id then come from it (an inner join on ``path``); rows it lacks are left
  out (and listed). Without it, they come from the CoVoST TSV's own columns.

Splits as CoVoST 2 defines them (get_covost_splits.py, version 2): train = ``split`` ``train``
or ``train_covost`` (the extended train split), dev = ``dev``, test = ``test``; other values
are counted and left out.

Output per split: ``wav.scp`` (``<utt> <mp3 path>``: libsndfile reads MP3), ``text`` (Spanish,
normalised as the Fisher/CallHome text: normalize.normalize_source), ``text.eng``
(the translation, normalize_target without the Fisher-specific note removal), ``utt2spk`` /
``spk2utt`` (speaker = client_id; utterance id ``<client_id>-<clip name>``), ``utt2bw`` (wb),
``raw_text``, ``prep_skipped`` and ``prep_report.json``. The command line is
egs2/fisher_callhome_covost2/s2t1/local/prep_covost2.py.
"""

import csv
import logging
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import soundfile as sf

from espnet_smoe.recipe.corpora.normalize import normalize_source, normalize_target
from espnet_smoe.recipe.corpora.prep import (PrepError, SetReport, count_reasons, reasons_note,
                                             write_prepared)

SPLITS = {"train": ("train", "train_covost"), "dev": ("dev",), "test": ("test",)}
log = logging.getLogger(__name__)


def read_tsv(path: Path, needed: List[str]) -> List[Dict[str, str]]:
    """Rows of a CoVoST / Common Voice TSV as dicts; the ``needed`` columns must be there."""
    if not path.is_file():
        raise PrepError(f"{path}: missing")
    csv.field_size_limit(1 << 24)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise PrepError(f"{path}: no column {', '.join(missing)} (columns: {reader.fieldnames})")
        return [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]


def prepare(covost_tsv: Path, cv_root: Path, out: Path, cv_tsv: Optional[Path] = None,
            prefix: str = "covost", src_case: str = "lc.rm", tgt_case: str = "tc",
            durations: bool = False) -> List[SetReport]:
    """Data dirs ``out/<prefix>_{train,dev,test}``. ``cv_tsv``: Common Voice's validated.tsv,
    the sentences' and speakers' source when given; ``durations``: also sum the clips' durations
    (opens every MP3: slow on the full set)."""
    clips = Path(cv_root) / "clips"
    if not clips.is_dir():
        raise PrepError(f"--cv_root {cv_root}: no clips/ folder (Common Voice layout)")
    rows = read_tsv(Path(covost_tsv), ["path", "translation", "split"]
                    + ([] if cv_tsv else ["sentence", "client_id"]))
    validated = None
    if cv_tsv:
        validated = {r["path"]: r for r in read_tsv(Path(cv_tsv), ["path", "sentence", "client_id"])}
    split_of = {value: split for split, values in SPLITS.items() for value in values}
    other = Counter(r["split"] for r in rows if r["split"] not in split_of)
    if other:
        log.info(f"{covost_tsv}: left out {sum(other.values())} rows of other splits {dict(other)}")
    reports = []
    for split in SPLITS:
        mine = [r for r in rows if split_of.get(r["split"]) == split]
        reports.append(prepare_split(mine, validated, clips, Path(out) / f"{prefix}_{split}",
                                     src_case, tgt_case, durations))
    return reports


def prepare_split(rows: List[Dict[str, str]], validated: Optional[Dict[str, Dict[str, str]]],
                  clips: Path, out: Path, src_case: str = "lc.rm", tgt_case: str = "tc",
                  durations: bool = False) -> SetReport:
    """Data dir ``out`` from one split's CoVoST rows (``validated``: Common Voice's rows by clip,
    or None to read sentence and speaker from the CoVoST rows)."""
    tables = {n: {} for n in ("wav.scp", "text", "text.eng", "utt2spk", "utt2bw", "raw_text")}
    skipped, seconds = {}, 0.0
    for row in rows:
        key = row["path"]
        source = row
        if validated is not None:
            source = validated.get(row["path"])
            if source is None:
                skipped[key] = "not_in_validated the clip is not in --cv_tsv"
                continue
        client = source["client_id"].strip()
        clip = clips / row["path"]
        text = normalize_source(source["sentence"], src_case, markup=False)
        translation = normalize_target(row["translation"], tgt_case, notes=False)
        if not client or any(c.isspace() for c in client):
            skipped[key] = f"no_client_id client_id '{client}'"
        elif not text:
            skipped[key] = f"empty_text sentence '{source['sentence']}'"
        elif not translation:
            skipped[key] = f"empty_translation translation '{row['translation']}'"
        elif not clip.is_file():
            skipped[key] = f"missing_audio {clip}"
        else:
            utt = f"{client}-{Path(row['path']).stem}"
            if utt in tables["text"]:
                skipped[key] = f"duplicate {utt}"
                continue
            tables["wav.scp"][utt] = str(clip.resolve())
            tables["text"][utt] = text
            tables["text.eng"][utt] = translation
            tables["utt2spk"][utt] = client
            tables["utt2bw"][utt] = "wb"
            tables["raw_text"][utt] = source["sentence"]
            if durations:
                seconds += sf.info(str(clip)).duration
    if rows and not tables["text"]:
        raise PrepError(f"{out.name}: none of its {len(rows)} rows kept ({count_reasons(skipped)})")
    report = SetReport(out.name, "rows", len(rows), len(tables["text"]), count_reasons(skipped),
                       round(seconds / 3600, 3) if durations else None)
    write_prepared(out, tables, skipped, report, ["eng"])
    hours = f" ({report.hours:.2f} h)" if durations else ""
    log.info(f"{out}: kept {report.kept} of {len(rows)}{hours}, skipped {len(skipped)}"
             f"{reasons_note(report.skipped_by_reason)} -> {out}/prep_skipped")
    return report
