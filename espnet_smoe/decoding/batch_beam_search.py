"""Beam search over several utterances at once, each under its own forced prefix.

ESPnet's ``BatchBeamSearch`` vectorises the hypotheses of *one* utterance. Decoding a test set
one utterance at a time leaves the matrix products small; this search stacks B utterances x K
beam slots into one batch of B·K decoder rows, so every step is one decoder call (and one CTC
prefix-scoring call) for all of them. Each row carries its own prefix ``<sos> <lang> <task>``,
so the S-MoE decoder routes every hypothesis by its own guiding token: utterances of different
tasks can share a batch.

The search is ESPnet's, step for step: the same weighted scores (decoder, CTC prefix score on a
pre-beam of ``int(1.5 * beam)`` candidates, length bonus), the top-K expansions per utterance,
hypotheses ending in ``<eos>`` moved to the finished list (from ``minlen`` on), ``<eos>`` forced
at ``maxlen`` (bounded by the encoder frames as in :mod:`espnet_smoe.decoding.beam_search`), ESPnet's end
detection when ``maxlenratio`` is 0, and the same final ranking; a finished slot stays in the
batch as a dead row (score -inf) until its utterance ends. So each utterance gets the hypotheses
the per-utterance search gives it alone, up to float rounding.
"""

from typing import List, Optional, Sequence

import torch
from espnet.nets.beam_search import Hypothesis
from espnet.nets.ctc_prefix_score import CTCPrefixScoreTH
from espnet.nets.e2e_asr_common import end_detect
from espnet.nets.pytorch_backend.nets_utils import make_pad_mask
from espnet.nets.pytorch_backend.transformer.mask import subsequent_mask

from espnet_smoe.decoding.beam_search import frame_bound

NEG_INF = float("-inf")


class BatchedBeamSearch:
    """Joint attention/CTC beam search for a batch of utterances.

    Args:
        decoder: An ESPnet Transformer decoder (``forward_one_step`` with a memory mask and an
            incremental cache); the S-MoE decoder routes each row by its prefix.
        ctc: The model's CTC module, needed when ``ctc_weight`` > 0.
        sos, eos: Symbol ids.
        vocab_size: Output vocabulary size.
        beam_size: Hypotheses kept per utterance.
        ctc_weight: Weight of the CTC prefix score (the decoder gets 1 - ctc_weight).
        penalty: Length bonus per token.
        normalize_length: Rank finished hypotheses by score per token.
        pre_beam_ratio: CTC scores ``int(pre_beam_ratio * beam_size)`` candidates per row.
    """

    def __init__(
        self,
        decoder: torch.nn.Module,
        ctc: Optional[torch.nn.Module],
        sos: int,
        eos: int,
        vocab_size: int,
        beam_size: int,
        ctc_weight: float = 0.0,
        penalty: float = 0.0,
        normalize_length: bool = False,
        pre_beam_ratio: float = 1.5,
    ):
        if ctc_weight > 0 and ctc is None:
            raise ValueError("ctc_weight > 0 needs the model's CTC module")
        if ctc_weight >= 1.0:
            raise ValueError("batched search needs the decoder: ctc_weight must be < 1")
        self.decoder, self.ctc = decoder, ctc
        self.sos, self.eos, self.vocab_size = sos, eos, vocab_size
        self.beam, self.ctc_weight, self.penalty = beam_size, ctc_weight, penalty
        self.normalize_length = normalize_length
        self.pre_beam = int(pre_beam_ratio * beam_size)

    @torch.no_grad()
    def __call__(
        self,
        enc: torch.Tensor,
        enc_lens: torch.Tensor,
        prefixes: Sequence[Sequence[int]],
        maxlenratio: float = 0.0,
        minlenratio: float = 0.0,
        ctc_rows: Optional[Sequence[bool]] = None,
    ) -> List[List[Hypothesis]]:
        """Decode enc (B, T, D) with lengths (B,) under one forced prefix per utterance.

        ``ctc_rows`` says which utterances CTC scores (default: all, when ``ctc_weight`` > 0);
        the others are searched by the decoder alone, as ESPnet does without a CTC scorer.
        Returns, per utterance, its finished hypotheses, best first (ESPnet's ``Hypothesis``).
        """
        B, K, V = enc.size(0), self.beam, self.vocab_size
        if len(prefixes) != B or len({len(p) for p in prefixes}) != 1:
            raise ValueError("one prefix per utterance, all of the same length, is required")
        device = enc.device
        lens = enc_lens.tolist()
        use_ctc = [self.ctc_weight > 0 and bool(r) for r in ([True] * B if ctc_rows is None else ctc_rows)]
        maxlen = [min(_maxlen(maxlenratio, t), frame_bound(t, len(prefixes[0]))) for t in lens]
        minlen = [min(_minlen(minlenratio, t), m - 1) for t, m in zip(lens, maxlen)]

        # rows r = b * K + k; at the start only slot 0 of each utterance is alive
        yseq = torch.tensor(prefixes, device=device).repeat_interleave(K, 0)  # (R, L)
        score = torch.full((B * K,), NEG_INF, device=device)
        score[::K] = 0.0
        parts = {k: torch.zeros(B * K, device=device) for k in ("decoder", "ctc", "length_bonus")}
        memory = enc.repeat_interleave(K, 0)  # (R, T, D)
        memory_mask = (~make_pad_mask(enc_lens.repeat_interleave(K), maxlen=enc.size(1)))[:, None, :].to(device)
        cache = None
        ctc_scorer, ctc_state = None, None
        if any(use_ctc):
            logp = self.ctc.log_softmax(enc).clone()  # CTCPrefixScoreTH pads in place
            ctc_scorer = CTCPrefixScoreTH(logp, enc_lens, 0, self.eos)
            # (R, 1) weights: rows without CTC give the decoder full weight
            ctc_w = torch.tensor(use_ctc, device=device).repeat_interleave(K)[:, None] * self.ctc_weight
        else:
            ctc_w = torch.zeros(B * K, 1, device=device)
        ended: List[List[Hypothesis]] = [[] for _ in range(B)]
        done = [False] * B

        for i in range(max(maxlen)):
            # 1. scores of every next token for every row: (R, V)
            step_mask = subsequent_mask(yseq.size(1), device=device).unsqueeze(0)
            dec, cache = self.decoder.forward_one_step(yseq, step_mask, memory, memory_mask, cache=cache)
            weighted = (1.0 - ctc_w) * dec + self.penalty
            if ctc_scorer is not None:
                # ESPnet pre-selects candidates only when that leaves some out
                pre_ids = torch.topk(weighted, self.pre_beam, dim=-1)[1] if self.pre_beam < V else None
                ctc, ctc_full = ctc_scorer(list(yseq), ctc_state, pre_ids)
                weighted = weighted + ctc_w * ctc
            weighted = weighted + score[:, None]
            # 2. the top-K expansions of each utterance over its K rows
            top = weighted.view(B, K * V).topk(K, dim=-1)  # values/indices: (B, K)
            src = (top.indices // V + torch.arange(B, device=device)[:, None] * K).view(-1)
            token = (top.indices % V).view(-1)
            score = top.values.view(-1)
            parts["decoder"] = parts["decoder"][src] + dec[src, token]
            parts["length_bonus"] = parts["length_bonus"][src] + 1.0
            if ctc_scorer is not None:
                parts["ctc"] = parts["ctc"][src] + ctc[src, token]
                r, log_psi, f_min, f_max, idmap = ctc_full
                column = token if idmap is None else idmap[src, token].clamp(min=0)
                ctc_state = (r[:, :, src, column], log_psi[src, token][:, None].expand(-1, V), f_min, f_max)
            yseq = torch.cat([yseq[src], token[:, None]], dim=1)
            cache = [layer[src] for layer in cache]
            # 3. ESPnet's post-processing, per utterance
            alive = score > NEG_INF
            is_eos = token == self.eos
            for b in range(B):
                if done[b]:
                    alive[b * K : (b + 1) * K] = False
                    continue
                last = i == maxlen[b] - 1
                for r_ in range(b * K, (b + 1) * K):
                    if not alive[r_]:
                        continue
                    if is_eos[r_] or last:
                        if i >= minlen[b]:
                            ended[b].append(self._hypothesis(yseq[r_], score[r_], parts, r_, last, use_ctc[b]))
                        alive[r_] = False
                if last or not alive[b * K : (b + 1) * K].any() or (
                    maxlenratio == 0.0 and end_detect([_as_dict(h) for h in ended[b]], i)
                ):
                    done[b] = True
                    alive[b * K : (b + 1) * K] = False
            score = torch.where(alive, score, torch.full_like(score, NEG_INF))
            if all(done):
                break
        key = (lambda h: h.score / len(h.yseq)) if self.normalize_length else (lambda h: h.score)
        return [sorted(hyps, key=key, reverse=True) for hyps in ended]

    def _hypothesis(self, yseq, score, parts, row, add_eos: bool, with_ctc: bool) -> Hypothesis:
        """A finished hypothesis; at ``maxlen`` ESPnet appends ``<eos>`` to every running
        hypothesis (even one that just produced it) without scoring it."""
        if add_eos:
            yseq = torch.cat([yseq, yseq.new_tensor([self.eos])])
        scores = {k: float(v[row]) for k, v in parts.items() if k != "ctc" or with_ctc}
        return Hypothesis(yseq=yseq.clone(), score=float(score), scores=scores, states={})


def _maxlen(ratio: float, frames: int) -> int:
    """ESPnet's maximum output length: 0 = the encoder length, < 0 = absolute."""
    if ratio == 0:
        return frames
    return int(-ratio) if ratio < 0 else max(1, int(ratio * frames))


def _minlen(ratio: float, frames: int) -> int:
    """ESPnet's minimum output length: < 0 = absolute."""
    return int(-ratio) if ratio < 0 else int(ratio * frames)


def _as_dict(hyp: Hypothesis) -> dict:
    return {"yseq": hyp.yseq, "score": hyp.score}
