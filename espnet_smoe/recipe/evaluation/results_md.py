"""A run's RESULTS.md, laid out as ESPnet's egs2 recipes write it (``scripts/utils/show_asr_result.sh``).

An environment block (date, python, espnet, pytorch, this repository's git hash), then under the
decode dir this project's summary table (bandwidth, routes, RTF), ESPnet's
``|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|`` tables for WER and CER and ``|dataset|score|...``
tables for BLEU, chrF and TER, the telephone channels and the data notes (utterances left out,
too short, routed against their label).
"""

import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import List, Sequence

from espnet_smoe.recipe.evaluation.conditions import TRAINED
from espnet_smoe.recipe.evaluation.results import ChannelRow, Results, ScoreRow

METRICS = [("wer", "WER (%)"), ("cer", "CER (%)"), ("bleu", "BLEU"), ("chrf", "chrF"), ("ter", "TER")]


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


def environment(repo: Path) -> List[str]:
    """RESULTS.md's ESPnet-style environment block: date, python, espnet, pytorch, and the git
    hash (and commit date) of the checkout holding ``repo``, "unknown" outside one."""
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


def _cell(value) -> str:
    return "" if value is None else f"{value:.2f}"


def channel_table(rows: Sequence[ChannelRow]) -> List[str]:
    """The NB channel groups, transcription and translation side by side."""
    if not rows:
        return []
    merged = {}
    for r in rows:
        merged.setdefault((r.test_set, r.group, r.utterances), {}).update(
            {k: r.scores.get(k) for k, _ in METRICS if r.scores.get(k) is not None})
    lines = ["### By telephone channel (`utt2channel`)", "",
             "| test set | channel | utterances | WER (%) | CER (%) | BLEU | chrF | TER |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (test_set, group, n), found in merged.items():
        lines.append(f"| {test_set} | {group} | {n} | " + " | ".join(_cell(found.get(k)) for k, _ in METRICS) + " |")
    return lines + [""]


def data_notes(rows: Sequence[ScoreRow]) -> List[str]:
    """One line per test set and task that lost utterances or decoded some as empty (a
    native-bandwidth set's rows summed)."""
    sets = {}
    for r in rows:
        if r.condition == TRAINED:
            key = (r.test_set, r.task)
            skipped, short, rerouted = sets.get(key, (r.skipped or 0, 0, None))
            if r.bw_disagree is not None:
                rerouted = (rerouted or 0) + r.bw_disagree
            sets[key] = skipped, short + (r.too_short or 0), rerouted
    notes = [f"- {test_set} {task}: {skipped} utterances left out at data preparation (unusable "
             f"audio, listed in `{test_set}/skipped`, not scored); {short} too short to decode "
             f"(empty hypotheses, listed in `too_short`, scored)"
             + ("" if rerouted is None else f"; {rerouted} routed otherwise than their utt2bw "
                "says (`--bandwidth`, `--bw_flip`; listed in `bw_disagree`)") + "."
             for (test_set, task), (skipped, short, rerouted) in sets.items()
             if skipped or short or rerouted is not None]
    return ["### Data", "", *notes, ""] if notes else []


def dataset_names(rows: Sequence[ScoreRow]) -> List[str]:
    """ESPnet's ``dataset`` column: ``<test_set>/<task>``, after ``<routes>/`` for a condition
    other than the trained routes (its own decode dir, as ESPnet names rows by decode dir) and
    before ``[<bw>]`` where the set holds more than one bandwidth (a native-bandwidth set)."""
    per_set = {}
    for r in rows:
        per_set.setdefault((r.routes, r.test_set, r.task), set()).add(r.bandwidth)
    return [("" if r.condition == TRAINED else f"{r.routes}/") + f"{r.test_set}/{r.task}"
            + (f" [{r.bandwidth}]" if len(per_set[(r.routes, r.test_set, r.task)]) > 1 else "")
            for r in rows]


def error_table(rows: Sequence[ScoreRow], names: Sequence[str], metric: str) -> List[str]:
    """ESPnet's WER / CER table: Corr, Sub, Del, Ins and Err in % of the reference words (or
    characters), S.Err in % of the sentences (utterances)."""
    found = [(r, name) for r, name in zip(rows, names) if r.scores.get(metric) is not None]
    if not found:
        return []
    lines = [f"### {metric.upper()}", "", "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|",
             "|---|---|---|---|---|---|---|---|---|"]
    for r, name in found:
        n = r.scores.get(f"{metric}_ref")
        hits, sub, dele, ins = (r.scores.get(f"{metric}_{k}") for k in ("hits", "sub", "del", "ins"))
        cells = [100.0 * v / max(1, n) for v in (hits, sub, dele, ins, sub + dele + ins)]
        cells.append(100.0 * r.scores.get(f"{metric}_snt_err") / max(1, r.utterances))
        lines.append(f"|{name}|{r.utterances}|{n}|" + "|".join(f"{v:.1f}" for v in cells) + "|")
    return lines + [""]


def translation_tables(rows: Sequence[ScoreRow], names: Sequence[str]) -> List[str]:
    """ESPnet's BLEU table (``|dataset|score|verbose_score|``), and chrF and TER alike (their
    sacrebleu signatures are in the notes under the summary)."""
    lines = []
    for metric, title, verbose in (
            ("bleu", "BLEU", lambda r: r.scores.bleu_verbose), ("chrf", "chrF", None),
            ("ter", "TER", lambda r: f"edits = {r.scores.ter_edits:g} ref_len = {r.scores.ter_ref:g}")):
        found = [(r, name) for r, name in zip(rows, names) if r.scores.get(metric) is not None]
        if not found:
            continue
        lines += [f"### {title}", "", "|dataset|score|verbose_score|" if verbose else "|dataset|score|",
                  "|---|---|---|" if verbose else "|---|---|"]
        lines += [f"|{name}|{r.scores.get(metric):.1f}|" + (f"{verbose(r)}|" if verbose else "")
                  for r, name in found]
        lines.append("")
    return lines


def markdown(results: Results, cascade_mt: str, env: List[str]) -> str:
    """RESULTS.md: ``env`` (:func:`environment`), then under the decode dir a summary of every
    row, ESPnet's WER / CER / BLEU / chrF / TER tables, the telephone channels and the data
    notes. ``cascade_mt``: the cascade's text translator, named in the notes."""
    rows = results.rows
    lines = ["<!-- Generated by local/score.py -->", "# RESULTS", *env,
             f"## {results.decode_dir}", "", "### Summary", "",
             "| test set | bandwidth | task | routes | " + " | ".join(m[1] for m in METRICS)
             + " | utterances | RTF |",
             "|---|---|---|---|" + "---:|" * (len(METRICS) + 2)]
    for r in rows:
        found = " | ".join(_cell(r.scores.get(key)) for key, _ in METRICS)
        rtf = "" if r.rtf is None else f"{r.rtf:.4f}"
        lines.append(f"| {r.test_set} | {r.bandwidth} | {r.task} | {r.routes} | "
                     f"{found} | {r.utterances} | {rtf} |")
    lines += ["", "WER / CER: words / characters after lower-casing and removing punctuation "
              "(jiwer alignment). TER: sacrebleu's translation edit rate, lower is better. "
              "RTF: decoding seconds per second of audio (model loading excluded). routes: "
              "`trained` = as trained; `swap_<stack>` = that stack's S-MoE route deliberately sent "
              "to the other expert; `flip<p>` = that fraction of the bandwidth labels flipped; `auto` = "
              "routed by detected bandwidth, not the labels."]
    if cascade_mt:
        lines.append(f"cascade_st_<l>: the asr transcripts translated by `{cascade_mt}` "
                     "(local/cascade.py), scored against the st_<l> references.")
    for key, sig in results.signatures.items():
        lines.append(f"{dict(METRICS)[key]}: sacrebleu `{sig}`.")
    lines.append("")
    names = dataset_names(rows)
    lines += error_table(rows, names, "wer") + error_table(rows, names, "cer")
    lines += translation_tables(rows, names)
    lines += channel_table(results.by_channel) + data_notes(rows)
    return "\n".join(lines).rstrip("\n") + "\n"
