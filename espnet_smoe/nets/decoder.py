"""Transformer decoder whose FFNs are S-MoE, routed by the guiding token of the decoder prefix
(or, for comparison, mixtures behind a learned per-token gate: ``router: learned``).

An S2T decoder input reads ``[<sop> prev...] <sos> <lang> <task> text...``. The token
``route_offset`` places after ``<sos>`` (the task token by default) picks the expert through
``route_tokens`` (e.g. ``<asr>`` -> 0, ``<st_eng>`` -> 1). Teacher-forced training, one-step
decoding and beam search all carry that prefix, so the route always comes from the tokens
themselves: in beam search from the forced prefix, per hypothesis. The decoder builds its route
(:meth:`MoETransformerDecoder.route_of`) and binds it for its FFNs around ESPnet's forward (see
:mod:`espnet_smoe.nets.route`); the routing ablation is a view of it that permutes the experts
(:meth:`MoETransformerDecoder.permuted`).
"""

import copy
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from espnet.nets.pytorch_backend.nets_utils import make_pad_mask
from typeguard import typechecked

from espnet_smoe._imports import quiet_import
from espnet_smoe.nets.route import Route, checked_permutation, reorder, unsort
from espnet_smoe.nets.smoe_layer import moe_ffns
from espnet_smoe.text.multitask import GUIDING_OFFSET, route_map

with quiet_import():  # ESPnet's attention module prints a notice when first imported
    from espnet2.asr.decoder.transformer_decoder import TransformerDecoder


def read_token_list(token_list: Union[str, Path, List[str]]) -> List[str]:
    """A token list given as ESPnet does: a list, or a file with one token per line."""
    if isinstance(token_list, (str, Path)):
        with open(token_list, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]
    return list(token_list)


ROUTE_WINDOW = 16  # prefix columns read to find the guiding token (the whole row if needed)


class MoETransformerDecoder(TransformerDecoder):
    """ESPnet's ``TransformerDecoder`` with S-MoE FFNs routed by a token of the prefix.

    With ``router: learned`` the FFNs are instead top-``top_k`` mixtures behind a learned gate
    (no route, no guiding-token map); the decoder then reports the gate's balancing loss.

    Args:
        vocab_size: Output vocabulary size.
        encoder_output_size: Attention dimension.
        token_list: The model's token list (the S-MoE task passes it in).
        route_tokens: Guiding-token symbol -> expert id, or a scheme of
            :func:`espnet_smoe.text.multitask.route_map` over the token list (``per_task``, the
            default: one expert per task; ``per_kind``: transcribe / translate).
        route_offset: Position of the guiding token counted from ``<sos>`` (2: after the
            language token).
        default_expert: Expert for guiding tokens missing from ``route_tokens``; when None such
            a token is an error.
        num_experts: Experts per S-MoE FFN; by default as many as the routes use.
        smoe_layers: 0-based indices of the blocks whose FFN is S-MoE; all when omitted.
        router: ``supervised`` (S-MoE) or ``learned`` (per-token gate).
        top_k: Experts per token of the learned gate.
        sos_symbol: The start-of-sequence symbol the offset is counted from.
        shared_units: Hidden units of each S-MoE FFN that every route shares (0: none).
        **kwargs: Every other ``TransformerDecoder`` argument, unchanged.
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        token_list: Union[str, Path, List[str], None] = None,
        route_tokens: Union[Dict[str, int], str] = "per_task",
        route_offset: int = GUIDING_OFFSET,
        default_expert: Optional[int] = None,
        num_experts: Optional[int] = None,
        smoe_layers: Optional[List[int]] = None,
        router: str = "supervised",
        top_k: int = 1,
        sos_symbol: str = "<sos>",
        shared_units: int = 0,
        **kwargs,
    ):
        if kwargs.get("gradient_checkpoint_layers"):
            raise ValueError("gradient checkpointing would recompute S-MoE FFNs unrouted")
        super().__init__(vocab_size, encoder_output_size, **kwargs)
        if token_list is None:
            raise ValueError("MoETransformerDecoder needs the token_list to map route_tokens")
        tokens = read_token_list(token_list)
        if len(tokens) != vocab_size:
            raise ValueError(f"token_list has {len(tokens)} tokens, vocab_size is {vocab_size}")
        self.token_list = tokens
        if sos_symbol not in tokens:
            raise ValueError(f"route symbols ['{sos_symbol}'] are not in the token list")
        self.sos = tokens.index(sos_symbol)
        self.route_offset = route_offset
        if isinstance(route_tokens, str):
            route_tokens = route_map(route_tokens, tokens)
        if num_experts is None:
            num_experts = max(route_tokens.values()) + 1
        self.num_experts, self.default_expert = num_experts, default_expert
        self.routed = router == "supervised"
        self.route_permutation: Optional[Tuple[int, ...]] = None  # see permuted()
        self._set_route_tokens(route_tokens)
        self.gates, self.smoe_layers = moe_ffns(
            self.decoders, ["feed_forward"], num_experts, smoe_layers, router, top_k, "decoder",
            shared_units,
        )

    def _set_route_tokens(self, route_tokens: Dict[str, int]):
        """Map guiding tokens to experts."""
        for sym, expert in [*route_tokens.items(), ("default_expert", self.default_expert)]:
            if expert is not None and not 0 <= expert < self.num_experts:
                raise ValueError(f"{sym} -> expert {expert}: out of range for {self.num_experts}")
        missing = [s for s in route_tokens if s not in self.token_list]
        if missing:
            raise ValueError(f"route symbols {missing} are not in the token list")
        self.route_tokens = dict(route_tokens)
        self._expert_of = {self.token_list.index(sym): e for sym, e in route_tokens.items()}

    def expert_of(self, symbol: str) -> int:
        """The expert a guiding token (``<asr>``, ``<st_eng>``) routes to."""
        expert = self.route_tokens.get(symbol, self.default_expert)
        if expert is None or symbol not in self.token_list:
            raise ValueError(
                f"guiding token '{symbol}' has no expert; route_tokens are {self.route_tokens}"
                + ("" if symbol in self.token_list else " (it is not in the token list)")
            )
        return expert

    def route_of(self, ys: torch.Tensor) -> Route:
        """The route of decoder input rows ys (B, L), read from their guiding tokens (through
        :attr:`route_permutation`, in a view made by :meth:`permuted`)."""
        return Route.of("decoder", self._route(ys), self.num_experts, ys.device,
                        self.route_permutation)

    def permuted(self, permutation: Sequence[int]) -> "MoETransformerDecoder":
        """The routing ablation: a view of this decoder, sharing its parameters and submodules,
        whose routes send expert ``e`` to ``permutation[e]``. ESPnet's beam searches call a
        decoder step by step, so the ablation is carried by the decoder they are given; this
        one is left as it is."""
        view = copy.copy(self)  # a new attribute dict; parameters and submodules are shared
        view.route_permutation = checked_permutation("decoder", permutation, self.num_experts)
        return view

    def _route(self, ys: torch.Tensor) -> List[int]:
        """The expert ids, read on the host: one small device-to-host copy of the prefix per
        forward instead of a chain of device ops per step, and no copy back."""
        head = ys[:, :ROUTE_WINDOW].tolist()
        ids = []
        for b, row in enumerate(head):
            if self._guiding_position(row) is None and ys.size(1) > len(row):
                row = ys[b].tolist()  # a long <sop> context pushed the prefix out of the window
            pos = self._guiding_position(row)
            if pos is None:
                raise ValueError(
                    f"decoder prefix {row} has no guiding token at <sos>+{self.route_offset}"
                )
            expert = self._expert_of.get(row[pos], self.default_expert)
            if expert is None:
                raise ValueError(
                    f"guiding token '{self.token_list[row[pos]]}' has no expert; "
                    f"route_tokens are {self.route_tokens} (or set default_expert)"
                )
            ids.append(expert)
        return ids

    def _guiding_position(self, row: List[int]) -> Optional[int]:
        """Index of the guiding token (first <sos> + route_offset) in ``row``, if there."""
        if self.sos not in row:
            return None
        pos = row.index(self.sos) + self.route_offset
        return pos if pos < len(row) else None

    def forward(self, hs_pad, hlens, ys_in_pad, ys_in_lens, return_hs=False, return_all_hs=False):
        args = (hs_pad, hlens, ys_in_pad, ys_in_lens, return_hs, return_all_hs)
        if self.gates is not None:
            with self.gates.recording() as logits:
                out = super().forward(*args)
            valid = ~make_pad_mask(ys_in_lens, maxlen=ys_in_pad.size(1)).to(ys_in_pad.device)
            self.gates.summarise(logits, valid)
            return out
        route, order = self.route_of(ys_in_pad).sort()
        with route.active():
            if order is None:
                return super().forward(*args)
            out = super().forward(*(reorder(a, order) for a in args[:4]), return_hs, return_all_hs)
        return unsort(out, order)

    def forward_one_step(
        self, tgt, tgt_mask, memory, memory_mask=None, *, cache=None, return_hs=False
    ):
        """One decoding step; ``score`` and ``batch_score`` (beam search) go through here."""
        if self.gates is not None:
            return super().forward_one_step(
                tgt, tgt_mask, memory, memory_mask, cache=cache, return_hs=return_hs
            )
        with self.route_of(tgt).active():  # few rows a step: gathered per expert, not sorted
            return super().forward_one_step(
                tgt, tgt_mask, memory, memory_mask, cache=cache, return_hs=return_hs
            )
