"""S-MoE encoders: per-utterance routing in mixed NB/WB batches, ESPnet equivalence at N=1."""

import pytest
import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder

from espnet_smoe.nets.encoder import MoEConformerEncoder, MoETransformerEncoder
from espnet_smoe.nets.route import Route
from espnet_smoe.nets.smoe_layer import SMoEFeedForward

DIM = dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=2)
CONFORMER = dict(DIM, macaron_style=True, use_cnn_module=True, cnn_module_kernel=3)


def encode(enc, x, lens, route=None):
    if route is None:
        return enc(x, lens)[0]
    with Route.of("encoder", route, enc.num_experts).active():
        return enc(x, lens)[0]


@pytest.mark.parametrize("cls,conf,lens", [
    (MoETransformerEncoder, DIM, [12, 9, 5]),
    # ESPnet's Conformer convolution module does not mask padding: compare equal lengths
    (MoEConformerEncoder, CONFORMER, [12, 12, 12]),
])
def test_mixed_batch_equals_each_utterance_alone(cls, conf, lens):
    """input_layer=linear keeps lengths exact, so padded rows can be compared with solo runs."""
    enc = cls(10, input_layer="linear", **conf).eval()
    x, lens = torch.randn(3, 12, 10), torch.tensor(lens)
    route = torch.tensor([0, 1, 1])  # WB, NB, NB
    batch = encode(enc, x, lens, route)
    for b in range(3):
        alone = encode(enc, x[b : b + 1, : lens[b]], lens[b : b + 1], route[b : b + 1])
        torch.testing.assert_close(batch[b, : lens[b]], alone[0], rtol=1e-5, atol=1e-5)


def test_mixed_batch_with_conv2d_subsampling():
    enc = MoETransformerEncoder(10, input_layer="conv2d", **DIM).eval()
    x, lens = torch.randn(4, 40, 10), torch.full((4,), 40)
    route = torch.tensor([1, 0, 0, 1])
    batch = encode(enc, x, lens, route)
    for b in range(4):
        torch.testing.assert_close(batch[b], encode(enc, x[b : b + 1], lens[:1], route[b : b + 1])[0],
                                   rtol=1e-5, atol=1e-5)


def test_changing_the_nb_expert_changes_only_nb_utterances():
    enc = MoETransformerEncoder(10, input_layer="linear", **DIM).eval()
    x, lens = torch.randn(4, 8, 10), torch.full((4,), 8)
    route = torch.tensor([0, 1, 0, 1])
    before = encode(enc, x, lens, route)
    with torch.no_grad():
        for i in enc.smoe_layers:
            for p in enc.encoders[i].feed_forward.experts[1].parameters():
                p.add_(0.5)
    after = encode(enc, x, lens, route)
    assert torch.equal(after[route == 0], before[route == 0])  # WB bit-identical
    assert (after[route == 1] - before[route == 1]).abs().max() > 1e-3


@pytest.mark.parametrize("dense_cls,smoe_cls,conf", [
    (TransformerEncoder, MoETransformerEncoder, dict(DIM, input_layer="conv2d")),
    (ConformerEncoder, MoEConformerEncoder, dict(CONFORMER, input_layer="conv2d")),
])
def test_one_expert_equals_espnet_dense_encoder(dense_cls, smoe_cls, conf):
    dense = dense_cls(10, **conf).eval()
    smoe = smoe_cls(10, num_experts=1, **conf).eval()
    smoe.load_state_dict(dense.state_dict())  # strict
    x, lens = torch.randn(2, 30, 10), torch.tensor([30, 22])
    torch.testing.assert_close(encode(smoe, x, lens), encode(dense, x, lens), rtol=0, atol=0)


def test_smoe_layers_chooses_blocks_and_counts_one_ffn_per_extra_expert():
    dense = TransformerEncoder(10, **DIM)
    partial = MoETransformerEncoder(10, num_experts=3, smoe_layers=[1], **DIM)
    assert isinstance(partial.encoders[0].feed_forward, PositionwiseFeedForward)
    assert len(partial.encoders[1].feed_forward.experts) == 3
    ffn = sum(p.numel() for p in dense.encoders[0].feed_forward.parameters())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(partial) - count(dense) == 2 * ffn
    with pytest.raises(ValueError, match="out of range"):
        MoETransformerEncoder(10, smoe_layers=[2], **DIM)


def test_conformer_macaron_ffns_are_both_routed():
    enc = MoEConformerEncoder(10, **CONFORMER)
    for block in enc.encoders:
        for ffn in (block.feed_forward, block.feed_forward_macaron):
            assert isinstance(ffn, SMoEFeedForward) and ffn.stack == "encoder"
