"""The contrast to S-MoE: a standard MoE FFN whose experts are picked per token by a learned gate.

The paper compares S-MoE with dense baselines only; a learned gate at the same expert count is
the comparison it leaves open. :class:`LearnedMoEFeedForward` is the usual sparse MoE block
(Switch/Mixtral style): a linear gate scores the experts per token, softmax in fp32, the top-k
experts run on their tokens only and their outputs are weighted by the gate. The gate must be
kept from collapsing onto one expert by an auxiliary load-balancing loss, which needs the
padding mask the FFN never sees; so the layers only record their gate logits in their stack's
:class:`GateRecord`, the stack (which knows its lengths) turns them into
:func:`load_balancing_loss`, and the model adds it to the training loss.
"""

from contextlib import contextmanager
from typing import Iterator, List, Optional

import torch

from espnet_smoe.nets.experts import Experts


class GateRecord:
    """Gate logits of the learned-MoE FFNs of one stack, and what the stack derived from them."""

    def __init__(self, num_experts: int, top_k: int):
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k must lie in [1, num_experts={num_experts}], got {top_k}")
        self.num_experts, self.top_k = num_experts, top_k
        self.logits: Optional[List[torch.Tensor]] = None  # one (B, T, N) per layer, when recording
        self.aux_loss: Optional[torch.Tensor] = None  # of the last recorded forward
        self.token_shares: Optional[torch.Tensor] = None  # (N,) top-1 shares of valid tokens
        self.last_logits: Optional[List[torch.Tensor]] = None  # detached, for usage analysis
        self.last_mask: Optional[torch.Tensor] = None

    def clear(self):
        """Forget the last forward's loss and shares (a forward that skips the stack has none)."""
        self.aux_loss = self.token_shares = self.last_logits = self.last_mask = None

    @contextmanager
    def recording(self) -> Iterator[List[torch.Tensor]]:
        """Collect the gate logits of every layer for the span of the ``with`` block."""
        outer, self.logits = self.logits, []
        try:
            yield self.logits
        finally:
            self.logits = outer

    def summarise(self, logits: List[torch.Tensor], mask: torch.Tensor):
        """Store the balancing loss and top-1 token shares of ``logits`` over ``mask`` (B, T).

        A stack without learned-MoE layers records no logits, and so no loss and no shares.
        """
        if not logits:
            self.clear()
            return
        self.aux_loss = load_balancing_loss(logits, mask, self.top_k)
        self.last_logits, self.last_mask = [layer.detach() for layer in logits], mask
        with torch.no_grad():
            counts = sum(expert_counts(layer, mask) for layer in logits)
            self.token_shares = counts / counts.sum().clamp(min=1)


def expert_counts(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Valid tokens (``mask`` (B, T) True) whose top-1 expert is e, for each e: (N,)."""
    top1 = logits.argmax(-1)[mask]
    return torch.bincount(top1, minlength=logits.size(-1)).to(logits.dtype)


def load_balancing_loss(logits: List[torch.Tensor], mask: torch.Tensor, top_k: int) -> torch.Tensor:
    """Switch Transformer's auxiliary loss ``N * sum_e f_e * P_e``, averaged over layers.

    ``f_e`` is the fraction of the valid tokens' top-k assignments that went to expert e,
    ``P_e`` the mean gate probability of e over the valid tokens; both ignore padding. The loss
    is 1 when the experts share the load evenly and grows to N as the gate collapses onto one.

    Args:
        logits: Per layer, gate logits (B, T, N).
        mask: (B, T), True on valid (non-padding) positions.
        top_k: Experts each token is dispatched to.
    """
    losses = []
    for layer in logits:
        num_experts = layer.size(-1)
        probs = layer[mask].float().softmax(-1)  # (tokens, N)
        chosen = probs.topk(top_k, -1).indices  # (tokens, k)
        dispatched = torch.zeros_like(probs).scatter_(1, chosen, 1.0).mean(0) / top_k  # f: (N,)
        losses.append(num_experts * (dispatched * probs.mean(0)).sum())
    return torch.stack(losses).mean()


class LearnedMoEFeedForward(Experts):
    """N position-wise FFN experts behind a learned per-token gate.

    Args:
        idim, hidden_units, dropout_rate, activation: Each expert's, as :class:`Experts`.
        record: The gate record of the owning encoder or decoder (N and top-k).
    """

    def __init__(
        self,
        idim: int,
        hidden_units: int,
        dropout_rate: float,
        record: GateRecord,
        activation: torch.nn.Module = torch.nn.ReLU(),
    ):
        super().__init__(record.num_experts, idim, hidden_units, dropout_rate, activation)
        self.record = record
        self.top_k = record.top_k
        self.gate = torch.nn.Linear(idim, record.num_experts, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D) -> (B, T, D); each token through its top-k experts, gate-weighted."""
        flat = x.reshape(-1, x.size(-1))  # (B·T, D)
        logits = self.gate(flat)  # (B·T, N)
        if self.record.logits is not None:
            self.record.logits.append(logits.view(*x.shape[:-1], -1))
        weights, chosen = logits.float().softmax(-1).topk(self.top_k, -1)  # (B·T, k) each
        if self.top_k > 1:
            weights = weights / weights.sum(-1, keepdim=True)
        weights = weights.to(x.dtype)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            rows, slot = torch.where(chosen == e)  # tokens routed to e, and in which of k slots
            if rows.numel():
                out.index_add_(0, rows, expert(flat[rows]) * weights[rows, slot, None])
        return out.view(x.shape)

    def inactive_parameters(self, expert: Optional[int] = None) -> int:
        """Parameters one token leaves unused at least: the N - k smallest experts, as its top-k
        may be the largest (``expert`` is ignored: the gate, not a route, picks)."""
        return sum(sorted(self.expert_sizes())[: len(self.experts) - self.top_k])
