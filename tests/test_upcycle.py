"""Upcycling: an S-MoE model started from a dense checkpoint by ESPnet's ``--init_param``, the
path of the recipe's ``--init_from``. Its experts all equal the dense FFN, so it computes the
dense model's function whatever the route."""

import re

import pytest
import torch
from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

from conftest import ASR, ST, prefixed
from test_model import build

SMOE = ("--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
DENSE = ("--encoder", "transformer", "--decoder", "transformer")


def upcycled(tmp_path, *dense_args):
    """(dense model, S-MoE model loaded from its checkpoint as s2t_train --init_param does)."""
    torch.manual_seed(0)
    dense, _ = build(tmp_path, *DENSE, *dense_args)
    torch.save(dense.state_dict(), tmp_path / "dense.pth")
    torch.manual_seed(1)  # another init: whatever is not loaded differs
    smoe, _ = build(tmp_path, *SMOE)
    load_pretrained_model(str(tmp_path / "dense.pth"), smoe, ignore_init_mismatch=False)
    return dense.eval(), smoe.eval()


def test_every_expert_is_the_dense_ffn_and_everything_else_is_copied(tmp_path):
    dense, smoe = upcycled(tmp_path)
    want = dense.state_dict()
    got = smoe.state_dict()
    experts = [k for k in got if ".experts." in k]
    assert {k.split(".feed_forward.")[0] for k in experts} == {
        f"{stack}.{i}" for stack in ("encoder.encoders", "decoder.decoders") for i in range(2)}
    for key, value in got.items():
        torch.testing.assert_close(value, want[re.sub(r"experts\.\d+\.", "", key)], rtol=0, atol=0,
                                   msg=key)
    assert {re.sub(r"experts\.\d+\.", "", k) for k in got} == set(want)


@pytest.mark.parametrize("bandwidths,tasks", [([0, 0], [ASR, ASR]), ([1, 1], [ST, ST]),
                                              ([0, 1], [ST, ASR])])
def test_upcycled_model_computes_the_dense_function_under_any_route(tmp_path, bandwidths, tasks):
    dense, smoe = upcycled(tmp_path)
    speech, lens = torch.randn(2, 4000), torch.tensor([4000, 3000])
    with torch.no_grad():
        enc, enc_lens = dense.encode(speech, lens)
        smoe_enc, smoe_lens = smoe.encode(speech, lens, torch.tensor(bandwidths))
        ys, ys_lens = prefixed(tasks), torch.tensor([6, 5])
        logits, _ = dense.decoder(enc, enc_lens, ys, ys_lens)
        smoe_logits, _ = smoe.decoder(smoe_enc, smoe_lens, ys, ys_lens)
    # one route: bit for bit; mixed: each expert's rows are their own matmul, equal up to rounding
    exact = dict(rtol=0, atol=0) if len(set(tasks)) == 1 else {}
    assert torch.equal(smoe_lens, enc_lens)
    torch.testing.assert_close(smoe_enc, enc, **exact)
    torch.testing.assert_close(smoe_logits, logits, **exact)


def test_a_dense_model_of_another_width_is_an_error_not_a_partial_load(tmp_path):
    with pytest.raises(RuntimeError, match=r"size mismatch for encoder\.encoders\.0\.feed_forward"
                                           r"\.experts\.0\.w_1\.weight"):
        upcycled(tmp_path, "--encoder_conf", "linear_units=64")
