"""Supervised Mixture-of-Experts feed-forward layer.

Each utterance is sent, whole, to exactly one of N expert FFNs. The expert is chosen by a fixed
rule outside the layer (bandwidth in the encoder, task token in the decoder), never by a gate:
the layer reads it from its stack's active :class:`~espnet_smoe.nets.route.Route` (ESPnet's
layers call ``self.feed_forward(x)`` with nothing else; see :mod:`espnet_smoe.nets.route`).
"""

from typing import Callable, List, Optional, Sequence, Tuple

import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from espnet_smoe.nets.experts import Experts
from espnet_smoe.nets.learned_moe import GateRecord, LearnedMoEFeedForward
from espnet_smoe.nets.route import active_route


class SMoEFeedForward(Experts):
    """N position-wise FFN experts, one per utterance, picked by the stack's active route.

    An expert that receives no rows costs nothing and gets no gradient from that batch. A batch
    its stack has put in route order (:meth:`~espnet_smoe.nets.route.Route.sort`) is split into one
    view per expert; one left unsorted (a decoding step, whose rows are few) is gathered and
    scattered per expert.

    With ``shared_units`` the layer is a dense FFN of ``hidden_units`` whose first
    ``shared_units`` hidden units every route shares and whose others are per route: a shared
    FFN plus a routed expert of ``hidden_units - shared_units``, their outputs summed. A route
    then costs what the dense FFN costs, and a dense FFN's weights split into the two exactly.

    Args:
        idim, hidden_units, dropout_rate, activation: As the dense FFN's.
        num_experts: N.
        stack: ``encoder`` or ``decoder``: whose route the layer reads.
        shared_units: Hidden units shared by every route (0: none, each expert is the whole FFN).
    """

    def __init__(
        self,
        idim: int,
        hidden_units: int,
        dropout_rate: float,
        num_experts: int,
        stack: str,
        activation: torch.nn.Module = torch.nn.ReLU(),
        shared_units: int = 0,
    ):
        if not 0 <= shared_units < hidden_units:
            raise ValueError(f"shared_units must lie in [0, hidden_units={hidden_units}), "
                             f"got {shared_units}")
        super().__init__(num_experts, idim, hidden_units - shared_units, dropout_rate, activation)
        self.stack, self.num_experts = stack, num_experts
        self.shared = (PositionwiseFeedForward(idim, shared_units, dropout_rate, activation)
                       if shared_units else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D) -> (B, T, D); row b goes through the expert its route names."""
        route = active_route(self.stack)
        if route is None:
            if self.num_experts > 1:
                raise RuntimeError(
                    f"S-MoE FFN of the {self.stack} called without a route: the S-MoE model "
                    "routes its encoder by bandwidth (`model.encode(speech, lengths, bandwidth)`) "
                    "and its decoder by the prefix; a stack called alone needs "
                    f"`with Route.of('{self.stack}', ids, n).active():`"
                )
            y = self.experts[0](x)
        elif route.num_experts != self.num_experts or len(route.experts) != x.size(0):
            raise RuntimeError(
                f"{self.stack} route of {len(route.experts)} rows over {route.num_experts} "
                f"experts met a batch of {x.size(0)} rows and {self.num_experts} experts"
            )
        elif len(blocks := route.blocks) == 1:  # the whole batch to one expert: no gather/scatter
            y = self.experts[blocks[0][0]](x)
        elif route.in_order:  # one view per expert, one cat
            parts = x.split([n for _, n in blocks])
            y = torch.cat([self.experts[e](part) for (e, _), part in zip(blocks, parts)])
        else:
            y = x.new_empty(x.shape)
            for expert, rows in route.rows:
                # rows: (B_e,) -> x_e: (B_e, T, D)
                y.index_copy_(0, rows, self.experts[expert](x.index_select(0, rows)))
        return y if self.shared is None else self.shared(x) + y

    def dense(self, expert: int) -> PositionwiseFeedForward:
        """The dense FFN this layer computes on the route to ``expert`` (for export): the expert
        itself, or with shared units, the shared FFN and the expert joined into one."""
        if self.shared is None:
            return self.experts[expert]
        shared, own = self.shared, self.experts[expert]
        ffn = PositionwiseFeedForward(own.w_1.in_features, shared.w_1.out_features
                                      + own.w_1.out_features, own.dropout.p, own.activation)
        with torch.no_grad():
            ffn.w_1.weight.copy_(torch.cat([shared.w_1.weight, own.w_1.weight]))
            ffn.w_1.bias.copy_(torch.cat([shared.w_1.bias, own.w_1.bias]))
            ffn.w_2.weight.copy_(torch.cat([shared.w_2.weight, own.w_2.weight], dim=1))
            ffn.w_2.bias.copy_(shared.w_2.bias + own.w_2.bias)
        return ffn.to(own.w_1.weight)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """With shared units, a dense FFN's weights split: its first ``shared_units`` hidden
        units (and its output bias) to the shared FFN, the rest to every expert (output bias
        zero), so the layer computes the dense function on every route."""
        dense = prefix + "w_1.weight"
        if self.shared is not None and dense in state_dict:
            n = self.shared.w_1.out_features
            w_1, b_1 = state_dict.pop(dense), state_dict.pop(prefix + "w_1.bias")
            w_2, b_2 = state_dict.pop(prefix + "w_2.weight"), state_dict.pop(prefix + "w_2.bias")
            state_dict.update({
                f"{prefix}shared.w_1.weight": w_1[:n], f"{prefix}shared.w_1.bias": b_1[:n],
                f"{prefix}shared.w_2.weight": w_2[:, :n], f"{prefix}shared.w_2.bias": b_2,
            })
            for e in range(len(self.experts)):
                state_dict.update({
                    f"{prefix}experts.{e}.w_1.weight": w_1[n:], f"{prefix}experts.{e}.w_1.bias": b_1[n:],
                    f"{prefix}experts.{e}.w_2.weight": w_2[:, n:],
                    f"{prefix}experts.{e}.w_2.bias": torch.zeros_like(b_2),
                })
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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
    shared_units: int = 0,
) -> Tuple[Optional[GateRecord], List[int]]:
    """Make the FFNs of a stack mixtures of ``num_experts`` experts shaped like the dense ones.

    ``router`` is ``supervised`` (S-MoE: one expert per utterance, read from the ``stack``'s
    active route) or ``learned`` (a per-token top-``top_k`` gate per layer, logging into the
    returned :class:`~espnet_smoe.nets.learned_moe.GateRecord`). ``shared_units`` of each S-MoE FFN's
    hidden units are shared by every route (see :class:`SMoEFeedForward`). Returns (gates,
    layers changed).
    """
    if router == "supervised":
        gates = None

        def make(dense):
            return SMoEFeedForward(*_shape(dense), num_experts, stack, dense.activation,
                                   shared_units)

    elif router == "learned":
        if shared_units:
            raise ValueError("shared_units is an option of the supervised router (S-MoE)")
        gates = GateRecord(num_experts, top_k)

        def make(dense):
            return LearnedMoEFeedForward(*_shape(dense), gates, dense.activation)

    else:
        raise ValueError(f"router must be one of {ROUTERS}, got '{router}'")
    return gates, replace_ffns(layers, attrs, make, smoe_layers)


def _shape(dense: PositionwiseFeedForward) -> Tuple[int, int, float]:
    return dense.w_1.in_features, dense.w_1.out_features, dense.dropout.p
