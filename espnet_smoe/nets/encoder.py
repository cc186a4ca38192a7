"""Encoders whose FFNs are mixtures of experts: S-MoE routed per utterance (by bandwidth in this
project), or, for comparison, a learned per-token gate.

They are ESPnet's own Transformer and Conformer encoders with the dense FFN of the chosen layers
swapped for :class:`~espnet_smoe.nets.smoe_layer.SMoEFeedForward` (``router: supervised``, S-MoE) or
:class:`~espnet_smoe.nets.learned_moe.LearnedMoEFeedForward` (``router: learned``); attention,
subsampling and normalisation stay shared and untouched.

ESPnet's model calls ``self.encoder(feats, lens)``, so an S-MoE encoder reads its route from the
context its caller binds (see :mod:`espnet_smoe.nets.route`): the S-MoE model does so from the
bandwidth (``SMoES2TModel.encode(speech, lengths, bandwidth)``); an encoder used alone is called
as::

    route = Route.of("encoder", bandwidth_ids, encoder.num_experts)   # e.g. 0 = WB, 1 = NB
    with route.active():
        ys, olens, _ = encoder(xs, ilens)

A learned gate needs no route; the encoder turns its gate logits into the load-balancing loss
over the valid frames.
"""

from typing import List, Optional

from espnet.nets.pytorch_backend.nets_utils import make_pad_mask
from typeguard import typechecked

from espnet_smoe._imports import quiet_import
from espnet_smoe.audio.bandwidth import route_labels as _route_labels
from espnet_smoe.nets.route import active_route, reorder, unsort
from espnet_smoe.nets.smoe_layer import moe_ffns

with quiet_import():  # ESPnet's attention module prints a notice when first imported
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.encoder.transformer_encoder import TransformerEncoder


class _MoEEncoder:
    """What both MoE encoders add to their ESPnet base class."""

    FFN_ATTRS: List[str] = []

    @typechecked
    def __init__(
        self,
        input_size: int,
        num_experts: Optional[int] = None,
        smoe_layers: Optional[List[int]] = None,
        router: str = "supervised",
        top_k: int = 1,
        route_labels: Optional[List[str]] = None,
        shared_units: int = 0,
        **kwargs,
    ):
        super().__init__(input_size, **kwargs)
        self.route_labels = _route_labels(route_labels)
        if num_experts is None:
            num_experts = len(self.route_labels)
        if route_labels is not None and router == "supervised" and num_experts != len(route_labels):
            raise ValueError(f"route_labels {list(route_labels)} name {len(route_labels)} classes, "
                             f"one per expert, but num_experts is {num_experts}")
        self.num_experts, self.routed = num_experts, router == "supervised"
        self.gates, self.smoe_layers = moe_ffns(
            self.encoders, self.FFN_ATTRS, num_experts, smoe_layers, router, top_k, "encoder",
            shared_units,
        )

    def forward(self, xs_pad, ilens, *args, **kwargs):
        """The base encoder's forward, on the batch put in route order when routes are mixed;
        with a learned gate, also its balancing loss."""
        if self.gates is None:
            route = active_route("encoder")
            if route is None:  # the FFNs say what is missing
                return super().forward(xs_pad, ilens, *args, **kwargs)
            route, order = route.sort()
            with route.active():
                if order is None:
                    return super().forward(xs_pad, ilens, *args, **kwargs)
                if kwargs.get("masks") is not None:
                    kwargs["masks"] = reorder(kwargs["masks"], order)
                out = super().forward(reorder(xs_pad, order), reorder(ilens, order), *args, **kwargs)
            return unsort(out, order)
        with self.gates.recording() as logits:
            out = super().forward(xs_pad, ilens, *args, **kwargs)
        if logits:  # out: (xs, olens, states)
            valid = ~make_pad_mask(out[1], maxlen=logits[0].size(1)).to(logits[0].device)
            self.gates.summarise(logits, valid)
        return out


class MoETransformerEncoder(_MoEEncoder, TransformerEncoder):
    """ESPnet's ``TransformerEncoder`` with MoE FFNs.

    Args:
        input_size: Input feature dimension.
        num_experts: Experts per MoE FFN (S-MoE: one per route label; 2 by default).
        smoe_layers: 0-based indices of the blocks whose FFN is MoE; all when omitted.
        router: ``supervised`` (S-MoE, one expert per utterance) or ``learned`` (per-token gate).
        top_k: Experts per token of the learned gate.
        route_labels: The ``utt2bw`` classes, position = expert id (default ``[wb, nb]``).
        shared_units: Hidden units of each S-MoE FFN that every route shares (0: none); the
            experts hold the other ``linear_units - shared_units``.
        **kwargs: Every other ``TransformerEncoder`` argument, unchanged.
    """

    FFN_ATTRS = ["feed_forward"]


class MoEConformerEncoder(_MoEEncoder, ConformerEncoder):
    """ESPnet's ``ConformerEncoder`` with MoE FFNs (both halves of the macaron pair).

    Args: as :class:`MoETransformerEncoder`, with ``ConformerEncoder``'s for ``**kwargs``.
    """

    FFN_ATTRS = ["feed_forward", "feed_forward_macaron"]
