"""The S-MoE speech-to-text model: ESPnet's S2T model plus an utterance-level bandwidth input.

The data loader delivers ``bandwidth`` (B, 1): the expert id of each utterance's ``utt2bw``
label (see :mod:`espnet_smoe.audio.bandwidth`). The model makes it the encoder's
:class:`~espnet_smoe.nets.route.Route`, both in training (``forward(..., bandwidth=...)``) and
for a caller that encodes (``encode(speech, lengths, bandwidth)``); the decoder builds its route
from its prefix. Everything else (CTC, attention loss, label smoothing, statistics) is ESPnet's.
Stacks with a learned gate instead (``router: learned``, the comparison) contribute their
load-balancing loss, weighted by ``moe_aux_weight``.
"""

from contextlib import nullcontext
from typing import ContextManager, Dict, Optional, Sequence, Tuple

import torch
from espnet2.s2t.espnet_model import ESPnetS2TModel
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_smoe.audio.bandwidth import BANDWIDTHS, bandwidth_id
from espnet_smoe.nets.padding import own_length_subsampling, per_utterance_feats
from espnet_smoe.nets.route import Route, active_route, is_routed


class SMoES2TModel(ESPnetS2TModel):
    """``ESPnetS2TModel`` whose encoder is routed by each utterance's bandwidth.

    Training statistics gain, per S-MoE stack, the share of the batch's utterances each expert
    received (``enc_wb``, ``enc_nb``, ``dec_e0``, ...). ESPnet averages statistics weighted by
    batch size, so the epoch figure is the share over the whole epoch; times the number of
    utterances it is the count. Learned gates report their top-1 token shares (``enc_g0``, ...)
    and the balancing loss (``moe_aux``).

    An utterance is encoded the same alone and in any padded batch (see
    :mod:`espnet_smoe.nets.padding`), so decoding results do not depend on batch composition.

    Args:
        moe_aux_weight: Weight of the learned gates' load-balancing loss (unused by S-MoE).
        *args, **kwargs: ``ESPnetS2TModel``'s.
    """

    def __init__(self, *args, moe_aux_weight: float = 0.01, **kwargs):
        super().__init__(*args, **kwargs)
        self.moe_aux_weight = moe_aux_weight
        own_length_subsampling(self.encoder)

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        text_prev: torch.Tensor,
        text_prev_lengths: torch.Tensor,
        text_ctc: torch.Tensor,
        text_ctc_lengths: torch.Tensor,
        bandwidth: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """ESPnetS2TModel.forward, with ``bandwidth`` (B, 1) routing the encoder."""
        kwargs.pop("bandwidth_lengths", None)
        for stack in self._gated_stacks():
            stack.gates.clear()
        enc_route = self.encoder_route(bandwidth, speech.size(0))
        with _bound(enc_route):  # ESPnet's forward calls self.encode(speech, lengths): bound here
            loss, stats, weight = super().forward(
                speech,
                speech_lengths,
                text,
                text_lengths,
                text_prev,
                text_prev_lengths,
                text_ctc,
                text_ctc_lengths,
                **kwargs,
            )
        dec_route = self._decoder_route(text)
        stats.update(self._route_shares(enc_route, dec_route, loss.device))
        aux = [s.gates.aux_loss for s in self._gated_stacks() if s.gates.aux_loss is not None]
        if aux:
            aux = torch.stack(aux).sum()
            loss = loss + self.moe_aux_weight * aux
            stats.update(moe_aux=aux.detach(), loss=loss.detach())
        # As ESPnet's own forward: 1-dim tensors, which DataParallel gathers and the trainer's
        # weighted average (recursive_average, distributed or multi-GPU) requires.
        return force_gatherable((loss, stats, weight), loss.device)

    def encode(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        bandwidth: Optional[torch.Tensor] = None,
        permutation: Optional[Sequence[int]] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """ESPnet's encode (frontend, normalisation, encoder), the encoder routed by
        ``bandwidth`` (B,) or (B, 1) expert ids; ``permutation``: the routing ablation (see
        :mod:`espnet_smoe.nets.route`). ESPnet's ``forward`` calls it with speech alone, under
        the route :meth:`forward` bound."""
        if bandwidth is None and permutation is None and active_route("encoder") is not None:
            return super().encode(speech, speech_lengths)
        with _bound(self.encoder_route(bandwidth, speech.size(0), permutation)):
            return super().encode(speech, speech_lengths)

    def _extract_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """ESPnet's feature extraction, each utterance at its own length."""
        speech = speech[:, : speech_lengths.max()]
        if self.frontend is None:
            return speech, speech_lengths
        return per_utterance_feats(self.frontend, speech, speech_lengths)

    def _gated_stacks(self):
        return [m for m in (self.encoder, self.decoder) if getattr(m, "gates", None) is not None]

    @property
    def bandwidth_labels(self) -> Tuple[str, ...]:
        """The ``utt2bw`` classes, position = encoder expert id (``wb``, ``nb`` by default)."""
        return getattr(self.encoder, "route_labels", BANDWIDTHS)

    def bandwidth_expert(self, label: str) -> int:
        """The encoder expert of a bandwidth label (``wb``, ``nb``, or one of the encoder's
        ``route_labels``); a clear error naming the classes for any other."""
        return bandwidth_id(label, "for this model", self.bandwidth_labels)

    def encoder_route(
        self,
        bandwidth: Optional[torch.Tensor],
        batch_size: int,
        permutation: Optional[Sequence[int]] = None,
    ) -> Optional[Route]:
        """The encoder's route from ``bandwidth`` (B,) or (B, 1) expert ids, each id ``e`` taken
        to ``permutation[e]`` if given; None for an encoder that reads none (dense, or a learned
        gate)."""
        if not is_routed(self.encoder):
            return None
        if bandwidth is None:
            raise ValueError(
                "the S-MoE encoder routes by bandwidth, but none was given: add the data's "
                "utt2bw (`--*_data_path_and_name_and_type <dir>/utt2bw,bandwidth,text`), "
                "pass bandwidth='wb'|'nb' to Speech2Text, or bandwidth ids to model.encode"
            )
        ids = bandwidth.reshape(-1).long()
        if ids.numel() != batch_size:
            raise ValueError(f"bandwidth has {ids.numel()} entries for {batch_size} utterances")
        return Route.of("encoder", ids, self.encoder.num_experts, permutation=permutation)

    def _decoder_route(self, text: torch.Tensor) -> Optional[Route]:
        """The route the decoder took for targets ``text`` (B, L), for the statistics."""
        if not is_routed(self.decoder):
            return None
        return self.decoder.route_of(torch.nn.functional.pad(text, (1, 0), value=self.sos))

    def _route_shares(
        self, enc: Optional[Route], dec: Optional[Route], device: torch.device
    ) -> Dict[str, torch.Tensor]:
        shares = {}
        for stack, route, labels in (("enc", enc, self.bandwidth_labels), ("dec", dec, ())):
            if route is None:
                continue
            total = max(len(route), 1)
            for e, count in enumerate(route.counts):
                name = labels[e] if e < len(labels) else f"e{e}"
                shares[f"{stack}_{name}"] = torch.tensor(count / total, device=device)
        for stack, module in (("enc", self.encoder), ("dec", self.decoder)):
            token_shares = getattr(getattr(module, "gates", None), "token_shares", None)
            for e, share in enumerate([] if token_shares is None else token_shares):
                shares[f"{stack}_g{e}"] = share.to(device)
        return shares


def _bound(route: Optional[Route]) -> ContextManager:
    """``route`` bound for its stack's FFNs in the ``with`` block; nothing for no route."""
    return nullcontext() if route is None else route.active()
