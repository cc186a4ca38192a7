#!/usr/bin/env python3
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
normalised as the Fisher/CallHome text: prep_fisher_callhome.normalize_source), ``text.eng``
(the translation, normalise_target without the Fisher-specific note removal), ``utt2spk`` /
``spk2utt`` (speaker = client_id; utterance id ``<client_id>-<clip name>``), ``utt2bw`` (wb),
``raw_text``, ``prep_skipped`` and ``prep_report.json``.

Usage:
    prep_covost2.py --covost_tsv /corpora/covost2/covost_v2.es_en.tsv \
        --cv_root /corpora/cv-corpus-4/es [--cv_tsv /corpora/cv-corpus-4/es/validated.tsv] --out data
"""

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prep_fisher_callhome import PrepError, normalize_source, normalize_target  # noqa: E402

from espnet_smoe.recipe.datadir import check_data_dir, spk2utt, write_table  # noqa: E402

SPLITS = {"train": ("train", "train_covost"), "dev": ("dev",), "test": ("test",)}


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


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--covost_tsv", type=Path, required=True)
    parser.add_argument("--cv_root", type=Path, required=True)
    parser.add_argument("--cv_tsv", type=Path, default=None, help="Common Voice validated.tsv")
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--prefix", default="covost", help="data dirs <prefix>_<split>")
    parser.add_argument("--src_case", choices=["lc.rm", "tc"], default="lc.rm")
    parser.add_argument("--tgt_case", choices=["tc", "lc.rm"], default="tc")
    parser.add_argument("--durations", action="store_true",
                        help="also sum the clips' durations (opens every MP3: slow on the full set)")
    return parser.parse_args()


def main():
    args = get_args()
    clips = args.cv_root / "clips"
    if not clips.is_dir():
        raise PrepError(f"--cv_root {args.cv_root}: no clips/ folder (Common Voice layout)")
    rows = read_tsv(args.covost_tsv, ["path", "translation", "split"]
                    + ([] if args.cv_tsv else ["sentence", "client_id"]))
    validated = None
    if args.cv_tsv:
        validated = {r["path"]: r for r in read_tsv(args.cv_tsv, ["path", "sentence", "client_id"])}
    split_of = {value: split for split, values in SPLITS.items() for value in values}
    other = Counter(r["split"] for r in rows if r["split"] not in split_of)
    if other:
        print(f"{args.covost_tsv}: left out {sum(other.values())} rows of other splits {dict(other)}")
    for split in SPLITS:
        tables = {n: {} for n in ("wav.scp", "text", "text.eng", "utt2spk", "utt2bw", "raw_text")}
        skipped, seconds, total = {}, 0.0, 0
        for row in rows:
            if split_of.get(row["split"]) != split:
                continue
            total += 1
            key = row["path"]
            source = row
            if validated is not None:
                source = validated.get(row["path"])
                if source is None:
                    skipped[key] = "not_in_validated the clip is not in --cv_tsv"
                    continue
            client = source["client_id"].strip()
            clip = clips / row["path"]
            text = normalize_source(source["sentence"], args.src_case, markup=False)
            translation = normalize_target(row["translation"], args.tgt_case, notes=False)
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
                if args.durations:
                    seconds += sf.info(str(clip)).duration
        name = f"{args.prefix}_{split}"
        if total and not tables["text"]:
            raise PrepError(f"{name}: none of its {total} rows kept "
                            f"({dict(Counter(v.split()[0] for v in skipped.values()))})")
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        for file, table in tables.items():
            write_table(out / file, table)
        write_table(out / "spk2utt", spk2utt(tables["utt2spk"]))
        write_table(out / "prep_skipped", skipped)
        check_data_dir(out, ["eng"])
        by_reason = dict(Counter(v.split()[0] for v in skipped.values()))
        report = {"set": name, "rows": total, "kept": len(tables["text"]), "skipped": len(skipped),
                  "skipped_by_reason": by_reason,
                  "hours": round(seconds / 3600, 3) if args.durations else None}
        (out / "prep_report.json").write_text(json.dumps(report, indent=1) + "\n")
        reasons = ", ".join(f"{r} {c}" for r, c in sorted(by_reason.items()))
        hours = f" ({report['hours']:.2f} h)" if args.durations else ""
        print(f"{out}: kept {report['kept']} of {total}{hours}, skipped {len(skipped)}"
              f"{f' ({reasons})' if reasons else ''} -> {out}/prep_skipped")


if __name__ == "__main__":
    try:
        main()
    except PrepError as e:
        sys.exit(f"prep_covost2.py: error: {e}")
