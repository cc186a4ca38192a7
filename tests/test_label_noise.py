"""The label-noise curves from stage 9's rows (espnet_smoe/recipe/reports/label_noise.py,
local/label_noise.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_smoe.recipe.reports import label_noise
from espnet_smoe.recipe.evaluation.results import ScoreRow

REPO = Path(__file__).resolve().parents[1]


def row(routes, test_set, task, utterances=2, **scores):
    """A row of results.json, as stage 9 writes it."""
    return dict(routes=routes, test_set=test_set, task=task, bandwidth=test_set.rsplit("_", 1)[1],
                utterances=utterances, **scores)


def rows(*found):
    return [ScoreRow.from_json(r) for r in found]


ROWS = [
    row("trained", "test_nb", "asr", wer=60.0), row("trained", "test_wb", "asr", wer=50.0),
    row("trained", "test_ood_nb", "asr", wer=70.0),
    row("trained", "test_nb", "st_eng", bleu=3.0), row("trained", "test_nb", "st_cat", bleu=5.0),
    row("trained", "test_nb", "cascade_st_eng", bleu=9.0),  # the cascade: not the model's noise
    row("swap_encoder", "test_nb", "asr", wer=99.0),  # an ablation, not a noise level
    row("flip0.5", "test_nb", "asr", wer=80.0), row("flip0.5", "test_ood_nb", "asr", wer=90.0),
    row("flip0.5", "test_nb", "st_eng", bleu=1.0), row("flip1", "test_wb", "asr", wer=75.0),
]


def test_the_curve_averages_sets_and_targets_per_bandwidth_and_level():
    points = label_noise.curve(rows(*ROWS))
    assert list(points) == [0.0, 0.5, 1.0]
    assert points[0.0] == {"wer_nb": 65.0, "wer_wb": 50.0, "bleu_nb": 4.0}
    assert points[0.5] == {"wer_nb": 85.0, "bleu_nb": 1.0} and points[1.0] == {"wer_wb": 75.0}


def test_results_without_flipped_decodes_are_an_error():
    with pytest.raises(ValueError, match="--bw_flips"):
        label_noise.curve(rows(*(r for r in ROWS if not r["routes"].startswith("flip"))))


AUTO = [  # routed by detection: 1 of the 4 NB utterances against its label, no WB one
    row("auto", "test_nb", "asr", wer=62.0, utterances=2, bw_disagree=1),
    row("auto", "test_ood_nb", "asr", wer=72.0, utterances=2, bw_disagree=0),
    row("auto", "test_nb", "st_eng", bleu=2.0, utterances=2, bw_disagree=1),
    row("auto", "test_wb", "asr", wer=50.0, utterances=3, bw_disagree=0),
]


def test_detection_routing_is_a_point_at_its_measured_mislabel_rate():
    assert label_noise.detection(rows(*ROWS)) == {}
    assert label_noise.detection(rows(*ROWS, *AUTO)) == {
        "wb": {"mislabelled": 0.0, "wer_wb": 50.0},
        "nb": {"mislabelled": 0.25, "wer_nb": 67.0, "bleu_nb": 2.0}}
    assert 0.5 not in label_noise.curve(rows(*AUTO, ROWS[0], ROWS[-1]))  # not a noise level


def test_the_report_has_a_table_and_a_plot_per_model(tmp_path):
    exp = tmp_path / "encdec_smoe_seed1"
    exp.mkdir()
    (exp / "results.json").write_text(json.dumps({"decode_dir": "decode", "results": ROWS + AUTO}))
    subprocess.run([sys.executable, str(REPO / "local/label_noise.py"), "--exp", str(exp),
                    "--out", str(tmp_path / "out")], check=True, capture_output=True, cwd=REPO)
    report = (tmp_path / "out/label_noise.md").read_text()
    assert "### encdec_smoe_seed1" in report
    assert "| 0.5 | 85.00 | – | 1.00 | – |" in report  # WER NB, WER WB, BLEU NB, BLEU WB
    assert "| detected (WB 0.000, NB 0.250) | 67.00 | 50.00 | 2.00 | – |" in report
    assert (tmp_path / "out/label_noise.png").stat().st_size > 0
