"""The route of one forward: which expert each utterance takes, as an immutable value.

S-MoE picks one expert per utterance by a fixed rule: the encoder by bandwidth
(:mod:`espnet_smoe.audio.bandwidth`), the decoder by the guiding token of its prefix
(:mod:`espnet_smoe.text.multitask`). A :class:`Route` holds that choice for one forward of one stack:
the expert of each batch row, the rows per expert, and the batch order that makes each expert's
rows one block. The model builds the encoder's from the bandwidth input; the decoder builds its
own from the prefix of its input; a stack reorders its batch by the route (:meth:`Route.sort`),
so each S-MoE FFN splits its input into one view per expert and joins the outputs with one
``cat``.

ESPnet's model calls ``self.encoder(feats, lens)`` and ESPnet's layers call
``self.feed_forward(x)``: neither passes anything else. Rather than copy their code, the route
crosses those frames in a context variable per stack, bound by :meth:`Route.active` for the span
of one ``with`` block and read by :func:`active_route`. No module holds it, so nothing outlives
the forward, and an FFN checks the route it reads against the batch it gets.

The routing ablation (an S-MoE stack deliberately sent to the wrong experts) is one permutation
of expert ids, the same for both stacks: every route built inside ``with permuted(stack, perm)``
takes ``perm[expert]``.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import torch

STACKS = ("encoder", "decoder")
_ACTIVE: Dict[str, ContextVar] = {s: ContextVar(f"{s}_route", default=None) for s in STACKS}
_PERMUTED: Dict[str, ContextVar] = {s: ContextVar(f"{s}_permutation", default=None) for s in STACKS}


@dataclass(frozen=True)
class Route:
    """The expert of each row of one stack's batch.

    Args:
        stack: ``encoder`` or ``decoder``: whose FFNs this route is for.
        experts: (B,) expert id per batch row, the ablation permutation already applied.
        num_experts: Experts per S-MoE FFN of the stack.
        device: The batch's device (for the index tensors of the route).
        permutation: The ablation permutation the ids went through, if any (for reports).
    """

    stack: str
    experts: Tuple[int, ...]
    num_experts: int
    device: Optional[torch.device] = None
    permutation: Optional[Tuple[int, ...]] = field(default=None, compare=False)
    # derived from the above once, here: every S-MoE FFN of the forward reads them
    counts: Tuple[int, ...] = field(init=False, compare=False, repr=False)  # rows per expert (N,)
    blocks: Tuple[Tuple[int, int], ...] = field(init=False, compare=False, repr=False)  # (expert, rows)
    in_order: bool = field(init=False, compare=False, repr=False)  # each expert's rows one block

    def __post_init__(self):
        counts = tuple(map(self.experts.count, range(self.num_experts)))
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "blocks", tuple((e, c) for e, c in enumerate(counts) if c))
        object.__setattr__(self, "in_order", list(self.experts) == sorted(self.experts))

    @classmethod
    def of(
        cls,
        stack: str,
        ids: Union[torch.Tensor, Sequence[int]],
        num_experts: int,
        device: Optional[torch.device] = None,
    ) -> "Route":
        """The route of expert ``ids`` (B,): a 1-D integer tensor (copied to the host here, the
        one host sync of the forward) or ids already on the host, with the batch's ``device``.
        Inside :func:`permuted` for ``stack``, each id ``e`` becomes ``perm[e]``."""
        if stack not in STACKS:
            raise ValueError(f"stack must be one of {STACKS}, got '{stack}'")
        if num_experts < 1:
            raise ValueError(f"num_experts must be >= 1, got {num_experts}")
        if torch.is_tensor(ids):
            if ids.dim() != 1 or ids.dtype not in (torch.int32, torch.int64):
                raise ValueError(
                    f"{stack} route must be a 1-D integer tensor (B,), got {ids.dtype} "
                    f"{tuple(ids.shape)}"
                )
            ids, device = ids.tolist(), ids.device
        ids = tuple(ids)
        if ids and (min(ids) < 0 or max(ids) >= num_experts):
            raise ValueError(f"{stack} route ids must lie in [0, {num_experts}), got {list(ids)}")
        perm = _PERMUTED[stack].get()
        if perm is not None:
            if sorted(perm) != list(range(num_experts)):
                raise ValueError(f"{stack} ablation {perm} is not a permutation of {num_experts} experts")
            ids = tuple(perm[e] for e in ids)
        return cls(stack, ids, num_experts, device, perm)

    def __len__(self) -> int:
        return len(self.experts)

    @cached_property
    def rows(self) -> Tuple[Tuple[int, torch.Tensor], ...]:
        """(expert, its row indices (B_e,)) of each used expert: for a batch left unsorted."""
        order = sorted(range(len(self)), key=self.experts.__getitem__)  # stable
        index = torch.tensor(order, device=self.device).split([c for _, c in self.blocks])
        return tuple((e, idx) for (e, _), idx in zip(self.blocks, index))

    def sort(self) -> Tuple["Route", Optional[torch.Tensor]]:
        """(the route of the reordered batch, the order (B,) to reorder it by, :func:`reorder`);
        the order is None when the batch needs no reordering (one expert, or already in order).

        A stack that reorders its inputs this way (and restores its outputs with :func:`unsort`)
        spares its layers the gather and scatter: each layer splits its input into one view per
        expert and joins the outputs with one ``cat`` (whose backward is again a split: no
        zero-filled full-size gradient per expert, as slicing would give).
        """
        if self.in_order:
            return self, None
        order = torch.cat([idx for _, idx in self.rows])
        ids = tuple(sorted(self.experts))
        return Route(self.stack, ids, self.num_experts, self.device, self.permutation), order

    def active(self) -> "_Active":
        """Make this the route the stack's S-MoE FFNs read, for the ``with`` block."""
        return _Active(self)


class _Active:
    """``with route.active():`` (a class, not a generator: it runs at every decoding step)."""

    __slots__ = ("route", "token")

    def __init__(self, route: Route):
        self.route = route

    def __enter__(self) -> Route:
        self.token = _ACTIVE[self.route.stack].set(self.route)
        return self.route

    def __exit__(self, *exc) -> None:
        _ACTIVE[self.route.stack].reset(self.token)


def is_routed(stack: torch.nn.Module) -> bool:
    """Whether ``stack`` (an encoder or decoder) has S-MoE FFNs that read a route."""
    return getattr(stack, "routed", False)


def active_route(stack: str) -> Optional[Route]:
    """The route bound for ``stack`` by the innermost :meth:`Route.active`, if any."""
    return _ACTIVE[stack].get()


@contextmanager
def permuted(stack: str, permutation: Optional[Sequence[int]]) -> Iterator[None]:
    """Routes of ``stack`` built in the ``with`` block take ``permutation[expert]`` (the routing
    ablation); None leaves them as they are."""
    token = _PERMUTED[stack].set(None if permutation is None else tuple(permutation))
    try:
        yield
    finally:
        _PERMUTED[stack].reset(token)


def reorder(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """``x[order]`` for a permutation ``order`` of the batch rows (a stack's :meth:`Route.sort`).

    Its gradient goes back through the inverse permutation, a gather: ``x[order]``'s backward
    is a scatter-add (``index_put_`` with accumulation), which on the CPU cost a mixed training
    step of the mini model about 2 ms (1 %) for the four reorderings of its two stacks.
    """
    if torch.is_grad_enabled() and x.requires_grad:
        return _Reorder.apply(x, order)
    return x.index_select(0, order)


class _Reorder(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, order):
        ctx.save_for_backward(order)
        return x.index_select(0, order)

    @staticmethod
    def backward(ctx, grad):
        (order,) = ctx.saved_tensors
        return grad.index_select(0, order.argsort()), None


def unsort(output, order: torch.Tensor):
    """Undo a stack's reordering of the batch (:func:`reorder`) in every tensor of ``output``."""
    inverse = order.argsort()

    def restore(value):
        if torch.is_tensor(value) and value.dim() > 0 and value.size(0) == order.numel():
            return reorder(value, inverse)
        if isinstance(value, (tuple, list)):
            return type(value)(restore(v) for v in value)
        return value

    return restore(output)
