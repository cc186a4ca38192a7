"""The experts both MoE FFNs hold: N copies of ESPnet's position-wise FFN, loadable from one.

A dense checkpoint's FFN (``w_1.*``, ``w_2.*``) loads into every expert, so one expert is a
drop-in for the dense layer and N experts can start from a trained dense model ("upcycling").
"""

from typing import Dict

import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

DENSE_KEYS = ("w_1.weight", "w_1.bias", "w_2.weight", "w_2.bias")


def make_experts(
    num_experts: int, idim: int, hidden_units: int, dropout_rate: float, activation: torch.nn.Module
) -> torch.nn.ModuleList:
    """``num_experts`` FFNs shaped like ESPnet's; the activation (parameter-free) is shared."""
    return torch.nn.ModuleList(
        PositionwiseFeedForward(idim, hidden_units, dropout_rate, activation)
        for _ in range(num_experts)
    )


def dense_into_experts(state_dict: Dict[str, torch.Tensor], prefix: str, num_experts: int):
    """Rewrite a dense FFN's entries under ``prefix`` as every expert's (in place)."""
    for name in DENSE_KEYS:
        dense = state_dict.pop(prefix + name, None)
        if dense is not None:
            for e in range(num_experts):
                state_dict.setdefault(f"{prefix}experts.{e}.{name}", dense)
