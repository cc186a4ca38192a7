"""What both MoE FFNs are made of: N copies of ESPnet's position-wise FFN, loadable from one.

A dense checkpoint's FFN (``w_1.*``, ``w_2.*``) loads into every expert, so one expert is a
drop-in for the dense layer and N experts can start from a trained dense model ("upcycling").
How rows reach the experts is the subclasses' business: a fixed per-utterance route
(:class:`~espnet_smoe.nets.smoe_layer.SMoEFeedForward`) or a learned per-token gate
(:class:`~espnet_smoe.nets.learned_moe.LearnedMoEFeedForward`).
"""

from typing import List

import torch
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

DENSE_KEYS = ("w_1.weight", "w_1.bias", "w_2.weight", "w_2.bias")


class Experts(torch.nn.Module):
    """N expert FFNs shaped like ESPnet's ``PositionwiseFeedForward``.

    Args:
        num_experts: N.
        idim: Input and output dimension.
        hidden_units: Hidden dimension of each expert.
        dropout_rate: Dropout inside each expert.
        activation: Activation module, shared by the experts (it has no parameters).
    """

    def __init__(
        self,
        num_experts: int,
        idim: int,
        hidden_units: int,
        dropout_rate: float,
        activation: torch.nn.Module = torch.nn.ReLU(),
    ):
        super().__init__()
        self.experts = torch.nn.ModuleList(
            PositionwiseFeedForward(idim, hidden_units, dropout_rate, activation)
            for _ in range(num_experts)
        )

    def expert_sizes(self) -> List[int]:
        """Parameters of each expert, counted from the experts themselves, which need not all
        have one shape (an expert swapped for a narrower one)."""
        return [sum(p.numel() for p in expert.parameters()) for expert in self.experts]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Accept a dense FFN's weights too: they become every expert's.

        They replace any expert weights beside them: ESPnet's ``--init_param`` loads the model's
        own state updated with the checkpoint, so the experts' fresh init is there too.
        """
        for name in DENSE_KEYS:
            dense = state_dict.pop(prefix + name, None)
            if dense is not None:
                for e in range(len(self.experts)):
                    state_dict[f"{prefix}experts.{e}.{name}"] = dense
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
