"""count_params: the CTC head beside the routes, active counts from the experts each route uses."""

import json
from pathlib import Path

import yaml
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from espnet_smoe.bin.count_params import main
from espnet_smoe.task.build import build_model, count
from test_model import build

REPO = Path(__file__).resolve().parents[1]
ROUTES = {"wb/transcribe", "wb/translate", "nb/transcribe", "nb/translate"}
SMOE = ("--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
SHAPE = {"attention_heads": 2, "linear_units": 32, "num_blocks": 1}


def size(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_ctc_head_is_reported_beside_the_routes(tmp_path):
    model, _ = build(tmp_path, *SMOE)
    counts = count(model)
    assert set(counts) == {"total", "ctc", "active"} and set(counts["active"]) == ROUTES
    assert counts["ctc"] == size(model.ctc)


def test_active_counts_follow_the_experts_each_route_uses(tmp_path):
    model, _ = build(tmp_path, *SMOE)
    ffn = model.decoder.decoders[0].feed_forward
    ffn.experts[1] = PositionwiseFeedForward(16, 8, 0.0)  # <st_eng>'s expert, narrower
    counts = count(model)
    active, total, ctc = counts["active"], counts["total"], counts["ctc"]
    unused_by_transcribe = size(ffn.experts[1]) + sum(
        size(m.experts[1]) for m in model.modules() if hasattr(m, "experts") and m is not ffn)
    assert active["wb/transcribe"] == active["nb/transcribe"] == total - ctc - unused_by_transcribe
    saving = size(ffn.experts[0]) - size(ffn.experts[1])
    assert active["wb/transcribe"] - active["wb/translate"] == saving
    assert active["nb/translate"] == active["wb/translate"]


def test_main_prints_the_ctc_head_at_the_top_level(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "frontend_conf": {"n_fft": 128, "hop_length": 64, "n_mels": 10},
        "encoder": "smoe_transformer", "decoder": "smoe_transformer",
        "encoder_conf": {"output_size": 16, **SHAPE}, "decoder_conf": SHAPE}))
    main([str(config), "--vocab_size", "40", "--json"])
    counts = json.loads(capsys.readouterr().out)
    assert set(counts["active"]) == ROUTES and counts["ctc"] == 16 * 40 + 40
    main([str(config), "--vocab_size", "40"])
    labels = [line.split("  ")[1] for line in capsys.readouterr().out.splitlines()[1:]]
    assert [label for label in labels if label.startswith(("active", "CTC"))] == [
        *(f"active {route}" for route in counts["active"]), "CTC head"]


def test_per_task_routes_count_one_expert_per_target_language():
    """Three targets: per_task gives the decoder four experts, per_kind two; every route still
    uses one decoder expert, so active counts stay those of one target."""
    counts = {}
    for name in ("dec_smoe", "dec_smoe_kind"):
        model = build_model(REPO / f"conf/mini/{name}.yaml", None, 500, ["eng", "cat", "por"])
        counts[name] = count(model)
        assert set(counts[name]["active"]) == {f"{bw}/{task}" for bw in ("wb", "nb") for task in (
            "transcribe", "translate_eng", "translate_cat", "translate_por")}
    ffn = 2 * 128 * 512 + 512 + 128  # one decoder expert of one block
    assert counts["dec_smoe"]["total"] - counts["dec_smoe_kind"]["total"] == 2 * 3 * ffn
    assert counts["dec_smoe"]["active"] == counts["dec_smoe_kind"]["active"]


def test_encoder_remedies_share_one_budget():
    """The remedies of issue 16 (routed upper or lower half, shared + routed units) hold the
    same parameters (up to the output biases the shared units add), and each route of each is
    Base's size (shared units: one more output bias per FFN)."""
    counts = {name: count(build_model(REPO / f"conf/mini/{name}.yaml", None, 500))
              for name in ("base", "encdec_smoe_upper", "encdec_smoe_lower", "encdec_smoe_shared")}
    base = counts.pop("base")["total"]
    assert counts["encdec_smoe_upper"]["total"] == counts["encdec_smoe_lower"]["total"]
    assert 0 < counts["encdec_smoe_shared"]["total"] - counts["encdec_smoe_upper"]["total"] < 6 * 2 * 128
    ffn = 2 * 128 * 512 + 512 + 128
    assert counts["encdec_smoe_upper"]["total"] - base > 3 * ffn  # 3 encoder + 3 decoder experts
    for name, c in counts.items():
        extra = 6 * 128 if name.endswith("shared") else 0
        assert set(c["active"].values()) == {base - c["ctc"] + extra}, name
