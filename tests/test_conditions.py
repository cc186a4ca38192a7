"""The contracts between stages 8, 9 and the reports: decode conditions
(espnet_smoe/recipe/evaluation/conditions.py) and results.json's rows (espnet_smoe/recipe/evaluation/results.py)."""

import json
from pathlib import Path

import pytest

from espnet_smoe.recipe.evaluation.conditions import TRAINED, DecodeCondition, conditions
from espnet_smoe.recipe.evaluation.results import Results

REPO = Path(__file__).resolve().parents[1]


def test_each_condition_owns_its_label_directory_and_decoding_options():
    decode = Path("exp/s2t/decode_fast_valid.acc.ave")
    found = [(c.label, str(c.directory(decode)), c.inference_args(), c.noise_level)
             for c in conditions(["encoder", "decoder"], ["0.1", "1"], bw_auto=True)]
    assert found == [
        ("trained", str(decode), ["--swap_routes", "none"], 0.0),
        ("swap_encoder", f"{decode}_swap_encoder", ["--swap_routes", "encoder"], None),
        ("swap_decoder", f"{decode}_swap_decoder", ["--swap_routes", "decoder"], None),
        ("flip0.1", f"{decode}_flip0.1", ["--bw_flip", "0.1"], 0.1),
        ("flip1", f"{decode}_flip1", ["--bw_flip", "1"], 1.0),  # p as written: the directory stays flip1
        ("auto", f"{decode}_auto", ["--bandwidth", "auto"], None)]
    assert conditions() == [TRAINED]


def test_a_label_parses_back_to_its_condition():
    for condition in conditions(["encoder", "both"], ["0.25", "1"], bw_auto=True):
        assert DecodeCondition.parse(condition.label) == condition


@pytest.mark.parametrize("label, error", [("swapped", "unknown decode condition"), ("swap_", "name the stack"),
                                          ("flipx", "p is a fraction"), ("flip1.5", "between 0 and 1")])
def test_a_malformed_label_is_refused_with_what_is_expected(label, error):
    with pytest.raises(ValueError, match=error):
        DecodeCondition.parse(label)


def committed_results():
    """Every stage-9 results.json under results/ written by the current scorer (two runs of an
    older one lack columns)."""
    found = []
    for path in sorted((REPO / "results").rglob("results.json")):
        rows = json.loads(path.read_text(encoding="utf-8")).get("results")
        if rows and all("bw_disagree" in r for r in rows):
            found.append(path)
    return found


def test_results_json_reads_into_typed_rows_and_writes_back_byte_for_byte(tmp_path):
    paths = committed_results()
    assert len(paths) > 30
    for path in paths:
        results = Results.read(path)
        results.write(tmp_path / "results.json")
        assert (tmp_path / "results.json").read_bytes() == path.read_bytes(), path
    routes = {r.routes for path in paths for r in Results.read(path).rows}
    assert {"trained", "swap_encoder", "swap_decoder", "flip0.1", "flip1", "auto"} <= routes


def test_rows_of_an_older_results_json_read_with_their_missing_columns_as_none():
    (row, *_) = Results.read(REPO / "results/recipe/mini_default/results.json").rows
    assert row.condition == TRAINED and row.scores.wer == 51.67 and row.scores.cer == 20.84
    assert (row.skipped, row.too_short, row.bw_disagree, row.scores.wer_hits) == (None, None, None, None)
