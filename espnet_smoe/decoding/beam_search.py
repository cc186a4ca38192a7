"""ESPnet's beam search for one utterance, with hypotheses bounded by the encoder frames.

ESPnet's CTC prefix scorer (``CTCPrefixScoreTH``) reads frame ``len(yseq) - 1`` of the encoder
output, counting the forced ``<lang> <task>`` of the prefix, and raises ``IndexError`` once a
hypothesis has more tokens than the encoder has frames. OWSM's 30 s padding keeps that out of
sight; speech at its own length meets it whenever a hypothesis babbles on a short utterance.
Both of this project's searches therefore end every hypothesis at :func:`frame_bound` tokens
(forcing ``<eos>``, as ESPnet does at its own ``maxlen``), with CTC or without, so the bound
never depends on the scorers.
"""

from typing import List

import torch
from espnet.nets.batch_beam_search import BatchBeamSearch
from espnet.nets.beam_search import BeamSearch, Hypothesis
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError


def frame_bound(frames: int, prefix_length: int) -> int:
    """The most tokens a search may add after a forced prefix (``<sos>`` first): ESPnet's CTC
    scorer extends a hypothesis of L tokens only while L - 1 <= ``frames`` (it counts the
    prefix after ``<sos>`` as labels), so at most ``frames - prefix_length + 2`` are added
    (``frames - 1`` after ``<sos> <lang> <task>``). Raises ESPnet's ``TooShortUttError`` when
    not even one token fits."""
    bound = frames - prefix_length + 2
    if bound < 1:
        raise TooShortUttError(
            f"the encoder output has {frames} frames: too few for a prefix of "
            f"{prefix_length} tokens and one more", frames, prefix_length
        )
    return bound


class _FrameBounded:
    """Mixin for ESPnet's searches: stop at :func:`frame_bound` (and let a hypothesis end
    there even when ``minlenratio`` asks for more)."""

    def forward(self, x: torch.Tensor, *args, **kwargs) -> List[Hypothesis]:
        self._bound = frame_bound(x.size(0), len(self.hyp_primer or [self.sos]))
        return super().forward(x, *args, **kwargs)

    def post_process(self, i, maxlen, minlen, maxlenratio, running_hyps, ended_hyps):
        maxlen = min(maxlen, self._bound)
        return super().post_process(
            i, maxlen, min(minlen, maxlen - 1), maxlenratio, running_hyps, ended_hyps
        )


class FrameBoundedBeamSearch(_FrameBounded, BeamSearch):
    """ESPnet's ``BeamSearch``, bounded by the encoder frames."""


class FrameBoundedBatchBeamSearch(_FrameBounded, BatchBeamSearch):
    """ESPnet's ``BatchBeamSearch`` (one utterance's hypotheses vectorised), bounded by the
    encoder frames."""
