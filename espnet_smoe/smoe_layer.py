"""Supervised Mixture-of-Experts feed-forward layer.

Each utterance is sent, whole, to exactly one of N expert FFNs. The expert is chosen by a fixed
rule outside the layer (bandwidth in the encoder, task token in the decoder), never by a gate:
the layer reads it from its stack's active :class:`~espnet_smoe.route.Route`.
"""

from typing import Callable, List, Optional, Sequence, Tuple

import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from espnet_smoe.experts import Experts
from espnet_smoe.learned_moe import GateRecord, LearnedMoEFeedForward
from espnet_smoe.route import active_route


class SMoEFeedForward(Experts):
    """N position-wise FFN experts, one per utterance, picked by the stack's active route.

    An expert that receives no rows costs nothing and gets no gradient from that batch. A batch
    its stack has put in route order (:meth:`~espnet_smoe.route.Route.sort`) is split into one
    view per expert; one left unsorted (a decoding step, whose rows are few) is gathered and
    scattered per expert.

    Args:
        idim, hidden_units, dropout_rate, activation: Each expert's, as :class:`Experts`.
        num_experts: N.
        stack: ``encoder`` or ``decoder``: whose route the layer reads.
    """

    def __init__(
        self,
        idim: int,
        hidden_units: int,
        dropout_rate: float,
        num_experts: int,
        stack: str,
        activation: torch.nn.Module = torch.nn.ReLU(),
    ):
        super().__init__(num_experts, idim, hidden_units, dropout_rate, activation)
        self.stack = stack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D) -> (B, T, D); row b goes through the expert its route names."""
        route = active_route(self.stack)
        if route is None:
            if len(self.experts) == 1:
                return self.experts[0](x)
            raise RuntimeError(
                f"S-MoE FFN of the {self.stack} called without a route: bind one with "
                f"`with Route.of('{self.stack}', ids, n).active():` (the S-MoE model does this "
                "from the bandwidth input and the decoder prefix)"
            )
        if len(route) != x.size(0) or route.num_experts != len(self.experts):
            raise RuntimeError(
                f"{self.stack} route of {len(route)} rows over {route.num_experts} experts "
                f"met a batch of {x.size(0)} rows and {len(self.experts)} experts"
            )
        blocks = route.blocks
        if len(blocks) == 1:  # the whole batch to one expert: no gather, no scatter
            return self.experts[blocks[0][0]](x)
        if route.in_order:  # one view per expert, one cat
            parts = x.split([n for _, n in blocks])
            return torch.cat([self.experts[e](part) for (e, _), part in zip(blocks, parts)])
        out = x.new_empty(x.shape)
        for expert, rows in route.rows:
            # rows: (B_e,) -> x_e: (B_e, T, D)
            out.index_copy_(0, rows, self.experts[expert](x.index_select(0, rows)))
        return out

    def inactive_parameters(self, expert: int) -> int:
        """Parameters an utterance routed to ``expert`` leaves unused: the other experts'."""
        return sum(n for e, n in enumerate(self.expert_sizes()) if e != expert)


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
    stack: str,
) -> Tuple[Optional[GateRecord], List[int]]:
    """Make the FFNs of a stack mixtures of ``num_experts`` experts shaped like the dense ones.

    ``router`` is ``supervised`` (S-MoE: one expert per utterance, read from the ``stack``'s
    active route) or ``learned`` (a per-token top-``top_k`` gate per layer, logging into the
    returned :class:`~espnet_smoe.learned_moe.GateRecord`). Returns (gates, layers changed).
    """
    if router == "supervised":
        gates = None

        def make(dense):
            return SMoEFeedForward(*_shape(dense), num_experts, stack, dense.activation)

    elif router == "learned":
        gates = GateRecord(num_experts, top_k)

        def make(dense):
            return LearnedMoEFeedForward(*_shape(dense), gates, dense.activation)

    else:
        raise ValueError(f"router must be one of {ROUTERS}, got '{router}'")
    return gates, replace_ffns(layers, attrs, make, smoe_layers)


def _shape(dense: PositionwiseFeedForward) -> Tuple[int, int, float]:
    return dense.w_1.in_features, dense.w_1.out_features, dense.dropout.p
