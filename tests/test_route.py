"""The route as a value: built from its arguments alone, immutable, bound for one block."""

import dataclasses

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from espnet_smoe.nets.route import Route, active_route, reorder, unsort


def test_a_route_counts_and_blocks_its_experts():
    route = Route.of("encoder", torch.tensor([1, 0, 1, 2]), 4)
    assert route.experts == (1, 0, 1, 2) and len(route) == 4
    assert route.counts == (1, 2, 1, 0)
    assert route.blocks == ((0, 1), (1, 2), (2, 1)) and not route.in_order
    assert [(e, rows.tolist()) for e, rows in route.rows] == [(0, [1]), (1, [0, 2]), (2, [3])]


def test_sorting_gives_a_new_route_and_the_order_of_the_batch():
    route = Route.of("decoder", [1, 0, 1, 0], 2)
    in_order, order = route.sort()
    assert order.tolist() == [1, 3, 0, 2]  # stable: batch order within an expert
    assert in_order.experts == (0, 0, 1, 1) and in_order.in_order
    assert route.experts == (1, 0, 1, 0)  # the original is untouched
    assert in_order.sort() == (in_order, None)


class _Ops(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.__name__)
        return func(*args, **(kwargs or {}))


def test_reordering_a_batch_and_back_is_exact_in_values_and_gradients():
    _, order = Route.of("encoder", [1, 0, 1, 0, 1], 2).sort()
    x = torch.randn(5, 3, 4, dtype=torch.double, requires_grad=True)
    y = reorder(x, order)
    assert torch.equal(y, x[order]) and torch.equal(unsort(y, order), x)
    assert torch.autograd.gradcheck(lambda t: reorder(t, order), (x,))
    weight = torch.randn(5, 3, 4, dtype=torch.double)
    with _Ops() as ops:  # the gradient is gathered back, not scattered and summed (index_put_)
        (grad,) = torch.autograd.grad((unsort(y, order) * weight).sum(), x)
    assert torch.equal(grad, weight)
    assert not any(name.startswith("index_put") for name in ops.names)
    lengths = torch.tensor([3, 1, 2, 5, 4])  # integer tensors reorder too (no gradient)
    assert reorder(lengths, order).tolist() == lengths[order].tolist()


def test_a_route_is_immutable():
    route = Route.of("encoder", [0, 1], 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.experts = (1, 1)


@pytest.mark.parametrize("ids, match", [
    (torch.tensor([0, 2]), r"lie in \[0, 2\)"), (torch.tensor([-1, 0]), r"lie in \[0, 2\)"),
    (torch.tensor([0.0, 1.0]), "integer"), (torch.tensor([[0, 1]]), "1-D"), ([0, 3], r"\[0, 2\)"),
])
def test_bad_ids_are_rejected(ids, match):
    with pytest.raises(ValueError, match=match):
        Route.of("encoder", ids, 2)


def test_a_route_is_active_for_its_stack_and_block_only():
    enc, dec = Route.of("encoder", [0], 2), Route.of("decoder", [1], 2)
    with enc.active():
        with dec.active():
            assert active_route("encoder") is enc and active_route("decoder") is dec
        assert active_route("decoder") is None
    assert active_route("encoder") is None


def test_the_ablation_is_an_argument_and_a_route_depends_on_its_arguments_only():
    swapped = Route.of("encoder", [0, 1, 1], 2, permutation=[1, 0])
    assert swapped.experts == (1, 0, 0) and swapped.counts == (2, 1)
    assert Route.of("decoder", [0, 1, 2], 3, permutation=(2, 0, 1)).experts == (2, 0, 1)
    plain = Route.of("encoder", [0, 1, 1], 2)
    with swapped.active(), Route.of("decoder", [1], 2).active():  # nothing bound changes it
        assert Route.of("encoder", [0, 1, 1], 2) == plain and plain.experts == (0, 1, 1)
        assert Route.of("encoder", [0, 1, 1], 2, permutation=[1, 0]) == swapped
    for bad in ([0, 0], [0], [0, 1, 2]):
        with pytest.raises(ValueError, match="not a permutation"):
            Route.of("decoder", [0], 2, permutation=bad)
