#!/usr/bin/env python3
"""Is a variant's score different from the baseline's by more than chance? Paired bootstrap
resampling over test utterances (Koehn, 2004), both systems scored on the same resamples.

- WER and CER: each resample draws utterances with replacement and recomputes both systems'
  error rates from their per-utterance edit counts.
- BLEU and chrF: sacrebleu's own paired bootstrap (``sacrebleu.significance.PairedTest``,
  ``test_type="bs"``, its fixed seed), which recomputes corpus-level statistics per resample.

Both report sacrebleu's p-value: the observed difference against the resampled differences
shifted to zero mean (the null hypothesis of no difference), two-sided, (count + 1) / (n + 1);
where both systems score exactly the same (e.g. BLEU 0 and 0) it is 1.
Several seeds are pooled: the hypothesis lists of every seed are concatenated (seed s of the
variant paired with seed s of the baseline), so a resample draws utterance-and-seed pairs.

Usage (as a library of local/matrix_report.py):
    paired_error_rate(refs, base_hyps, variant_hyps, unit=words)
    paired_corpus_metric(refs, base_hyps, variant_hyps, "bleu")
"""

from typing import Callable, Dict, List, Sequence

import editdistance
import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest

SAMPLES = 1000
SEED = 12345  # sacrebleu's default seed, so both kinds of test are fixed alike


def paired_error_rate(refs: Sequence[str], base: Sequence[str], variant: Sequence[str],
                      unit: Callable[[str], List], samples: int = SAMPLES) -> Dict[str, float]:
    """Error rate (%) of ``unit`` sequences (words: WER, characters: CER): the observed
    difference variant - base and its p-value."""
    ref_units = [unit(r) for r in refs]
    lengths = np.array([len(r) for r in ref_units], dtype=np.float64)
    errors = {name: np.array([editdistance.eval(r, unit(h)) for r, h in zip(ref_units, hyps)],
                             dtype=np.float64) for name, hyps in (("base", base), ("variant", variant))}
    rng = np.random.default_rng(SEED)
    draws = rng.integers(0, len(refs), size=(samples, len(refs)))  # (resamples, utterances)
    total = lengths[draws].sum(1).clip(min=1)
    deltas = 100 * (errors["variant"][draws].sum(1) - errors["base"][draws].sum(1)) / total
    observed = 100 * (errors["variant"].sum() - errors["base"].sum()) / max(lengths.sum(), 1)
    return {"delta": round(float(observed), 2), "p_value": _p_value(observed, deltas)}


def paired_corpus_metric(refs: Sequence[str], base: Sequence[str], variant: Sequence[str],
                         metric: str, samples: int = SAMPLES) -> Dict[str, float]:
    """``bleu`` or ``chrf``: the observed difference variant - base and sacrebleu's p-value."""
    scorer = {"bleu": BLEU, "chrf": CHRF}[metric](references=[list(refs)])
    test = PairedTest([("base", list(base)), ("variant", list(variant))], {metric: scorer},
                      references=None, test_type="bs", n_samples=samples)
    _, results = test()
    base_result, variant_result = next(v for k, v in results.items() if k != "System")
    delta = variant_result.score - base_result.score
    # equal scores: no difference to test (sacrebleu's strict count would give 1 / (n + 1))
    return {"delta": round(delta, 2), "p_value": round(float(variant_result.p_value), 4) if delta else 1.0}


def _p_value(observed: float, deltas: np.ndarray) -> float:
    """sacrebleu's paired-bootstrap p-value: resampled differences centred on zero (the null),
    two-sided."""
    null = deltas - deltas.mean()
    return round(float((np.sum(np.abs(null) >= abs(observed)) + 1) / (len(deltas) + 1)), 4)
