"""The benchmark in a tiny setting. No timing is asserted; what is asserted holds on any machine:
each ratio comes from the runs it reports, and the exact figures (activation memory, operator
counts, the function computed) say what the design says."""

import json
import statistics

import pytest
import torch

from espnet_smoe.bin import benchmark
from espnet_smoe.decoding.inference import Speech2Text

pytestmark = pytest.mark.slow


def test_benchmark_reports_every_ratio(tmp_path, capsys):
    out = tmp_path / "bench.json"
    benchmark.main(["--repeats", "1", "--infer_repeats", "3", "--train_repeats", "1", "--warmup", "0",
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
    results = summary["results"]
    for model, ratios in (("smoe", summary["ratios"]), ("learned", summary["learned_ratios"])):
        for name, ratio in ratios.items():
            dense, other = results[name]["dense"], results[name][model]
            if "runs_s" in dense:  # timed: the median of the per-repeat ratios to the dense run
                assert dense["median_s"] == statistics.median(dense["runs_s"])
                per_repeat = [t / d for t, d in zip(other["runs_s"], dense["runs_s"])]
                assert len(per_repeat) == (3 if name.startswith("infer") else 1)
                assert ratio == pytest.approx(statistics.median(per_repeat)), name
            else:  # counted: MB or operators
                (unit,) = dense
                assert ratio == pytest.approx(other[unit] / dense[unit]), name
    # S-MoE saves exactly the dense model's activations (each expert sees only its own rows);
    # with mixed routes it dispatches more operators (the second expert, the split and join)
    memory, ops = results["act_mem_train"], results["ops_infer_b32"]
    assert memory["smoe"]["mb"] == memory["dense"]["mb"] < memory["learned"]["mb"]
    assert ops["dense"]["ops"] < ops["smoe"]["ops"] < ops["learned"]["ops"]
    for model in ("dense", "smoe", "learned"):
        beam = results["batched_beam"][model]
        assert beam["speedup"] == pytest.approx(beam["rtf_one_by_one"] / beam["rtf_batched"])
    peer = results["peer"]
    assert set(peer) == {"rtf_espnet", "rtf_one_by_one", "rtf_batched", "rtf_ratio", "batched_speedup"}
    assert peer["rtf_ratio"] == pytest.approx(peer["rtf_one_by_one"] / peer["rtf_espnet"])
    assert peer["batched_speedup"] == pytest.approx(peer["rtf_espnet"] / peer["rtf_batched"])
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


def test_smoe_starts_as_the_dense_model_and_one_route_adds_no_dispatch():
    """What makes the timings comparable: S-MoE with the dense weights in every expert computes
    the dense model's function, and a batch that takes one expert runs it directly (no split,
    gather or join: at most one operator more than the dense encoder)."""
    args = benchmark.get_parser().parse_args(["--skip_learned"])
    models = benchmark.build_models(args)
    s2ts = {n: Speech2Text(model=m.eval()) for n, m in models.items()}
    speech, lens = benchmark.Inputs(models["dense"].token_list, "cpu", 0).speech(4)
    one_route, mixed = torch.ones(4, dtype=torch.long), torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        out = {n: benchmark.encoder_forward(s, speech, lens, one_route)[0] for n, s in s2ts.items()}
        assert torch.equal(out["smoe"], out["dense"])
        out = {n: benchmark.encoder_forward(s, speech, lens, mixed)[0] for n, s in s2ts.items()}
        torch.testing.assert_close(out["smoe"], out["dense"], rtol=1e-5, atol=1e-5)
        ops = {n: benchmark.dispatched_ops(lambda s=s: benchmark.encoder_forward(s, speech, lens, one_route))
               for n, s in s2ts.items()}
    assert ops["dense"] <= ops["smoe"] <= ops["dense"] + 1
