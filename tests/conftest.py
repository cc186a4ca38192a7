"""Shared builders for the unit tests: tiny S-MoE stacks and a token list with S2T specials."""

from contextlib import contextmanager

import pytest
import torch

from espnet_smoe._imports import offline_import

with offline_import():  # tests import espnet2 themselves: g2p_en's first import stays offline
    import espnet2.text.phoneme_tokenizer  # noqa: F401

TOKENS = ["<blank>", "<unk>", "<na>", "<sop>", "<sos>", "<eos>", "<spa>", "<eng>", "<asr>",
          "<st_eng>", *[f"w{i}" for i in range(14)]]
SOS, SPA, ASR, ST, ENG = (TOKENS.index(t) for t in ("<sos>", "<spa>", "<asr>", "<st_eng>", "<eng>"))
DIM = dict(attention_heads=2, linear_units=32, num_blocks=2)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def make_decoder(**kwargs):
    from espnet_smoe.nets.decoder import MoETransformerDecoder

    conf = dict(token_list=TOKENS, **DIM)
    conf.update(kwargs)
    return MoETransformerDecoder(len(TOKENS), 16, **conf).eval()


def prefixed(tasks, length=6):
    """Decoder inputs (B, length): <sos> <spa> <task> then random words, one row per task."""
    rows = [[SOS, SPA, task] + torch.randint(10, len(TOKENS), (length - 3,)).tolist()
            for task in tasks]
    return torch.tensor(rows)


@contextmanager
def routes_taken():
    """Record, per stack, the rows per expert of the route each S-MoE FFN call read:
    ``{"encoder": [(n_0, n_1, ...), ...], "decoder": [...]}`` (the layers keep no record)."""
    from espnet_smoe.nets.route import active_route
    from espnet_smoe.nets.smoe_layer import SMoEFeedForward

    taken = {"encoder": [], "decoder": []}
    forward = SMoEFeedForward.forward

    def spy(self, x):
        route = active_route(self.stack)
        taken[self.stack].append(None if route is None else route.counts)
        return forward(self, x)

    SMoEFeedForward.forward = spy
    try:
        yield taken
    finally:
        SMoEFeedForward.forward = forward
