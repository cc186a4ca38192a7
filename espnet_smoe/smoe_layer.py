"""Supervised Mixture-of-Experts feed-forward layer.

Each utterance is sent, whole, to exactly one of N expert FFNs. The expert is chosen by a fixed
rule outside the layer (bandwidth in the encoder, task token in the decoder), never by a gate.

ESPnet's encoder and decoder layers call ``self.feed_forward(x)`` with the hidden states alone.
Rather than copy their forward code to thread a route through, the owning encoder or decoder
binds the per-utterance route to a :class:`Routing` object for the span of its forward pass,
and every S-MoE FFN of that stack reads it. The grouping of batch rows by expert is computed
once per forward (one host sync) and reused by every layer.
"""

from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from espnet_smoe.experts import Experts
from espnet_smoe.learned_moe import GateRecord, LearnedMoEFeedForward

# (expert, its batch rows): None when the expert takes the whole batch, an index tensor, or a
# row count when the owning stack has sorted the batch by route (see Routing.sorted_batch).
Group = Tuple[int, Union[None, torch.Tensor, int]]


class Routing:
    """The expert choice of the forward pass in progress, shared by the S-MoE FFNs of one stack."""

    def __init__(self, num_experts: int):
        if num_experts < 1:
            raise ValueError(f"num_experts must be >= 1, got {num_experts}")
        self.num_experts = num_experts
        self._groups: Optional[List[Group]] = None
        self._in_order = False  # the bound route is non-decreasing: groups are already blocks
        # Utterances per expert in the last routed forward, for training statistics.
        self.last_counts: Optional[List[int]] = None

    @contextmanager
    def __call__(
        self, route: Union[torch.Tensor, List[int]], device: Optional[torch.device] = None
    ) -> Iterator[None]:
        """Bind ``route`` (B,) of expert ids for the duration of the ``with`` block.

        ``route`` is a 1-D integer tensor, copied to the host here (the one host sync of the
        forward; grouping is then host work, not device kernels), or the ids already on the
        host as a list, with the ``device`` of the batch: a batch that takes one expert then
        needs no device copy of its route at all (the decoder's beam search, step by step).
        """
        if torch.is_tensor(route):
            if route.dim() != 1 or route.dtype not in (torch.int32, torch.int64):
                raise ValueError(
                    f"route must be a 1-D integer tensor (B,), got {route.dtype} "
                    f"{tuple(route.shape)}"
                )
            ids, device = route.tolist(), route.device
        else:
            ids = list(route)
        if any(not 0 <= e < self.num_experts for e in ids):
            raise ValueError(f"route ids must lie in [0, {self.num_experts}), got {ids}")
        counts = [ids.count(e) for e in range(self.num_experts)]
        outer = self._groups, self._in_order
        self._groups = self._group(ids, counts, device)
        self._in_order = all(a <= b for a, b in zip(ids, ids[1:]))
        self.last_counts = counts
        try:
            yield
        finally:
            self._groups, self._in_order = outer

    @contextmanager
    def sorted_batch(self) -> Iterator[Optional[torch.Tensor]]:
        """For the owning stack: the batch order (B,) that makes each expert's rows one
        contiguous block; None when the batch needs no reordering (one expert, rows already in
        route order, or no route bound).

        A stack that reorders its inputs this way (and restores the order of its outputs, see
        :func:`unsort`) spares its layers the gather and scatter: within the block each layer
        splits its input into one view per expert and joins the outputs with one ``cat`` (whose
        backward is again a split, and the split's one ``cat``: no zero-filled full-size
        gradient per expert, as slicing would give).
        """
        groups = self._groups
        if groups is None or len(groups) == 1:
            yield None
            return
        order = None if self._in_order else torch.cat([rows for _, rows in groups])
        self._groups = [(e, len(rows)) for e, rows in groups]
        try:
            yield order
        finally:
            self._groups = groups

    @staticmethod
    def _group(ids: List[int], counts: Sequence[int], device: Optional[torch.device]) -> List[Group]:
        used = [e for e, c in enumerate(counts) if c > 0]
        if len(used) <= 1:  # single-task / single-bandwidth batch: no gather, no scatter
            return [(used[0] if used else 0, None)]
        order = sorted(range(len(ids)), key=ids.__getitem__)  # stable: batch order per expert
        rows = torch.tensor(order, device=device).split([counts[e] for e in used])
        return list(zip(used, rows))

    @property
    def groups(self) -> List[Group]:
        if self._groups is None:
            if self.num_experts == 1:
                return [(0, None)]
            raise RuntimeError(
                "S-MoE FFN called without a route: bind one with `with stack.routing(route):` "
                "(the S-MoE model does this from the `bandwidth` input)"
            )
        return self._groups


class SMoEFeedForward(Experts):
    """N position-wise FFN experts, one per utterance, picked by the stack's route.

    Each expert runs only on the rows routed to it (gather, expert, scatter back), so an expert
    that receives no rows costs nothing and gets no gradient from that batch.

    Args:
        idim, hidden_units, dropout_rate, activation: Each expert's, as :class:`Experts`.
        routing: The route holder of the owning encoder or decoder (N).
    """

    def __init__(
        self,
        idim: int,
        hidden_units: int,
        dropout_rate: float,
        routing: Routing,
        activation: torch.nn.Module = torch.nn.ReLU(),
    ):
        super().__init__(routing.num_experts, idim, hidden_units, dropout_rate, activation)
        self.routing = routing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D) -> (B, T, D); row b goes through the expert its route names."""
        groups = self.routing.groups
        if len(groups) == 1:  # the whole batch to one expert: no gather, no scatter
            return self.experts[groups[0][0]](x)
        if isinstance(groups[0][1], int):  # batch sorted by route: one view per expert, one cat
            parts = x.split([n for _, n in groups])
            return torch.cat([self.experts[e](part) for (e, _), part in zip(groups, parts)])
        out = x.new_empty(x.shape)
        for expert, rows in groups:
            # rows: (B_e,) -> x_e: (B_e, T, D)
            out.index_copy_(0, rows, self.experts[expert](x.index_select(0, rows)))
        return out

    def inactive_parameters(self, expert: int) -> int:
        """Parameters an utterance routed to ``expert`` leaves unused: the other experts'."""
        return sum(n for e, n in enumerate(self.expert_sizes()) if e != expert)


def unsort(output: Any, order: torch.Tensor) -> Any:
    """Undo a stack's reordering of the batch (``x[order]``) in every tensor of ``output``."""
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel(), device=order.device)

    def restore(value):
        if torch.is_tensor(value) and value.dim() > 0 and value.size(0) == order.numel():
            return value[inverse]
        if isinstance(value, (tuple, list)):
            return type(value)(restore(v) for v in value)
        return value

    return restore(output)


def replace_ffns(
    layers: Sequence[torch.nn.Module],
    attrs: Sequence[str],
    make: Callable[[PositionwiseFeedForward], torch.nn.Module],
    smoe_layers: Optional[Sequence[int]],
) -> List[int]:
    """Swap the dense FFNs ``layer.<attr>`` of the chosen layers (all when None) for ``make(ffn)``.

    Returns the indices of the layers that were changed.
    """
    chosen = list(range(len(layers))) if smoe_layers is None else sorted(set(smoe_layers))
    bad = [i for i in chosen if not 0 <= i < len(layers)]
    if bad:
        raise ValueError(f"smoe_layers {bad} out of range for {len(layers)} layers")
    for i in chosen:
        for attr in attrs:
            dense = getattr(layers[i], attr, None)
            if dense is None:
                continue
            if not isinstance(dense, PositionwiseFeedForward):
                raise TypeError(
                    f"MoE layers replace ESPnet's PositionwiseFeedForward, got "
                    f"{type(dense).__name__} (use positionwise_layer_type: linear)"
                )
            setattr(layers[i], attr, make(dense))
    return chosen


ROUTERS = ("supervised", "learned")


def moe_ffns(
    layers: Sequence[torch.nn.Module],
    attrs: Sequence[str],
    num_experts: int,
    smoe_layers: Optional[Sequence[int]],
    router: str,
    top_k: int,
) -> Tuple[Optional[Routing], Optional[GateRecord], List[int]]:
    """Make the FFNs of a stack mixtures of ``num_experts`` experts shaped like the dense ones.

    ``router`` is ``supervised`` (S-MoE: one expert per utterance, bound through the returned
    :class:`Routing`) or ``learned`` (a per-token top-``top_k`` gate per layer, logging into the
    returned :class:`~espnet_smoe.learned_moe.GateRecord`). Returns (routing, gates, layers).
    """
    if router == "supervised":
        routing, gates = Routing(num_experts), None

        def make(dense):
            return SMoEFeedForward(*_shape(dense), routing, dense.activation)

    elif router == "learned":
        routing, gates = None, GateRecord(num_experts, top_k)

        def make(dense):
            return LearnedMoEFeedForward(*_shape(dense), gates, dense.activation)

    else:
        raise ValueError(f"router must be one of {ROUTERS}, got '{router}'")
    return routing, gates, replace_ffns(layers, attrs, make, smoe_layers)


def _shape(dense: PositionwiseFeedForward) -> Tuple[int, int, float]:
    return dense.w_1.in_features, dense.w_1.out_features, dense.dropout.p
