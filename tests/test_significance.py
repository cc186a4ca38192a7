"""Paired bootstrap tests of a variant against the baseline (espnet_smoe/recipe/evaluation/significance.py)."""

import random

import pytest

from espnet_smoe.recipe.evaluation.scoring import UNITS, cer, wer
from espnet_smoe.recipe.evaluation.significance import paired_corpus_metric, paired_error_rate

WORDS = "el gato come pescado la casa es grande me gusta la música".split()


def systems(error_rates, n=150, seed=0):
    """References and one hypothesis list per word error probability."""
    rng = random.Random(seed)
    refs = [" ".join(rng.choices(WORDS, k=8)) for _ in range(n)]
    return refs, [[" ".join(w if rng.random() > p else "perro" for w in r.split()) for r in refs]
                  for p in error_rates]


def test_the_difference_is_the_scores_difference_and_a_clear_one_is_found_in_any_draw():
    for seed in range(5):
        refs, (base, better) = systems([0.3, 0.15], seed=seed)
        for metric, score in (("wer", wer), ("cer", cer)):
            found = paired_error_rate(refs, base, better, UNITS[metric])
            assert found["delta"] == pytest.approx(score(refs, better) - score(refs, base), abs=0.01)
            assert found["p_value"] < 0.01, (seed, metric)
    assert paired_error_rate(refs, base, base, UNITS["wer"]) == {"delta": 0.0, "p_value": 1.0}


def test_bleu_and_chrf_find_a_clear_difference_in_any_draw():
    for seed in range(3):
        refs, (base, better) = systems([0.4, 0.1], seed=seed)
        for metric in ("bleu", "chrf"):
            found = paired_corpus_metric(refs, base, better, metric)
            assert found["delta"] > 0 and found["p_value"] < 0.01, (seed, metric)
    assert paired_corpus_metric(refs, base, better, "bleu") == paired_corpus_metric(refs, base, better, "bleu")
    assert paired_corpus_metric(refs, base, base, "bleu") == {"delta": 0.0, "p_value": 1.0}


def test_systems_as_good_on_different_utterances_are_never_told_apart():
    """Each system right where the other errs, the same errors in total: the difference is 0
    and no resample makes it significant, whatever the draw (p is about 0.42)."""
    for seed in range(5):
        refs, (hyps,) = systems([0.4], seed=seed)
        refs, first, second = refs * 2, refs + hyps, hyps + refs
        for metric in ("wer", "cer"):
            found = paired_error_rate(refs, first, second, UNITS[metric])
            assert found["delta"] == 0 and found["p_value"] > 0.3, (seed, metric)
        for metric in ("bleu", "chrf") if seed < 2 else ():
            found = paired_corpus_metric(refs, first, second, metric)
            assert found["delta"] == 0 and found["p_value"] > 0.3, (seed, metric)


def test_false_alarms_between_equally_good_systems_are_the_exception():
    """Two systems with the same error rate, drawn 40 times: p < 0.05 for a few draws only (4 of
    40 expected; at most 6 in each of ten blocks of 40 draws). Sacrebleu's test, which shifts the
    resampled absolute differences, flags about 10 % of such draws at 0.05, not 5 %: asserted for
    one draw, "no difference" failed for one draw in ten."""
    p_values = []
    for seed in range(40):
        refs, (base, alike) = systems([0.3, 0.3], seed=seed)
        p_values.append(paired_error_rate(refs, base, alike, UNITS["wer"])["p_value"])
    assert sum(p < 0.05 for p in p_values) <= 10


def test_one_copy_per_utterance_is_sacrebleus_own_paired_bootstrap():
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    refs, (base, variant) = systems([0.4, 0.3])
    for metric, scorer in (("bleu", BLEU), ("chrf", CHRF)):
        test = PairedTest([("base", base), ("variant", variant)], {metric: scorer(references=[refs])},
                          references=None, test_type="bs", n_samples=1000)
        _, results = test()
        expected = next(v for k, v in results.items() if k != "System")[1]
        found = paired_corpus_metric(refs, base, variant, metric)
        assert found["p_value"] == pytest.approx(expected.p_value, abs=1e-4), metric
        assert found["delta"] == pytest.approx(expected.score - next(
            v for k, v in results.items() if k != "System")[0].score, abs=0.01)


def test_seeds_of_one_utterance_are_resampled_together():
    """Three seeds that decode alike are no more evidence than one: grouped by utterance, the
    test gives one seed's p-value; counted as independent utterances it would claim more."""
    refs, (base, variant) = systems([0.3, 0.3], n=60)
    ids = list(range(len(refs)))
    for test, kwargs in ((paired_error_rate, {"unit": UNITS["wer"]}), (paired_corpus_metric, {"metric": "bleu"})):
        one = test(refs, base, variant, **kwargs)
        grouped = test(refs * 3, base * 3, variant * 3, groups=ids * 3, **kwargs)
        pooled = test(refs * 3, base * 3, variant * 3, **kwargs)
        assert grouped == one
        assert pooled["delta"] == one["delta"] and pooled["p_value"] < one["p_value"]
    with pytest.raises(ValueError, match="2 group labels for 60"):
        paired_error_rate(refs, base, variant, UNITS["wer"], groups=[0, 1])
