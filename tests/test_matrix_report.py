"""The experiment matrix's report (espnet_smoe/recipe/reports/matrix.py): seeds a variant lacks,
each seed's difference from the baseline, and the decode conditions of some seeds."""

from pathlib import Path

import pytest

from espnet_smoe.recipe.reports import matrix as matrix_report
from espnet_smoe.recipe.evaluation.results import ScoreRow


def test_a_variant_is_reported_over_the_seeds_it_was_run_with_and_says_which_it_lacks(tmp_path, capsys):
    for run in ("base_seed1", "base_seed2", "base_seed3", "dec_ffnx2_seed1"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "results.json").write_text("{}")
    assert matrix_report.seeds_run(tmp_path, "base", ["1", "2", "3"]) == ["1", "2", "3"]
    assert capsys.readouterr().err == ""
    assert matrix_report.seeds_run(tmp_path, "dec_ffnx2", ["1", "2", "3"]) == ["1"]
    assert "dec_ffnx2: no scored run for seed(s) 2 3" in capsys.readouterr().err
    with pytest.raises(ValueError, match="learned_moe_seed"):
        matrix_report.seeds_run(tmp_path, "learned_moe", ["1"])


def test_each_seed_is_compared_with_the_baselines_run_of_the_same_seed():
    def run(seed, wer_nb, bleu_nb):
        return {"seed": seed, "wer_nb": wer_nb, "bleu_nb": bleu_nb}

    results = {"base": {"per_seed": [run("1", 70.0, 1.0), run("2", 72.0, 1.5), run("3", 71.0, 1.2)]},
               "encdec_smoe": {"per_seed": [run("1", 74.0, 1.1), run("3", 70.5, 1.2)]},
               "dec_ffnx2": {"per_seed": [run("4", 60.0, 2.0)]}}
    assert matrix_report.seed_deltas(results, "base") == {
        "encdec_smoe": [{"seed": "1", "wer_nb": 4.0, "bleu_nb": 0.1},
                        {"seed": "3", "wer_nb": -0.5, "bleu_nb": 0.0}],
        "dec_ffnx2": []}


def test_the_seed_level_test_tells_a_steady_difference_from_one_that_flips_sign():
    steady = [{"seed": s, "wer_nb": d} for s, d in (("1", -2.0), ("2", -2.1), ("3", -1.9))]
    flipping = [{"seed": s, "wer_nb": d} for s, d in (("1", 1.0), ("2", -1.0), ("3", 0.5))]
    assert matrix_report.over_seeds(steady)["wer_nb"]["mean"] == -2.0
    assert matrix_report.over_seeds(steady)["wer_nb"]["p_value"] < 0.01
    assert matrix_report.over_seeds(flipping)["wer_nb"]["p_value"] > 0.5
    assert matrix_report.over_seeds(steady[:1]) == {"wer_nb": {"mean": -2.0, "p_value": None}}
    assert matrix_report.mean_cell({"mean": -2.0, "p_value": 0.0012}) == "-2.00 (0.001)"


def test_a_route_condition_of_some_seeds_is_compared_with_those_seeds_trained_routes():
    """Label noise decoded at seed 1 only once crashed the report of seeds 1-2 (KeyError)."""
    def rows(routes, wer_nb):
        return (ScoreRow.from_json({"test_set": "test_nb", "task": "asr", "bandwidth": "nb", "routes": routes,
                                    "utterances": 5, "wer": wer_nb}),)

    def run(seed, *rows):
        return matrix_report.SeedRun(seed, Path(f"exp/matrix/v_seed{seed}"), sum(rows, ()), Path("decode"), 60.0)

    runs = [run("1", rows("trained", 70.0), rows("flip0.5", 75.0), rows("swap_encoder", 80.0)),
            run("2", rows("trained", 72.0), rows("swap_encoder", 84.0))]
    found = matrix_report.ablation(runs)
    assert found["flip0.5"] == {"seeds": ["1"], "scores": {"wer_nb": {"mean": 75.0, "std": None}},
                                "trained": {"wer_nb": {"mean": 70.0, "std": None}}}
    assert found["swap_encoder"]["seeds"] == ["1", "2"]
    assert found["swap_encoder"]["scores"]["wer_nb"]["mean"] == 82.0
    assert found["swap_encoder"]["trained"]["wer_nb"] == {"mean": 71.0, "std": 1.41}
