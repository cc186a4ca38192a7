"""The benchmark runs end to end in a tiny setting (a smoke test: no timing is asserted)."""

import json

import pytest
import torch

from espnet_smoe.bin import benchmark
from espnet_smoe.decoding.inference import Speech2Text

pytestmark = pytest.mark.slow


def test_benchmark_reports_every_ratio(tmp_path, capsys):
    out = tmp_path / "bench.json"
    benchmark.main(["--repeats", "1", "--infer_repeats", "1", "--train_repeats", "1", "--warmup", "0",
                    "--train_batch", "2", "--decode_utts", "1",
                    "--batch_decode", "2", "--decode_tokens", "3", "--beam_size", "2",
                    "--json", str(out)])
    summary = json.loads(out.read_text())
    # on the CPU there is no allocator peak (peak_mem_train)
    expected = {"infer_b1", "infer_b32", "greedy_asr", "greedy_st_eng", "beam_asr", "beam_st_eng",
                "train_mixed", "adam_mixed", "train_single", "act_mem_train", "ops_infer_b32",
                "ops_train_mixed"}
    assert set(summary["ratios"]) == expected
    assert set(summary["learned_ratios"]) == expected
    assert all(r > 0 for r in summary["ratios"].values())
    for model in ("dense", "smoe", "learned"):
        assert summary["results"]["batched_beam"][model]["speedup"] > 0
    peer = summary["results"]["peer"]
    assert set(peer) == {"rtf_espnet", "rtf_one_by_one", "rtf_batched", "rtf_ratio", "batched_speedup"}
    assert all(v > 0 for v in peer.values())
    printed = capsys.readouterr().out
    assert "infer_b32" in printed and "speed-up" in printed and "vs ESPnet's S2T Speech2Text" in printed


def test_espnet_peer_differs_in_its_input_only():
    """Given ESPnet's input (the utterance padded to 30 s, the prefix ending in its notime
    symbol), this project's search finds ESPnet's hypothesis: the peer comparison times the same
    network and the same search."""
    args = benchmark.get_parser().parse_args(["--skip_learned", "--decode_tokens", "5", "--beam_size", "2"])
    dense = benchmark.build_models(args)["dense"]
    peer = benchmark.espnet_peer(dense, args)
    ours = Speech2Text(model=dense, beam_size=args.beam_size, ctc_weight=args.ctc_weight)
    speech, _ = benchmark.Inputs(dense.token_list, "cpu", 0).speech(1)
    window = torch.nn.functional.pad(speech[0], (0, 30 * benchmark.RATE - speech.size(1)))
    enc, _ = ours.encode(window[None], torch.tensor([window.numel()]), None)
    search = ours.searches[True]  # joint CTC/attention, as for <asr>
    search.set_hyp_primer(ours.prefix("<spa>", "<asr>") + [dense.token_list.index("<na>")])
    expected = peer(speech[0], lang_sym="<spa>", task_sym="<asr>")[0][4]
    assert search(x=enc[0], maxlenratio=-args.decode_tokens)[0].yseq.tolist() == expected.yseq.tolist()
