"""Is a variant's score different from the baseline's by more than chance? Paired bootstrap
resampling over test utterances (Koehn, 2004), both systems scored on the same resamples.

Each utterance contributes additive statistics: edit errors and reference length for WER and
CER, sacrebleu's own sufficient statistics for BLEU and chrF
(``Metric._extract_corpus_statistics``, what its ``PairedTest`` resamples); a resample draws
utterances with replacement and recomputes both systems' corpus scores from the summed
statistics (sacrebleu's ``_compute_score_from_stats``). The p-value is sacrebleu's: the observed
difference against the resampled differences shifted to zero mean (the null hypothesis of no
difference), two-sided, (count + 1) / (n + 1); where both systems score exactly the same it is 1.
With one copy of each utterance, BLEU's and chrF's test is sacrebleu's ``PairedTest`` (same
resamples, same p-value).

Several seeds: the hypotheses of every seed are concatenated (seed s of the variant paired with
seed s of the baseline) and ``groups`` names each one's utterance. An utterance's copies are
summed into one before resampling, so a resample draws utterances, each with all its seeds: the
copies of one sentence are not counted as independent evidence.

Usage (the matrix report's, :mod:`espnet_smoe.recipe.reports.matrix`):
    paired_error_rate(refs, base_hyps, variant_hyps, unit=words, groups=utterance_ids)
    paired_corpus_metric(refs, base_hyps, variant_hyps, "bleu", groups=utterance_ids)
"""

from typing import Callable, Dict, Hashable, List, Optional, Sequence

import editdistance
import numpy as np
from sacrebleu.metrics import BLEU, CHRF

SAMPLES = 1000
SEED = 12345  # sacrebleu's default seed


def paired_error_rate(refs: Sequence[str], base: Sequence[str], variant: Sequence[str],
                      unit: Callable[[str], List], groups: Optional[Sequence[Hashable]] = None,
                      samples: int = SAMPLES) -> Dict[str, float]:
    """Error rate (%) of ``unit`` sequences (words: WER, characters: CER): the observed
    difference variant - base and its p-value."""
    ref_units = [unit(r) for r in refs]

    def stats(hyps):  # (errors, reference length) per utterance
        return np.array([[editdistance.eval(r, unit(h)), len(r)] for r, h in zip(ref_units, hyps)],
                        dtype=np.float64).reshape(-1, 2)

    def rate(summed):
        return 100 * summed[..., 0] / np.maximum(summed[..., 1], 1)

    return _paired_test(stats(base), stats(variant), rate, groups, samples)


def paired_corpus_metric(refs: Sequence[str], base: Sequence[str], variant: Sequence[str],
                         metric: str, groups: Optional[Sequence[Hashable]] = None,
                         samples: int = SAMPLES) -> Dict[str, float]:
    """``bleu`` or ``chrf`` (sacrebleu's): the observed difference variant - base and its p-value."""
    scorer = {"bleu": BLEU, "chrf": CHRF}[metric](references=[list(refs)])

    def stats(hyps):
        return np.array(scorer._extract_corpus_statistics(list(hyps), None), dtype=np.float64)

    def score(summed):
        flat = summed.reshape(-1, summed.shape[-1])
        return np.array([scorer._compute_score_from_stats(list(s)).score for s in flat]).reshape(summed.shape[:-1])

    return _paired_test(stats(base), stats(variant), score, groups, samples)


def _paired_test(base: np.ndarray, variant: np.ndarray, score: Callable[[np.ndarray], np.ndarray],
                 groups: Optional[Sequence[Hashable]], samples: int) -> Dict[str, float]:
    """Both systems' per-utterance statistics (rows) -> observed difference of their corpus
    scores and the paired-bootstrap p-value over (grouped) utterances."""
    observed = float(score(variant.sum(0)) - score(base.sum(0)))
    if not np.any(base != variant):  # no difference to test
        return {"delta": round(observed, 2), "p_value": 1.0}
    if groups is not None:
        base, variant = _by_group(base, groups), _by_group(variant, groups)
    rng = np.random.default_rng(SEED)
    draws = rng.choice(len(base), size=(samples, len(base)), replace=True)  # as sacrebleu draws
    deltas = np.abs(score(variant[draws].sum(1)) - score(base[draws].sum(1)))
    null = deltas - deltas.mean()
    p_value = (np.sum(null > abs(observed)) + 1) / (samples + 1)
    return {"delta": round(observed, 2), "p_value": round(float(p_value), 4)}


def _by_group(stats: np.ndarray, groups: Sequence[Hashable]) -> np.ndarray:
    """Rows summed per group, in order of first appearance."""
    if len(groups) != len(stats):
        raise ValueError(f"{len(groups)} group labels for {len(stats)} hypotheses")
    index = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    out = np.zeros((len(index), stats.shape[1]))
    np.add.at(out, [index[g] for g in groups], stats)
    return out
