#!/usr/bin/env python3
"""Stage 9: score every decoded test set x task; write RESULTS.md and results.json.

WER and CER for transcription (words and characters compared after lower-casing and removing
punctuation, as usual for ASR; aligned by jiwer, with the substitutions, deletions, insertions and
hits behind each rate), BLEU, chrF and TER for translation (sacrebleu on detokenised text, with
their signatures). CER and chrF credit partly right words, which WER and BLEU score as wrong: on a
small model they show how close the output is. Each row also carries the
decoding real-time factor (``timing.json`` of stage 8). A set with several references per translation
(``text.<l>.1``, ...) is scored against all of them. ``cascade_st_<l>`` tasks (local/cascade.py:
the asr transcripts through a text translator) are scored like ``st_<l>``. With ``--swap_routes`` the routing
ablation's decodes (``<decode_dir>_swap_<stack>``) are scored too, as rows whose ``routes`` say
which stack was sent to the wrong expert; with ``--bw_flips`` the label-noise decodes
(``<decode_dir>_flip<p>``), as rows ``flip<p>``; with ``--bw_auto`` the decode routed by detected
bandwidth (``<decode_dir>_auto``), as rows ``auto``. A hypothesis missing for any reference utterance, or one
for an utterance without a reference, is an error, never skipped. RESULTS.md also counts, per test
set, the utterances stage 2 left out (``<dump>/<set>/skipped``: unusable audio, not scored) and
those too short to decode (``too_short`` of stage 8: empty hypotheses, scored as such). A test
set made by the telephone channel is also scored per codec and per noise level (``utt2channel``).

RESULTS.md follows ESPnet's egs2 ``RESULTS.md`` (``scripts/utils/show_asr_result.sh``): an
environment block (date, python, espnet, pytorch, this repository's git hash), then ESPnet's
``|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|`` tables for WER and CER and ``|dataset|score|...``
tables for BLEU, chrF and TER, after this project's summary table (bandwidth, routes, RTF).

Usage:
    python local/score.py --decode_dir exp/s2t/decode_beam5 --dump dump/raw \
        --test_sets test_wb test_nb --tasks asr st_eng --out exp/s2t [--swap_routes encoder]
"""

import argparse
import json
import subprocess
import sys
import unicodedata
from datetime import datetime
from importlib import metadata
from pathlib import Path

import jiwer
from sacrebleu.metrics import BLEU, CHRF, TER

from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.text.multitask import ASR, CASCADE, reference_file


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decode_dir", type=Path, required=True)
    parser.add_argument("--dump", type=Path, required=True, help="dir holding the test sets")
    parser.add_argument("--test_sets", nargs="+", required=True)
    parser.add_argument("--tasks", nargs="+", required=True, help="asr, st_<lang>, ...")
    parser.add_argument("--out", type=Path, required=True, help="where RESULTS.md/results.json go")
    parser.add_argument("--cascade_mt", default="",
                        help="the text translator of the cascade_st_<l> tasks (local/cascade.py), for the notes")
    parser.add_argument("--swap_routes", nargs="*", default=[],
                        help="also score <decode_dir>_swap_<stack> for these stacks")
    parser.add_argument("--bw_flips", nargs="*", default=[],
                        help="also score <decode_dir>_flip<p>, decoded with that fraction of the "
                        "bandwidth labels flipped")
    parser.add_argument("--bw_auto", action="store_true",
                        help="also score <decode_dir>_auto, routed by each utterance's detected bandwidth")
    return parser.parse_args()


def normalize(text: str) -> list:
    """Lower-case, drop punctuation and symbols, split into words."""
    text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text.lower())
    return text.split()


def characters(text: str) -> list:
    """Characters of the normalised words, a space counting as one between words."""
    return list(" ".join(normalize(text)))


UNITS = {"wer": normalize, "cer": characters}  # what each error rate counts


class Units(jiwer.AbstractTransform):
    """jiwer transform: each sentence to its ``unit(text)`` sequence (words or characters), so
    jiwer aligns exactly the sequences ``UNITS`` defines."""

    def __init__(self, unit):
        self.unit = unit

    def process_string(self, s: str):
        return [self.unit(s)]

    def process_list(self, inp):
        return [self.unit(s) for s in inp]


def edit_counts(refs, hyps, unit) -> dict:
    """jiwer's minimum-edit alignment of the ``unit`` sequences of each reference and hypothesis:
    corpus totals of ``hits``, ``sub``, ``del``, ``ins``, ``ref`` (reference units), ``snt``
    (sentences) and ``snt_err`` (sentences with at least one error)."""
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    counts = {"hits": 0, "sub": 0, "del": 0, "ins": 0, "ref": 0, "snt": len(refs), "snt_err": 0}
    if not refs:
        return counts
    transform = Units(unit)
    out = jiwer.process_words(refs, hyps, reference_transform=transform, hypothesis_transform=transform)
    counts.update({"hits": out.hits, "sub": out.substitutions, "del": out.deletions, "ins": out.insertions})
    counts["ref"] = out.hits + out.substitutions + out.deletions  # = the references' total length
    counts["snt_err"] = sum(any(chunk.type != "equal" for chunk in sentence) for sentence in out.alignments)
    return counts


def rate(counts: dict) -> float:
    """Errors (S + D + I) over the references' length, in % (an empty reference set: over 1)."""
    return 100.0 * (counts["sub"] + counts["del"] + counts["ins"]) / max(1, counts["ref"])


def error_rate(refs, hyps, unit) -> float:
    """Edit distance over the references' length, in %, of ``unit(text)`` sequences."""
    return rate(edit_counts(refs, hyps, unit))


def wer(refs, hyps) -> float:
    return error_rate(refs, hyps, UNITS["wer"])


def cer(refs, hyps) -> float:
    return error_rate(refs, hyps, UNITS["cer"])


def score_set(dump: Path, decode: Path, test_set: str, task: str, routes: str = "trained"):
    """One row per bandwidth of the set's ``utt2bw`` (a native-bandwidth set holds both), and
    the sacrebleu signatures (None for transcription)."""
    ref_file = dump / test_set / reference_file(task)
    streams = references(dump / test_set, task)
    refs = streams[0]
    hyp_file = decode / test_set / task / "1best_recog" / "text_nospecial"
    hyps = read_table(hyp_file) if hyp_file.is_file() else {}
    missing = sorted(set(refs) - set(hyps))
    if missing:
        raise SystemExit(f"{hyp_file}: no hypothesis for {len(missing)} of {len(refs)} "
                         f"utterances, e.g. {missing[:5]} (did stage 8 finish?)")
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise SystemExit(f"{hyp_file}: {len(extra)} hypotheses for utterances {ref_file} does "
                         f"not have, e.g. {extra[:5]} (decoded from another data set?)")
    labels = read_table(dump / test_set / "utt2bw")
    timing = decode / test_set / task / "timing.json"
    too_short = read_table(decode / test_set / task / "too_short") if (
        decode / test_set / task / "too_short").is_file() else None
    disagree = decode / test_set / task / "bw_disagree"
    rerouted = read_table(disagree) if disagree.is_file() else None
    rows, signatures = [], None
    for bw in sorted(set(labels.values()), key=lambda b: (b != "wb", b)):
        keys = sorted(k for k in refs if labels[k] == bw)
        row = {"test_set": test_set, "task": task, "bandwidth": bw, "routes": routes,
               "utterances": len(keys), "skipped": count_lines(dump / test_set / "skipped"),
               "too_short": None if too_short is None else sum(k in too_short for k in keys),
               "bw_disagree": None if rerouted is None else sum(k in rerouted for k in keys),
               "rtf": json.loads(timing.read_text())["rtf"] if timing.is_file() else None}
        row.update(scores(task, [[ref[k] for k in keys] for ref in streams], [hyps[k] for k in keys]))
        signatures = row.pop("signatures", None)
        rows.append(row)
    return rows, signatures


def references(set_dir: Path, task: str) -> list:
    """The task's reference table, then, for translation, any further references of the set
    (``text.<l>.1``, ``text.<l>.2``, ...: more translators, as Fisher's dev and test sets have)."""
    main = set_dir / reference_file(task)
    extra = [] if task == ASR else sorted(set_dir.glob(f"{main.name}.[0-9]*"), key=lambda p: int(p.suffix[1:]))
    return [read_table(path) for path in (main, *extra)]


COUNT_KEYS = ("hits", "sub", "del", "ins", "ref", "snt_err")  # -> wer_hits, wer_sub, ..., cer_snt_err


def scores(task: str, refs, hyps) -> dict:
    """WER and CER for transcription (against the first reference stream of ``refs``), each
    with its counts (``wer_sub``, ``wer_del``, ``wer_ins``, ``wer_hits``, ``wer_ref``: reference
    words, ``wer_snt_err``: utterances with an error; ``cer_*`` alike in characters); BLEU, chrF
    and TER (with their signatures) for translation, against every stream."""
    if task == ASR:
        row = {}
        for metric, unit in UNITS.items():
            counts = edit_counts(refs[0], hyps, unit)
            row[metric] = round(rate(counts), 2)
            row.update({f"{metric}_{key}": counts[key] for key in COUNT_KEYS})
        return row
    bleu, chrf, ter = BLEU(), CHRF(), TER()
    b, c, t = bleu.corpus_score(hyps, refs), chrf.corpus_score(hyps, refs), ter.corpus_score(hyps, refs)
    # ESPnet's BLEU verbose_score: n-gram precisions, brevity penalty and lengths
    verbose = ("/".join(f"{p:.1f}" for p in b.precisions)
               + f" (BP = {b.bp:.3f} ratio = {b.ratio:.3f} hyp_len = {b.sys_len:d} ref_len = {b.ref_len:d})")
    return {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "ter": round(t.score, 2),
            "bleu_verbose": verbose,  # TER's edits and (average) reference words:
            "ter_edits": round(float(t.num_edits), 2), "ter_ref": round(float(t.ref_length), 2),
            "signatures": {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature()),
                           "ter": str(ter.get_signature())}}


def channel_groups(channels: dict) -> dict:
    """A telephone channel's ``utt2channel`` -> {"codec=gsm": keys, "snr<20dB": keys, ...}: the
    simulated NB test set cut by codec and by noise (see espnet_smoe/audio/channel.py)."""
    groups = {}
    for key, made_by in channels.items():
        fields = dict(f.split("=", 1) for f in made_by.split() if "=" in f)
        if "codec" not in fields:
            continue
        snr = float(fields["noise"].split("@")[1].rstrip("dB"))
        for group in (f"codec={fields['codec'].split('@')[0]}", "snr<20dB" if snr < 20 else "snr>=20dB"):
            groups.setdefault(group, []).append(key)
    return dict(sorted(groups.items()))


def channel_rows(dump: Path, decode: Path, test_sets, tasks) -> list:
    """Scores of the telephone-channel test sets per codec and SNR group (trained routes; the
    model's own tasks: a cascade row would share, and overwrite, its translation's cells)."""
    rows = []
    for test_set in test_sets:
        channels = dump / test_set / "utt2channel"
        groups = channel_groups(read_table(channels)) if channels.is_file() else {}
        for task in [t for t in tasks if not t.startswith(CASCADE)] if groups else []:
            streams = references(dump / test_set, task)
            hyps = read_table(decode / test_set / task / "1best_recog" / "text_nospecial")
            for group, keys in groups.items():
                found = scores(task, [[ref[k] for k in keys] for ref in streams], [hyps[k] for k in keys])
                found.pop("signatures", None)
                rows.append({"test_set": test_set, "task": task, "group": group,
                             "utterances": len(keys), **found})
    return rows


def channel_table(rows) -> list:
    """RESULTS.md lines: the NB channel groups, transcription and translation side by side."""
    if not rows:
        return []
    merged = {}
    for r in rows:
        merged.setdefault((r["test_set"], r["group"], r["utterances"]), {}).update(
            {k: r[k] for k in ("wer", "cer", "bleu", "chrf", "ter") if k in r})
    lines = ["### By telephone channel (`utt2channel`)", "",
             "| test set | channel | utterances | WER (%) | CER (%) | BLEU | chrF | TER |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (test_set, group, n), sc in merged.items():
        cells = " | ".join(f"{sc[k]:.2f}" if k in sc else "" for k in ("wer", "cer", "bleu", "chrf", "ter"))
        lines.append(f"| {test_set} | {group} | {n} | {cells} |")
    return lines + [""]


def count_lines(path: Path):
    """Entries of a report table; None when it was not written (not checked)."""
    return len(read_table(path)) if path.is_file() else None


def data_notes(rows) -> list:
    """One line per test set and task that lost utterances or decoded some as empty (a
    native-bandwidth set's rows summed)."""
    sets = {}
    for r in rows:
        if r["routes"] == "trained":
            key = (r["test_set"], r["task"])
            skipped, short, rerouted = sets.get(key, (r["skipped"] or 0, 0, None))
            if r["bw_disagree"] is not None:
                rerouted = (rerouted or 0) + r["bw_disagree"]
            sets[key] = skipped, short + (r["too_short"] or 0), rerouted
    notes = [f"- {test_set} {task}: {skipped} utterances left out at data preparation (unusable "
             f"audio, listed in `{test_set}/skipped`, not scored); {short} too short to decode "
             f"(empty hypotheses, listed in `too_short`, scored)"
             + ("" if rerouted is None else f"; {rerouted} routed otherwise than their utt2bw "
                "says (`--bandwidth`, `--bw_flip`; listed in `bw_disagree`)") + "."
             for (test_set, task), (skipped, short, rerouted) in sets.items()
             if skipped or short or rerouted is not None]
    return ["### Data", "", *notes, ""] if notes else []


def _git(repo: Path, *args) -> str:
    """``git <args>`` in ``repo``; "unknown" where that is no git checkout (or git is missing)."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def environment(repo: Path = Path(__file__).resolve().parent) -> list:
    """RESULTS.md's ESPnet-style environment block: date, python, espnet, pytorch, and the git
    hash (and commit date) of this repository's checkout, "unknown" outside one."""
    commit = _git(repo, "rev-parse", "HEAD")
    lines = ["## Environments",
             f"- date: `{datetime.now().astimezone().strftime('%a %b %d %H:%M:%S %Z %Y')}`",
             f"- python version: `{sys.version.replace(chr(10), ' ')}`",
             f"- espnet version: `espnet {_version('espnet')}`",
             f"- pytorch version: `pytorch {_version('torch')}`",
             f"- espnet-smoe version: `espnet-smoe {_version('espnet-smoe')}`",
             f"- Git hash: `{commit}`"]
    if commit != "unknown":
        lines.append(f"  - Commit date: `{_git(repo, 'log', '-1', '--format=%cd')}`")
    return lines + [""]


def dataset_names(rows) -> list:
    """ESPnet's ``dataset`` column: ``<test_set>/<task>``, after ``swap_<stack>/`` for a routing
    ablation (its own decode dir, as ESPnet names rows by decode dir) and before ``[<bw>]`` where
    the set holds more than one bandwidth (a native-bandwidth set)."""
    per_set = {}
    for r in rows:
        per_set.setdefault((r["routes"], r["test_set"], r["task"]), set()).add(r["bandwidth"])
    return [("" if r["routes"] == "trained" else f"{r['routes']}/") + f"{r['test_set']}/{r['task']}"
            + (f" [{r['bandwidth']}]" if len(per_set[(r["routes"], r["test_set"], r["task"])]) > 1 else "")
            for r in rows]


def error_table(rows, names, metric: str) -> list:
    """ESPnet's WER / CER table: Corr, Sub, Del, Ins and Err in % of the reference words (or
    characters), S.Err in % of the sentences (utterances)."""
    found = [(r, name) for r, name in zip(rows, names) if metric in r]
    if not found:
        return []
    lines = [f"### {metric.upper()}", "", "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|",
             "|---|---|---|---|---|---|---|---|---|"]
    for r, name in found:
        n = r[f"{metric}_ref"]
        hits, sub, dele, ins = (r[f"{metric}_{k}"] for k in ("hits", "sub", "del", "ins"))
        cells = [100.0 * v / max(1, n) for v in (hits, sub, dele, ins, sub + dele + ins)]
        cells.append(100.0 * r[f"{metric}_snt_err"] / max(1, r["utterances"]))
        lines.append(f"|{name}|{r['utterances']}|{n}|" + "|".join(f"{v:.1f}" for v in cells) + "|")
    return lines + [""]


def translation_tables(rows, names) -> list:
    """ESPnet's BLEU table (``|dataset|score|verbose_score|``), and chrF and TER alike (their
    sacrebleu signatures are in the notes under the summary)."""
    lines = []
    for metric, title, verbose in (("bleu", "BLEU", lambda r: r["bleu_verbose"]), ("chrf", "chrF", None),
                                   ("ter", "TER", lambda r: f"edits = {r['ter_edits']:g} ref_len = {r['ter_ref']:g}")):
        found = [(r, name) for r, name in zip(rows, names) if metric in r]
        if not found:
            continue
        lines += [f"### {title}", "", "|dataset|score|verbose_score|" if verbose else "|dataset|score|",
                  "|---|---|---|" if verbose else "|---|---|"]
        lines += [f"|{name}|{r[metric]:.1f}|" + (f"{verbose(r)}|" if verbose else "") for r, name in found]
        lines.append("")
    return lines


def markdown(rows, signatures, decode_dir, cascade_mt="", by_channel=(), env=None) -> str:
    """RESULTS.md, laid out as ESPnet's egs2 recipes write it (``show_asr_result.sh``): the
    environment, then under the decode dir a summary of every row (this project's bandwidth,
    routes and RTF), ESPnet's WER / CER / BLEU / chrF / TER tables, the telephone channels and
    the data notes."""
    metrics = [("wer", "WER (%)"), ("cer", "CER (%)"), ("bleu", "BLEU"), ("chrf", "chrF"), ("ter", "TER")]
    lines = ["<!-- Generated by local/score.py -->", "# RESULTS",
             *(environment() if env is None else env),
             f"## {decode_dir}", "", "### Summary", "",
             "| test set | bandwidth | task | routes | " + " | ".join(m[1] for m in metrics)
             + " | utterances | RTF |",
             "|---|---|---|---|" + "---:|" * (len(metrics) + 2)]
    for r in rows:
        scores = " | ".join(f"{r[key]:.2f}" if key in r else "" for key, _ in metrics)
        rtf = "" if r["rtf"] is None else f"{r['rtf']:.4f}"
        lines.append(f"| {r['test_set']} | {r['bandwidth']} | {r['task']} | {r['routes']} | "
                     f"{scores} | {r['utterances']} | {rtf} |")
    lines += ["", "WER / CER: words / characters after lower-casing and removing punctuation "
              "(jiwer alignment). TER: sacrebleu's translation edit rate, lower is better. "
              "RTF: decoding seconds per second of audio (model loading excluded). routes: "
              "`trained` = as trained; `swap_<stack>` = that stack's S-MoE route deliberately sent "
              "to the other expert; `flip<p>` = that fraction of the bandwidth labels flipped; `auto` = "
              "routed by detected bandwidth, not the labels."]
    if cascade_mt:
        lines.append(f"cascade_st_<l>: the asr transcripts translated by `{cascade_mt}` "
                     "(local/cascade.py), scored against the st_<l> references.")
    for key, sig in signatures.items():
        lines.append(f"{dict(metrics)[key]}: sacrebleu `{sig}`.")
    lines.append("")
    names = dataset_names(rows)
    lines += error_table(rows, names, "wer") + error_table(rows, names, "cer")
    lines += translation_tables(rows, names)
    lines += channel_table(list(by_channel)) + data_notes(rows)
    return "\n".join(lines).rstrip("\n") + "\n"


def main():
    args = get_args()
    rows, signatures = [], {}
    conditions = [("trained", args.decode_dir)] + [
        (f"swap_{stack}", Path(f"{args.decode_dir}_swap_{stack}")) for stack in args.swap_routes] + [
        (f"flip{p}", Path(f"{args.decode_dir}_flip{p}")) for p in args.bw_flips] + (
        [("auto", Path(f"{args.decode_dir}_auto"))] if args.bw_auto else [])
    for routes, decode_dir in conditions:
        for test_set in args.test_sets:
            for task in args.tasks:
                if task.startswith(CASCADE) and routes != "trained":
                    continue  # the cascade translates the trained model's transcripts only
                set_rows, sig = score_set(args.dump, decode_dir, test_set, task, routes)
                rows += set_rows
                signatures = sig or signatures
    by_channel = channel_rows(args.dump, args.decode_dir, args.test_sets, args.tasks)
    args.out.mkdir(parents=True, exist_ok=True)
    report = markdown(rows, signatures, args.decode_dir, args.cascade_mt, by_channel)
    (args.out / "RESULTS.md").write_text(report, encoding="utf-8")
    result = {"decode_dir": str(args.decode_dir), "results": rows, "by_channel": by_channel,
              **{f"{key}_signature": sig for key, sig in signatures.items()}}
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print((args.out / "RESULTS.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
