"""Encoders whose FFNs are S-MoE, routed per utterance (by bandwidth in this project).

They are ESPnet's own Transformer and Conformer encoders with the dense FFN of the chosen layers
swapped for :class:`~espnet_smoe.smoe_layer.SMoEFeedForward`; attention, subsampling and
normalisation stay shared and untouched. The caller binds the route around the forward::

    with encoder.routing(route):          # route: (B,) expert ids, e.g. 0 = WB, 1 = NB
        ys, olens, _ = encoder(xs, ilens)

The S-MoE model does this from the ``bandwidth`` input.
"""

from typing import List, Optional

from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder
from typeguard import typechecked

from espnet_smoe.smoe_layer import Routing, replace_ffns


class SMoETransformerEncoder(TransformerEncoder):
    """ESPnet's ``TransformerEncoder`` with S-MoE FFNs.

    Args:
        input_size: Input feature dimension.
        num_experts: Experts per S-MoE FFN (2: wideband, narrowband).
        smoe_layers: 0-based indices of the blocks whose FFN is S-MoE; all when omitted.
        **kwargs: Every other ``TransformerEncoder`` argument, unchanged.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        num_experts: int = 2,
        smoe_layers: Optional[List[int]] = None,
        **kwargs,
    ):
        super().__init__(input_size, **kwargs)
        self.routing = Routing(num_experts)
        self.smoe_layers = replace_ffns(self.encoders, ["feed_forward"], self.routing, smoe_layers)


class SMoEConformerEncoder(ConformerEncoder):
    """ESPnet's ``ConformerEncoder`` with S-MoE FFNs (both halves of the macaron pair).

    Args:
        input_size: Input feature dimension.
        num_experts: Experts per S-MoE FFN (2: wideband, narrowband).
        smoe_layers: 0-based indices of the blocks whose FFNs are S-MoE; all when omitted.
        **kwargs: Every other ``ConformerEncoder`` argument, unchanged.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        num_experts: int = 2,
        smoe_layers: Optional[List[int]] = None,
        **kwargs,
    ):
        super().__init__(input_size, **kwargs)
        self.routing = Routing(num_experts)
        self.smoe_layers = replace_ffns(
            self.encoders, ["feed_forward", "feed_forward_macaron"], self.routing, smoe_layers
        )
