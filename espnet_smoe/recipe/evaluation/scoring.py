"""Stage 9: score every decoded test set x task x decode condition into results.json's rows.

WER and CER for transcription (words and characters compared after lower-casing and removing
punctuation, as usual for ASR; aligned by jiwer, with the substitutions, deletions, insertions and
hits behind each rate), BLEU, chrF and TER for translation (sacrebleu on detokenised text, with
their signatures). CER and chrF credit partly right words, which WER and BLEU score as wrong: on a
small model they show how close the output is. Each row also carries the decoding real-time
factor (``timing.json`` of stage 8). A set with several references per translation
(``text.<l>.1``, ...) is scored against all of them. ``cascade_st_<l>`` tasks
(:mod:`espnet_smoe.recipe.evaluation.cascade`) are scored like ``st_<l>``, for the trained routes only. Each
decode condition (:mod:`espnet_smoe.recipe.evaluation.conditions`) is scored from its own directory, as rows
whose ``routes`` is its label. A hypothesis missing for any reference utterance, or one for an
utterance without a reference, is an error, never skipped. Each row counts the utterances stage 2
left out of its set (``<dump>/<set>/skipped``: unusable audio, not scored), those too short to
decode (``too_short`` of stage 8: empty hypotheses, scored as such) and those routed against
their label (``bw_disagree``). A test set made by the telephone channel is also scored per codec
and per noise level (``utt2channel``).
"""

import json
import unicodedata
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import jiwer
from sacrebleu.metrics import BLEU, CHRF, TER

from espnet_smoe.audio.channel import Channel
from espnet_smoe.recipe.evaluation.conditions import TRAINED, DecodeCondition
from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.recipe.evaluation.results_md import environment, markdown
from espnet_smoe.recipe.evaluation.results import ChannelRow, Results, ScoreRow, Scores
from espnet_smoe.text.multitask import ASR, CASCADE, reference_file

Signatures = Optional[Dict[str, str]]


def normalize(text: str) -> list:
    """Lower-case, drop punctuation and symbols, split into words."""
    text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text.lower())
    return text.split()


def characters(text: str) -> list:
    """Characters of the normalised words, a space counting as one between words."""
    return list(" ".join(normalize(text)))


UNITS: Dict[str, Callable[[str], list]] = {"wer": normalize, "cer": characters}  # what each rate counts


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


COUNT_KEYS = ("hits", "sub", "del", "ins", "ref", "snt_err")  # -> wer_hits, wer_sub, ..., cer_snt_err


def scores(task: str, refs, hyps) -> Tuple[Scores, Signatures]:
    """WER and CER with their counts for transcription (against the first reference stream of
    ``refs``); BLEU, chrF and TER for translation, against every stream, with sacrebleu's
    signatures (None for transcription)."""
    if task == ASR:
        row = {}
        for metric, unit in UNITS.items():
            counts = edit_counts(refs[0], hyps, unit)
            row[metric] = round(rate(counts), 2)
            row.update({f"{metric}_{key}": counts[key] for key in COUNT_KEYS})
        return Scores(**row), None
    bleu, chrf, ter = BLEU(), CHRF(), TER()
    b, c, t = bleu.corpus_score(hyps, refs), chrf.corpus_score(hyps, refs), ter.corpus_score(hyps, refs)
    # ESPnet's BLEU verbose_score: n-gram precisions, brevity penalty and lengths
    verbose = ("/".join(f"{p:.1f}" for p in b.precisions)
               + f" (BP = {b.bp:.3f} ratio = {b.ratio:.3f} hyp_len = {b.sys_len:d} ref_len = {b.ref_len:d})")
    found = Scores(bleu=round(b.score, 2), chrf=round(c.score, 2), ter=round(t.score, 2), bleu_verbose=verbose,
                   ter_edits=round(float(t.num_edits), 2), ter_ref=round(float(t.ref_length), 2))
    return found, {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature()),
                   "ter": str(ter.get_signature())}


def references(set_dir: Path, task: str) -> list:
    """The task's reference table, then, for translation, any further references of the set
    (``text.<l>.1``, ``text.<l>.2``, ...: more translators, as Fisher's dev and test sets have)."""
    main = set_dir / reference_file(task)
    extra = [] if task == ASR else sorted(set_dir.glob(f"{main.name}.[0-9]*"), key=lambda p: int(p.suffix[1:]))
    return [read_table(path) for path in (main, *extra)]


def count_lines(path: Path) -> Optional[int]:
    """Entries of a report table; None when it was not written (not checked)."""
    return len(read_table(path)) if path.is_file() else None


def score_set(dump: Path, decode: Path, test_set: str, task: str,
              condition: DecodeCondition = TRAINED) -> Tuple[List[ScoreRow], Signatures]:
    """One row per bandwidth of the set's ``utt2bw`` (a native-bandwidth set holds both) of the
    decode in ``decode`` (the condition's directory), and the sacrebleu signatures."""
    ref_file = dump / test_set / reference_file(task)
    streams = references(dump / test_set, task)
    refs = streams[0]
    out = decode / test_set / task
    hyp_file = out / "1best_recog" / "text_nospecial"
    hyps = read_table(hyp_file) if hyp_file.is_file() else {}
    missing = sorted(set(refs) - set(hyps))
    if missing:
        raise ValueError(f"{hyp_file}: no hypothesis for {len(missing)} of {len(refs)} "
                         f"utterances, e.g. {missing[:5]} (did stage 8 finish?)")
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise ValueError(f"{hyp_file}: {len(extra)} hypotheses for utterances {ref_file} does "
                         f"not have, e.g. {extra[:5]} (decoded from another data set?)")
    labels = read_table(dump / test_set / "utt2bw")
    too_short = read_table(out / "too_short") if (out / "too_short").is_file() else None
    rerouted = read_table(out / "bw_disagree") if (out / "bw_disagree").is_file() else None
    rtf = json.loads((out / "timing.json").read_text())["rtf"] if (out / "timing.json").is_file() else None
    rows, signatures = [], None
    for bw in sorted(set(labels.values()), key=lambda b: (b != "wb", b)):
        keys = sorted(k for k in refs if labels[k] == bw)
        found, signatures = scores(task, [[ref[k] for k in keys] for ref in streams], [hyps[k] for k in keys])
        rows.append(ScoreRow(
            test_set, task, bw, condition, len(keys), skipped=count_lines(dump / test_set / "skipped"),
            too_short=None if too_short is None else sum(k in too_short for k in keys),
            bw_disagree=None if rerouted is None else sum(k in rerouted for k in keys), rtf=rtf, scores=found))
    return rows, signatures


def channel_groups(channels: Dict[str, str]) -> Dict[str, List[str]]:
    """A telephone channel's ``utt2channel`` -> {"codec=gsm": keys, "snr<20dB": keys, ...}: the
    simulated NB test set cut by codec and by noise."""
    groups: Dict[str, List[str]] = {}
    for key, made_by in channels.items():
        call = Channel.parse(made_by)
        if call is None:
            continue
        for group in (f"codec={call.codec}", "snr<20dB" if call.snr_db < 20 else "snr>=20dB"):
            groups.setdefault(group, []).append(key)
    return dict(sorted(groups.items()))


def channel_rows(dump: Path, decode: Path, test_sets: Sequence[str], tasks: Sequence[str]) -> List[ChannelRow]:
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
                found, _ = scores(task, [[ref[k] for k in keys] for ref in streams], [hyps[k] for k in keys])
                rows.append(ChannelRow(test_set, task, group, len(keys), found))
    return rows


def score_decodes(dump: Path, decode_dir: Path, test_sets: Sequence[str], tasks: Sequence[str],
                  conditions: Sequence[DecodeCondition] = (TRAINED,)) -> Results:
    """Every condition x test set x task decoded under ``decode_dir`` (the as-trained decode; the
    other conditions beside it), and the telephone channels of the trained decode."""
    rows, signatures = [], {}
    for condition in conditions:
        for test_set in test_sets:
            for task in tasks:
                if task.startswith(CASCADE) and condition != TRAINED:
                    continue  # the cascade translates the trained model's transcripts only
                set_rows, sig = score_set(dump, condition.directory(decode_dir), test_set, task, condition)
                rows += set_rows
                signatures = sig or signatures
    by_channel = channel_rows(dump, decode_dir, test_sets, tasks)
    return Results(str(decode_dir), tuple(rows), tuple(by_channel), signatures)


def score_run(dump: Path, decode_dir: Path, test_sets: Sequence[str], tasks: Sequence[str], out: Path, *,
              repo: Path, conditions: Sequence[DecodeCondition] = (TRAINED,), cascade_mt: str = "") -> str:
    """Stage 9: score the decodes, write ``<out>/RESULTS.md`` (its environment block names the
    git hash of the checkout holding ``repo``) and ``<out>/results.json``; return RESULTS.md."""
    results = score_decodes(dump, decode_dir, test_sets, tasks, conditions)
    out.mkdir(parents=True, exist_ok=True)
    report = markdown(results, cascade_mt, environment(repo))
    (out / "RESULTS.md").write_text(report, encoding="utf-8")
    results.write(out / "results.json")
    return report
