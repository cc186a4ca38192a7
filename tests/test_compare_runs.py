"""Runs side by side, each test set's scores as WB / NB (espnet_smoe/recipe/reports/compare_runs.py)."""

import json

from espnet_smoe.recipe.reports.compare_runs import load_run, tables


def row(test_set, bw, task, routes="trained", **scores):
    return {"test_set": test_set, "bandwidth": bw, "task": task, "routes": routes, "utterances": 5, **scores}


def test_each_set_and_task_becomes_wb_over_nb(tmp_path):
    rows = [row("test_wb", "wb", "asr", wer=10.0, cer=5.0), row("test_nb", "nb", "asr", wer=20.0, cer=8.0),
            row("test_nb", "nb", "asr", routes="swap_encoder", wer=99.0, cer=99.0),
            row("test_ood_wb", "wb", "asr", wer=30.0, cer=12.0), row("test_ood_nb", "nb", "asr", wer=40.0, cer=15.0),
            row("test_ood_wb", "wb", "st_eng", bleu=3.0, chrf=20.0),
            row("test_ood_nb", "nb", "st_eng", bleu=2.0, chrf=18.0),
            row("test_ood_wb", "wb", "cascade_st_eng", bleu=4.5, chrf=25.0),
            row("test_ood_nb", "nb", "cascade_st_eng", bleu=4.0, chrf=24.0)]
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "results.json").write_text(json.dumps({"decode_dir": "decode", "results": rows}))
    run = load_run("one", exp)
    assert run.epochs == []  # no checkpoint.pth kept
    lines = tables([run], ["test", "test_ood"]).splitlines()
    assert "| one | 10.00 / 20.00 | 5.00 / 8.00 | 30.00 / 40.00 | 12.00 / 15.00 | – |" in lines
    assert "| run | BLEU ST test | chrF ST test | BLEU cascade test | chrF cascade test | BLEU ST test_ood | " \
           "chrF ST test_ood | BLEU cascade test_ood | chrF cascade test_ood | train min (epochs) |" in lines
    assert "| one | – | – | – | – | 3.00 / 2.00 | 20.00 / 18.00 | 4.50 / 4.00 | 25.00 / 24.00 | – |" in lines
