"""The S-MoE FFN: exact per-utterance routing, sparse gradients, dense equivalence, errors."""

import pytest
import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from espnet_smoe.learned_moe import LearnedMoEFeedForward
from espnet_smoe.smoe_layer import Routing, SMoEFeedForward, moe_ffns, unsort


def layer(n: int) -> SMoEFeedForward:
    return SMoEFeedForward(8, 16, 0.0, Routing(n)).eval()


def test_each_row_goes_through_its_own_expert():
    ffn, x = layer(3), torch.randn(5, 7, 8)
    route = torch.tensor([2, 0, 2, 1, 0])
    with ffn.routing(route):
        y = ffn(x)
    for b, e in enumerate(route.tolist()):
        torch.testing.assert_close(y[b], ffn.experts[e](x[b]), rtol=0, atol=1e-6)


def test_single_expert_batch_matches_mixed_path():
    ffn, x = layer(2), torch.randn(3, 4, 8)
    with ffn.routing(torch.tensor([1, 1, 1])):
        whole = ffn(x)
    torch.testing.assert_close(whole, ffn.experts[1](x))


def test_unrouted_expert_gets_no_gradient():
    ffn, x = layer(3), torch.randn(4, 5, 8, requires_grad=True)
    with ffn.routing(torch.tensor([0, 2, 0, 2])):
        ffn(x).sum().backward()
    assert all(p.grad is None for p in ffn.experts[1].parameters())
    for e in (0, 2):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ffn.experts[e].parameters())
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_gradient_matches_per_row_computation():
    ffn, x = layer(2), torch.randn(4, 3, 8)
    route = torch.tensor([1, 0, 0, 1])
    with ffn.routing(route):
        ffn(x).pow(2).sum().backward()
    routed = [p.grad.clone() for p in ffn.parameters()]
    ffn.zero_grad()
    sum(ffn.experts[e](x[b]).pow(2).sum() for b, e in enumerate(route.tolist())).backward()
    for got, want in zip(routed, (p.grad for p in ffn.parameters())):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("n", [1, 2])
def test_loads_dense_weights_into_every_expert(n):
    dense = PositionwiseFeedForward(8, 16, 0.0).eval()
    ffn = layer(n)
    ffn.load_state_dict(dense.state_dict())  # strict: dense keys map onto experts.*
    x = torch.randn(2, 3, 8)
    for e in range(n):
        with ffn.routing(torch.full((2,), e)):
            torch.testing.assert_close(ffn(x), dense(x), rtol=0, atol=0)


def test_one_expert_needs_no_route():
    ffn, x = layer(1), torch.randn(2, 3, 8)
    torch.testing.assert_close(ffn(x), ffn.experts[0](x))


def test_missing_route_is_an_error_that_says_how_to_bind_one():
    with pytest.raises(RuntimeError, match="routing"):
        layer(2)(torch.randn(1, 2, 8))


@pytest.mark.parametrize("route", [torch.tensor([0, 2]), torch.tensor([-1, 0]),
                                   torch.tensor([0.0, 1.0]), torch.tensor([[0, 1]])])
def test_bad_routes_are_rejected(route):
    with pytest.raises(ValueError):
        with Routing(2)(route):
            pass


def test_nested_routes_restore_the_outer_one():
    ffn, x = layer(2), torch.randn(2, 3, 8)
    with ffn.routing(torch.tensor([0, 0])):
        with ffn.routing(torch.tensor([1, 1])):
            inner = ffn(x)
        outer = ffn(x)
    torch.testing.assert_close(inner, ffn.experts[1](x))
    torch.testing.assert_close(outer, ffn.experts[0](x))
    with pytest.raises(RuntimeError):
        ffn(x)  # unbound again after the block


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.feed_forward = PositionwiseFeedForward(8, 16, 0.1, torch.nn.SiLU())


def test_moe_ffns_picks_layers_and_keeps_shape_activation_dropout():
    blocks = [Block() for _ in range(3)]
    routing, gates, chosen = moe_ffns(blocks, ["feed_forward"], 2, [2, 0], "supervised", 1)
    assert chosen == [0, 2] and gates is None and routing.num_experts == 2
    assert isinstance(blocks[0].feed_forward, SMoEFeedForward)
    assert blocks[0].feed_forward.routing is routing
    assert isinstance(blocks[1].feed_forward, PositionwiseFeedForward)
    assert isinstance(blocks[2].feed_forward.experts[1].activation, torch.nn.SiLU)
    assert blocks[2].feed_forward.experts[0].dropout.p == 0.1
    assert blocks[2].feed_forward.experts[0].w_1.weight.shape == (16, 8)


def test_moe_ffns_builds_learned_gates_on_request():
    blocks = [Block() for _ in range(2)]
    routing, gates, _ = moe_ffns(blocks, ["feed_forward"], 3, None, "learned", 2)
    assert routing is None and (gates.num_experts, gates.top_k) == (3, 2)
    assert all(isinstance(b.feed_forward, LearnedMoEFeedForward) for b in blocks)


@pytest.mark.parametrize("args,error,match", [
    ((2, [3], "supervised", 1), ValueError, "out of range"),
    ((2, None, "gated", 1), ValueError, "router"),
    ((2, None, "learned", 3), ValueError, "top_k"),
])
def test_moe_ffns_rejects_bad_options(args, error, match):
    with pytest.raises(error, match=match):
        moe_ffns([Block() for _ in range(3)], ["feed_forward"], *args)


def test_only_dense_positionwise_ffns_can_be_replaced():
    block = Block()
    block.feed_forward = torch.nn.Linear(8, 8)
    with pytest.raises(TypeError, match="PositionwiseFeedForward"):
        moe_ffns([block], ["feed_forward"], 2, None, "supervised", 1)


@pytest.mark.parametrize("route", [[1, 0, 1, 0, 2], [0, 0, 1, 2, 2], [2, 2, 2, 2, 2]])
def test_sorted_batch_gives_the_layer_contiguous_blocks(route):
    ffn, x = layer(3), torch.randn(5, 4, 8)
    route = torch.tensor(route)
    with ffn.routing(route):
        want = ffn(x)  # gather / scatter path
        with ffn.routing.sorted_batch() as order:
            if order is None:  # already in route order (or one expert): no reordering
                got = ffn(x)
            else:
                assert route[order].tolist() == sorted(route.tolist())
                got = unsort(ffn(x[order]), order)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("route", [[2, 0, 2, 1, 0], [1, 1, 1, 1, 1]])
def test_host_list_route_routes_like_the_tensor(route):
    ffn, x = layer(3), torch.randn(5, 4, 8)
    with ffn.routing(torch.tensor(route)):
        want = ffn(x)
    with ffn.routing(route, x.device):
        got = ffn(x)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"route ids must lie in \[0, 3\)"):
        with ffn.routing([0, 3], x.device):
            pass


def test_sorted_batch_gradient_matches_per_row_computation():
    ffn, x = layer(2), torch.randn(4, 3, 8, requires_grad=True)
    route = [1, 0, 0, 1]
    with ffn.routing(route, x.device), ffn.routing.sorted_batch() as order:
        unsort(ffn(x[order]), order).pow(2).sum().backward()
    routed = [x.grad.clone(), *(p.grad.clone() for p in ffn.parameters())]
    x.grad = None
    ffn.zero_grad()
    sum(ffn.experts[e](x[b]).pow(2).sum() for b, e in enumerate(route)).backward()
    for got, want in zip(routed, [x.grad, *(p.grad for p in ffn.parameters())]):
        torch.testing.assert_close(got, want)


def test_inactive_parameters_are_the_other_experts_own():
    ffn = layer(3)
    ffn.experts[1] = PositionwiseFeedForward(8, 4, 0.0)  # narrower than experts 0 and 2
    size = [sum(p.numel() for p in expert.parameters()) for expert in ffn.experts]
    assert [ffn.inactive_parameters(e) for e in range(3)] == [
        size[1] + size[2], size[0] + size[2], size[0] + size[1]]
