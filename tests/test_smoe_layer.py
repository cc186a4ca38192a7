"""The S-MoE FFN: exact per-utterance routing, sparse gradients, dense equivalence, errors."""

import pytest
import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from espnet_smoe.nets.learned_moe import LearnedMoEFeedForward
from espnet_smoe.nets.route import Route, unsort
from espnet_smoe.nets.smoe_layer import SMoEFeedForward, moe_ffns


def layer(n: int) -> SMoEFeedForward:
    return SMoEFeedForward(8, 16, 0.0, n, "encoder").eval()


def routed(ids, n: int = None, device=None):
    """Context: ``ids`` the active encoder route (over the layer's ``n`` experts)."""
    ids = ids if torch.is_tensor(ids) else list(ids)
    n = n or (int(max(ids)) + 1)
    return Route.of("encoder", ids, n, device).active()


def test_each_row_goes_through_its_own_expert():
    ffn, x = layer(3), torch.randn(5, 7, 8)
    route = torch.tensor([2, 0, 2, 1, 0])
    with routed(route, 3):
        y = ffn(x)
    for b, e in enumerate(route.tolist()):
        torch.testing.assert_close(y[b], ffn.experts[e](x[b]), rtol=0, atol=1e-6)


def test_single_expert_batch_matches_mixed_path():
    ffn, x = layer(2), torch.randn(3, 4, 8)
    with routed(torch.tensor([1, 1, 1]), 2):
        whole = ffn(x)
    torch.testing.assert_close(whole, ffn.experts[1](x))


def test_unrouted_expert_gets_no_gradient():
    ffn, x = layer(3), torch.randn(4, 5, 8, requires_grad=True)
    with routed(torch.tensor([0, 2, 0, 2]), 3):
        ffn(x).sum().backward()
    assert all(p.grad is None for p in ffn.experts[1].parameters())
    for e in (0, 2):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ffn.experts[e].parameters())
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_gradient_matches_per_row_computation():
    ffn, x = layer(2), torch.randn(4, 3, 8)
    route = torch.tensor([1, 0, 0, 1])
    with routed(route, 2):
        ffn(x).pow(2).sum().backward()
    grads = [p.grad.clone() for p in ffn.parameters()]
    ffn.zero_grad()
    sum(ffn.experts[e](x[b]).pow(2).sum() for b, e in enumerate(route.tolist())).backward()
    for got, want in zip(grads, (p.grad for p in ffn.parameters())):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("n", [1, 2])
def test_loads_dense_weights_into_every_expert(n):
    dense = PositionwiseFeedForward(8, 16, 0.0).eval()
    ffn = layer(n)
    ffn.load_state_dict(dense.state_dict())  # strict: dense keys map onto experts.*
    x = torch.randn(2, 3, 8)
    for e in range(n):
        with routed(torch.full((2,), e), n):
            torch.testing.assert_close(ffn(x), dense(x), rtol=0, atol=0)


def test_one_expert_needs_no_route():
    ffn, x = layer(1), torch.randn(2, 3, 8)
    torch.testing.assert_close(ffn(x), ffn.experts[0](x))


def test_missing_route_is_an_error_that_says_how_to_bind_one():
    with pytest.raises(RuntimeError, match=r"encoder called without a route.*active"):
        layer(2)(torch.randn(1, 2, 8))


def test_a_route_that_does_not_fit_the_batch_is_an_error():
    ffn = layer(2)
    with routed([0, 1, 1], 2), pytest.raises(RuntimeError, match="route of 3 rows.*batch of 2"):
        ffn(torch.randn(2, 3, 8))
    with routed([0, 2], 3), pytest.raises(RuntimeError, match="over 3 experts.*2 experts"):
        ffn(torch.randn(2, 3, 8))


def test_the_decoder_route_does_not_reach_encoder_ffns():
    ffn, x = layer(2), torch.randn(2, 3, 8)
    with Route.of("decoder", [1, 1], 2).active(), pytest.raises(RuntimeError, match="without"):
        ffn(x)


def test_nested_routes_restore_the_outer_one():
    ffn, x = layer(2), torch.randn(2, 3, 8)
    with routed(torch.tensor([0, 0]), 2):
        with routed(torch.tensor([1, 1]), 2):
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
    gates, chosen = moe_ffns(blocks, ["feed_forward"], 2, [2, 0], "supervised", 1, "decoder")
    assert chosen == [0, 2] and gates is None
    assert isinstance(blocks[0].feed_forward, SMoEFeedForward)
    assert blocks[0].feed_forward.stack == "decoder" and len(blocks[0].feed_forward.experts) == 2
    assert isinstance(blocks[1].feed_forward, PositionwiseFeedForward)
    assert isinstance(blocks[2].feed_forward.experts[1].activation, torch.nn.SiLU)
    assert blocks[2].feed_forward.experts[0].dropout.p == 0.1
    assert blocks[2].feed_forward.experts[0].w_1.weight.shape == (16, 8)


def test_moe_ffns_builds_learned_gates_on_request():
    blocks = [Block() for _ in range(2)]
    gates, _ = moe_ffns(blocks, ["feed_forward"], 3, None, "learned", 2, "encoder")
    assert (gates.num_experts, gates.top_k) == (3, 2)
    assert all(isinstance(b.feed_forward, LearnedMoEFeedForward) for b in blocks)


@pytest.mark.parametrize("args,error,match", [
    ((2, [3], "supervised", 1), ValueError, "out of range"),
    ((2, None, "gated", 1), ValueError, "router"),
    ((2, None, "learned", 3), ValueError, "top_k"),
])
def test_moe_ffns_rejects_bad_options(args, error, match):
    with pytest.raises(error, match=match):
        moe_ffns([Block() for _ in range(3)], ["feed_forward"], *args, "encoder")


def test_only_dense_positionwise_ffns_can_be_replaced():
    block = Block()
    block.feed_forward = torch.nn.Linear(8, 8)
    with pytest.raises(TypeError, match="PositionwiseFeedForward"):
        moe_ffns([block], ["feed_forward"], 2, None, "supervised", 1, "encoder")


@pytest.mark.parametrize("route", [[1, 0, 1, 0, 2], [0, 0, 1, 2, 2], [2, 2, 2, 2, 2]])
def test_a_sorted_batch_gives_the_layer_contiguous_blocks(route):
    ffn, x = layer(3), torch.randn(5, 4, 8)
    unsorted = Route.of("encoder", route, 3)
    with unsorted.active():
        want = ffn(x)  # gather / scatter path
    in_order, order = unsorted.sort()
    assert in_order.in_order and list(in_order.experts) == sorted(route)
    with in_order.active():
        if order is None:  # already in route order (or one expert): no reordering
            got = ffn(x)
        else:
            assert [route[i] for i in order.tolist()] == sorted(route)
            got = unsort(ffn(x[order]), order)
    torch.testing.assert_close(got, want)


def test_sorted_batch_gradient_matches_per_row_computation():
    ffn, x = layer(2), torch.randn(4, 3, 8, requires_grad=True)
    route = [1, 0, 0, 1]
    in_order, order = Route.of("encoder", route, 2).sort()
    with in_order.active():
        unsort(ffn(x[order]), order).pow(2).sum().backward()
    routed_grads = [x.grad.clone(), *(p.grad.clone() for p in ffn.parameters())]
    x.grad = None
    ffn.zero_grad()
    sum(ffn.experts[e](x[b]).pow(2).sum() for b, e in enumerate(route)).backward()
    for got, want in zip(routed_grads, [x.grad, *(p.grad for p in ffn.parameters())]):
        torch.testing.assert_close(got, want)


def test_inactive_parameters_are_the_other_experts_own():
    ffn = layer(3)
    ffn.experts[1] = PositionwiseFeedForward(8, 4, 0.0)  # narrower than experts 0 and 2
    size = [sum(p.numel() for p in expert.parameters()) for expert in ffn.experts]
    assert [ffn.inactive_parameters(e) for e in range(3)] == [
        size[1] + size[2], size[0] + size[2], size[0] + size[1]]


def shared_layer(n: int = 2, shared: int = 6) -> SMoEFeedForward:
    return SMoEFeedForward(8, 16, 0.0, n, "encoder", shared_units=shared).eval()


def test_shared_units_split_a_dense_ffn_exactly():
    """A dense FFN of 16 hidden units = a shared FFN of its first 6 + an expert of the other 10:
    loaded from the dense weights, every route computes the dense function."""
    dense = PositionwiseFeedForward(8, 16, 0.0).eval()
    ffn = shared_layer()
    ffn.load_state_dict(dense.state_dict())  # strict
    assert ffn.shared.w_1.out_features == 6 and ffn.experts[0].w_1.out_features == 10
    x = torch.randn(3, 4, 8)
    for route in ([0, 0, 0], [1, 1, 1], [1, 0, 1]):
        with routed(route, 2):
            torch.testing.assert_close(ffn(x), dense(x))


def test_shared_units_are_shared_and_the_rest_is_routed():
    ffn, x = shared_layer(), torch.randn(2, 3, 8, requires_grad=True)
    with routed([1, 1], 2):
        ffn(x).sum().backward()
    assert all(p.grad is not None for p in ffn.shared.parameters())
    assert all(p.grad is None for p in ffn.experts[0].parameters())
    with torch.no_grad():
        y = ffn.shared(x) + ffn.experts[1](x)
        with routed([1, 1], 2):
            torch.testing.assert_close(ffn(x), y, rtol=0, atol=0)


@pytest.mark.parametrize("shared", [0, 6])
def test_the_dense_ffn_of_a_route_computes_that_route(shared):
    ffn, x = shared_layer(shared=shared), torch.randn(2, 5, 8)
    dense = [ffn.dense(e) for e in range(2)]
    assert all(type(d) is PositionwiseFeedForward and d.w_1.out_features == 16 for d in dense)
    for e in range(2):
        with routed([e, e], 2):
            torch.testing.assert_close(dense[e](x), ffn(x))
    dense_size = sum(p.numel() for p in PositionwiseFeedForward(8, 16, 0.0).parameters())
    active = sum(p.numel() for p in ffn.parameters()) - ffn.inactive_parameters(0)
    assert active == dense_size + (8 if shared else 0)  # the expert's and the shared output bias


@pytest.mark.parametrize("shared, router, match", [(16, "supervised", r"\[0, hidden_units=16\)"),
                                                    (4, "learned", "supervised router")])
def test_shared_units_must_leave_experts_units_and_need_supervised_routing(shared, router, match):
    with pytest.raises(ValueError, match=match):
        moe_ffns([Block()], ["feed_forward"], 2, None, router, 1, "encoder", shared)
