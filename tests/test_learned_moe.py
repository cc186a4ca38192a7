"""The learned-gate MoE (the comparison): per-token top-k dispatch, the balancing loss, and the
encoder/decoder/model wiring that turns gate logits into a padding-aware auxiliary loss."""

import pytest
import torch
from espnet.nets.pytorch_backend.transformer.mask import subsequent_mask
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from conftest import ASR, ST, make_decoder, prefixed
from espnet_smoe.nets.encoder import MoETransformerEncoder
from espnet_smoe.nets.learned_moe import GateRecord, LearnedMoEFeedForward, load_balancing_loss
from test_model import batch, build


def layer(n=3, k=1):
    return LearnedMoEFeedForward(8, 16, 0.0, GateRecord(n, k)).eval()


def brute_force(ffn, x):
    """Token by token: softmax gate, top-k experts, renormalised weights, weighted sum."""
    out = torch.zeros_like(x)
    for b in range(x.size(0)):
        for t in range(x.size(1)):
            probs = ffn.gate(x[b, t]).softmax(-1)
            w, idx = probs.topk(ffn.top_k)
            w = w / w.sum() if ffn.top_k > 1 else w
            out[b, t] = sum(wi * ffn.experts[int(i)](x[b, t]) for wi, i in zip(w, idx))
    return out


@pytest.mark.parametrize("k", [1, 2])
def test_each_token_goes_through_its_top_k_experts(k):
    ffn, x = layer(3, k), torch.randn(2, 5, 8)
    torch.testing.assert_close(ffn(x), brute_force(ffn, x), rtol=1e-5, atol=1e-6)


def test_gate_learns_and_unpicked_experts_get_no_gradient():
    ffn, x = layer(3, 1), torch.randn(2, 4, 8)
    with torch.no_grad():  # steer every token away from expert 2
        ffn.gate.weight[2] = 0.0
        ffn.gate.weight[0] = x.reshape(-1, 8).mean(0) * 10
    picked = ffn.gate(x).argmax(-1).unique().tolist()
    assert 2 not in picked
    ffn(x).sum().backward()
    assert ffn.gate.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in ffn.experts[2].parameters())
    assert all(p.grad is not None for p in ffn.experts[picked[0]].parameters())


def test_balancing_loss_is_one_when_balanced_and_n_when_collapsed():
    mask = torch.ones(2, 4, dtype=torch.bool)
    uniform = torch.zeros(2, 4, 3)
    assert load_balancing_loss([uniform], mask, 1).item() == pytest.approx(1.0)
    balanced = torch.eye(2).repeat(4, 1).view(2, 4, 2) * 50  # half the tokens each, confidently
    assert load_balancing_loss([balanced], mask, 1).item() == pytest.approx(1.0, abs=1e-4)
    collapsed = torch.tensor([20.0, 0.0, 0.0]).expand(2, 4, 3)
    assert load_balancing_loss([collapsed], mask, 1).item() == pytest.approx(3.0, abs=1e-4)


def test_balancing_loss_ignores_padding():
    logits = torch.randn(2, 6, 3)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    garbage = logits.clone()
    garbage[1, 3:] = torch.randn(3, 3) * 100
    torch.testing.assert_close(load_balancing_loss([logits], mask, 2),
                               load_balancing_loss([garbage], mask, 2))


def test_learned_encoder_records_loss_and_shares_over_valid_frames():
    enc = MoETransformerEncoder(10, router="learned", input_layer="linear", output_size=16,
                                 attention_heads=2, linear_units=32, num_blocks=2).eval()
    assert not enc.routed
    x, lens = torch.randn(2, 9, 10), torch.tensor([9, 4])
    enc(x, lens)
    shares, aux = enc.gates.token_shares, enc.gates.aux_loss
    assert shares.sum().item() == pytest.approx(1.0) and aux.item() >= 1.0 - 1e-6
    # padded frames of utterance 2 do not count: the same figures as the unpadded pair
    enc(x[:1], lens[:1])
    first = enc.gates.token_shares * 9
    enc(x[1:, :4], lens[1:])
    torch.testing.assert_close(shares * 13, first + enc.gates.token_shares * 4)


def test_learned_decoder_scoring_paths_agree():
    dec = make_decoder(router="learned")
    hs, ys = torch.randn(2, 7, 16), prefixed([ASR, ST], length=6)
    full = torch.log_softmax(dec(hs, torch.full((2,), 7), ys, torch.full((2,), 6))[0], dim=-1)
    assert dec.gates.aux_loss is not None
    for t in range(3, 7):
        step, _ = dec.forward_one_step(ys[:, :t], subsequent_mask(t).unsqueeze(0), hs)
        torch.testing.assert_close(step, full[:, t - 1], rtol=1e-5, atol=1e-5)


def test_model_adds_weighted_balancing_loss_and_needs_no_bandwidth(tmp_path):
    learned = ["--encoder", "smoe_transformer", "--decoder", "smoe_transformer",
               "--encoder_conf", "router=learned", "--decoder_conf", "router=learned"]
    model, _ = build(tmp_path, *learned, "--model_conf", "moe_aux_weight=0.5")
    model.eval()
    inputs = batch([ASR, ST, ST], [0, 1, 1])
    del inputs["bandwidth"]
    torch.manual_seed(1)
    loss, stats, _ = model(**inputs)
    aux = model.encoder.gates.aux_loss + model.decoder.gates.aux_loss
    assert stats["moe_aux"].item() == pytest.approx(aux.item())
    model.moe_aux_weight = 0.0
    plain, _, _ = model(**inputs)
    assert loss.item() == pytest.approx(plain.item() + 0.5 * aux.item(), rel=1e-5)
    for stack in ("enc", "dec"):
        assert stats[f"{stack}_g0"].item() + stats[f"{stack}_g1"].item() == pytest.approx(1.0)
    loss.backward()
    assert model.encoder.encoders[0].feed_forward.gate.weight.grad.abs().sum() > 0


def test_inactive_parameters_leave_out_the_smallest_experts_beside_the_top_k():
    ffn = layer(3, k=1)
    ffn.experts[0] = PositionwiseFeedForward(8, 4, 0.0)  # narrower than experts 1 and 2
    size = [sum(p.numel() for p in expert.parameters()) for expert in ffn.experts]
    # a token uses at most its k largest experts: the N - k smallest stay unused
    assert ffn.inactive_parameters() == size[0] + size[1]


def test_learned_decoder_without_moe_layers_records_no_loss():
    dec = make_decoder(router="learned", smoe_layers=[])
    dec.gates.aux_loss, dec.gates.token_shares = torch.tensor(2.0), torch.ones(2)  # stale
    hs, ys = torch.randn(2, 7, 16), prefixed([ASR, ST], length=6)
    out, _ = dec(hs, torch.full((2,), 7), ys, torch.full((2,), 6))
    assert out.shape == (2, 6, dec.output_layer.out_features)
    assert dec.gates.aux_loss is None and dec.gates.token_shares is None
    assert dec.gates.last_logits is None and dec.gates.last_mask is None


def test_model_with_a_gate_free_learned_decoder_adds_the_encoder_loss_only(tmp_path):
    model, _ = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer",
                     "--encoder_conf", "router=learned", "--decoder_conf", "router=learned",
                     "--decoder_conf", "smoe_layers=[]")
    inputs = batch([ASR, ST], [0, 1])
    del inputs["bandwidth"]
    loss, stats, _ = model.eval()(**inputs)
    assert torch.isfinite(loss) and model.decoder.gates.aux_loss is None
    assert stats["moe_aux"].item() == pytest.approx(model.encoder.gates.aux_loss.item())
    assert "enc_g0" in stats and "dec_g0" not in stats
