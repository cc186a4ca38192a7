"""The route of one forward: which expert each utterance takes, as an immutable value.

S-MoE picks one expert per utterance by a fixed rule: the encoder by bandwidth
(:mod:`espnet_smoe.audio.bandwidth`), the decoder by the guiding token of its prefix
(:mod:`espnet_smoe.text.multitask`). A :class:`Route` holds that choice for one forward of one
stack: the expert of each batch row, the rows per expert, and the batch order that makes each
expert's rows one block. :meth:`Route.of` builds it from its arguments alone; a stack reorders its
batch by it (:meth:`Route.sort`), so each S-MoE FFN splits its input into one view per expert and
joins the outputs with one ``cat``.

Where routes are built, from arguments:

- the encoder's in :meth:`~espnet_smoe.nets.model.SMoES2TModel.encoder_route`, from the bandwidth
  ids that ``SMoES2TModel.encode(speech, lengths, bandwidth)`` and the training ``forward(...,
  bandwidth=...)`` take;
- the decoder's in :meth:`~espnet_smoe.nets.decoder.MoETransformerDecoder.route_of`, from the
  guiding token of each row of the decoder's own input.

How they reach the FFNs: ESPnet's model calls ``self.encoder(feats, lens)`` (and its ``forward``
calls ``self.encode(speech, lengths)``), and ESPnet's layers call ``self.feed_forward(x)``; none
passes anything else. Rather than copy their code, the route crosses exactly those frames in a
context variable per stack, bound by :meth:`Route.active` for one ``with`` block and read by
:func:`active_route`, in three places and no others:

1. model -> encoder: ``SMoES2TModel.encode`` and ``forward`` bind the encoder's route around
   ESPnet's own; the encoder's forward reads it;
2. encoder -> FFNs: the encoder binds the route of its reordered batch around its ESPnet base
   forward; each :class:`~espnet_smoe.nets.smoe_layer.SMoEFeedForward` reads it;
3. decoder -> FFNs: the decoder's ``forward`` and ``forward_one_step`` (which ESPnet's beam
   searches call) bind the route they build from their input; its FFNs read it.

No module holds a route, so nothing outlives the forward, and an FFN checks the route it reads
against the batch it gets.

The routing ablation (an S-MoE stack deliberately sent to the wrong experts) is a permutation of
expert ids, given where a route is built (``Route.of(..., permutation=perm)`` sends expert ``e``
to ``perm[e]``): the model's ``encode`` takes it as an argument, and the decoder, which ESPnet's
searches call step by step, as a view of itself (``decoder.permuted(perm)``, the same parameters).
"""

from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

STACKS = ("encoder", "decoder")
_ACTIVE: Dict[str, ContextVar] = {s: ContextVar(f"{s}_route", default=None) for s in STACKS}


@dataclass(frozen=True)
class Route:
    """The expert of each row of one stack's batch.

    Args:
        stack: ``encoder`` or ``decoder``: whose FFNs this route is for.
        experts: (B,) expert id per batch row, any ablation permutation already applied.
        num_experts: Experts per S-MoE FFN of the stack.
        device: The batch's device (for the index tensors of the route).
    """

    stack: str
    experts: Tuple[int, ...]
    num_experts: int
    device: Optional[torch.device] = None
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
        permutation: Optional[Sequence[int]] = None,
    ) -> "Route":
        """The route of expert ``ids`` (B,): a 1-D integer tensor (copied to the host here, the
        one host sync of the forward) or ids already on the host, with the batch's ``device``.
        With a ``permutation`` (the routing ablation), each id ``e`` becomes ``permutation[e]``."""
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
        if permutation is not None:
            permutation = checked_permutation(stack, permutation, num_experts)
            ids = tuple(permutation[e] for e in ids)
        return cls(stack, ids, num_experts, device)

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
        return Route(self.stack, ids, self.num_experts, self.device), order

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


def checked_permutation(
    stack: str, permutation: Sequence[int], num_experts: int
) -> Tuple[int, ...]:
    """``permutation`` as a tuple, if it permutes the ``num_experts`` experts of ``stack``."""
    permutation = tuple(permutation)
    if sorted(permutation) != list(range(num_experts)):
        raise ValueError(f"{stack} ablation {list(permutation)} is not a permutation of "
                         f"{num_experts} experts")
    return permutation


def reorder(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """``x[order]`` for a permutation ``order`` of the batch rows (a stack's :meth:`Route.sort`).

    Its gradient goes back through the inverse permutation, a gather: ``x[order]``'s backward
    is a scatter-add (``index_put_`` with accumulation), which costs more for the same result.
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
