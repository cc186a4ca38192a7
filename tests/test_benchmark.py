"""The benchmark runs end to end in a tiny setting (a smoke test: no timing is asserted)."""

import json

import pytest

from espnet_smoe.bin import benchmark

pytestmark = pytest.mark.slow


def test_benchmark_reports_every_ratio(tmp_path, capsys):
    out = tmp_path / "bench.json"
    benchmark.main(["--repeats", "1", "--infer_repeats", "1", "--warmup", "0", "--train_batch", "2", "--decode_utts", "1",
                    "--batch_decode", "2", "--decode_tokens", "3", "--beam_size", "2",
                    "--json", str(out)])
    summary = json.loads(out.read_text())
    # on the CPU there is no allocator peak (peak_mem_train)
    expected = {"infer_b1", "infer_b32", "greedy_asr", "greedy_st_eng", "beam_asr", "beam_st_eng",
                "train_mixed", "train_single", "act_mem_train", "ops_infer_b32", "ops_train_mixed"}
    assert set(summary["ratios"]) == expected
    assert set(summary["learned_ratios"]) == expected
    assert all(r > 0 for r in summary["ratios"].values())
    for model in ("dense", "smoe", "learned"):
        assert summary["results"]["batched_beam"][model]["speedup"] > 0
    printed = capsys.readouterr().out
    assert "infer_b32" in printed and "speed-up" in printed
