"""Batch-invariant encoding: a padded utterance sees exactly its own frames.

Two things in ESPnet make an utterance's encoding depend on its batch neighbours once speech
keeps its own length (OWSM hides both behind its 30 s padding):

* the STFT frontend centres its frames by reflecting the signal at both ends; in a padded batch
  a shorter utterance's end reflects the batch's zeros instead, so its last frames change;
* the convolutional subsampling derives its output mask by slicing the padded input mask
  (``x_mask[:, :, :-2:2]``), which keeps one or two frames more for a padded utterance than
  the convolution gives it alone (lengths 40/31/26 -> 9/8/7 in a batch, 9/7/5 alone).

:func:`per_utterance_feats` runs the frontend on each utterance alone, and
:func:`own_length_subsampling` makes an encoder's subsampling mask come from each utterance's
own length, by convolution arithmetic. Together they make an utterance's encoder output the
same alone and in any batch (up to float rounding), which makes decoding results independent of
batch composition and of the recipe's ``--nj``. (ESPnet's Conformer convolution module is not
masked, so a Conformer encoder still lets padding reach the last frames.)
"""

import functools
from typing import Callable, Tuple

import torch
from espnet.nets.pytorch_backend.nets_utils import pad_list

Feats = Tuple[torch.Tensor, torch.Tensor]


def per_utterance_feats(
    frontend: Callable[[torch.Tensor, torch.Tensor], Feats],
    speech: torch.Tensor,
    lengths: torch.Tensor,
) -> Feats:
    """``frontend`` applied to each utterance of (B, T) ``speech`` at its own length, padded
    back into a batch; a batch without padding goes through in one call."""
    if bool((lengths == speech.size(1)).all()):
        return frontend(speech, lengths)
    feats, feat_lengths = zip(*(frontend(speech[b : b + 1, :n], lengths[b : b + 1])
                                for b, n in enumerate(lengths.tolist())))
    return pad_list([f[0] for f in feats], 0.0), torch.cat(feat_lengths)


def conv_lengths(conv: torch.nn.Module, lengths: torch.Tensor) -> torch.Tensor:
    """Output lengths along time of the (unpadded) convolutions in ``conv``."""
    for layer in conv.modules():
        if isinstance(layer, (torch.nn.Conv1d, torch.nn.Conv2d)):
            kernel, stride = layer.kernel_size[0], layer.stride[0]
            lengths = (lengths + 2 * layer.padding[0] - layer.dilation[0] * (kernel - 1) - 1) // stride + 1
    return lengths


class _OwnLengthMask:
    """Mixin for ESPnet's convolutional subsampling classes: the output mask says each
    utterance's own output length (what the convolution gives it alone)."""

    def forward(self, x, x_mask, *args, **kwargs):
        x, mask = super().forward(x, x_mask, *args, **kwargs)
        if x_mask is None or args or kwargs:  # prefix embeddings change the layout: as ESPnet
            return x, mask
        own = conv_lengths(self.conv, x_mask.sum(-1))  # (B, 1)
        return x, torch.arange(mask.size(-1), device=mask.device) < own[..., None]


@functools.lru_cache(maxsize=None)
def _own_length_class(cls: type) -> type:
    return type(f"OwnLength{cls.__name__}", (_OwnLengthMask, cls), {"__module__": __name__})


def own_length_subsampling(encoder: torch.nn.Module) -> None:
    """Give ``encoder``'s convolutional subsampling (``encoder.embed``, any of ESPnet's
    ``Conv{1,2}dSubsampling*``) masks from each utterance's own length. Parameters and
    checkpoints are unchanged; ESPnet picks its batched beam search the same way (by class)."""
    embed = getattr(encoder, "embed", None)
    conv = getattr(embed, "conv", None)
    if conv is None or not any(isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)) for m in conv.modules()):
        return  # linear or no subsampling: the mask is the input's
    if not isinstance(embed, _OwnLengthMask):
        embed.__class__ = _own_length_class(type(embed))
