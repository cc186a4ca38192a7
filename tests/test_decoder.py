"""S-MoE decoder: routing from the guiding token, agreement of its scoring paths, beam search."""

import pytest
import torch
from espnet.nets.batch_beam_search import BatchBeamSearch
from espnet.nets.beam_search import BeamSearch
from espnet.nets.pytorch_backend.transformer.mask import subsequent_mask
from espnet.nets.scorers.length_bonus import LengthBonus
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_smoe.nets.decoder import MoETransformerDecoder
from conftest import ASR, DIM, ENG, SOS, SPA, ST, TOKENS, make_decoder, prefixed

EOS = TOKENS.index("<eos>")


def memory(batch=2, frames=7):
    return torch.randn(batch, frames, 16), torch.full((batch,), frames)


def test_route_comes_from_the_token_after_sos_and_language():
    dec = make_decoder()
    ys = prefixed([ASR, ST, ST])
    assert list(dec.route_of(ys).experts) == [0, 1, 1]
    sop = TOKENS.index("<sop>")
    with_prev = torch.tensor([[sop, 12, 13, SOS, SPA, ST, 11], [SOS, SPA, ASR, 12, 13, 14, 15]])
    assert list(dec.route_of(with_prev).experts) == [1, 0]


def test_forward_one_step_score_and_batch_score_agree():
    dec = make_decoder()
    hs, hlens = memory()
    ys = prefixed([ASR, ST], length=6)
    logits, _ = dec(hs, hlens, ys, torch.full((2,), 6))
    full = torch.log_softmax(logits, dim=-1)
    for t in range(3, 7):  # every step after the forced prefix <sos> <spa> <task>
        step, _ = dec.forward_one_step(ys[:, :t], subsequent_mask(t).unsqueeze(0), hs)
        torch.testing.assert_close(step, full[:, t - 1], rtol=1e-5, atol=1e-5)
        batch, _ = dec.batch_score(ys[:, :t], [None, None], hs)
        torch.testing.assert_close(batch, full[:, t - 1], rtol=1e-5, atol=1e-5)
        for b in range(2):
            single, _ = dec.score(ys[b, :t], None, hs[b])
            torch.testing.assert_close(single, full[b, t - 1], rtol=1e-5, atol=1e-5)


def test_incremental_cache_matches_teacher_forcing():
    dec = make_decoder()
    hs, hlens = memory()
    ys = prefixed([ST, ASR], length=6)
    full = torch.log_softmax(dec(hs, hlens, ys, torch.full((2,), 6))[0], dim=-1)
    states = [None, None]
    for t in range(3, 7):  # beam search starts from the whole forced prefix
        step, states = dec.batch_score(ys[:, :t], states, hs)
        torch.testing.assert_close(step, full[:, t - 1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("search_cls", [BeamSearch, BatchBeamSearch])
def test_beam_search_follows_the_forced_task(search_cls):
    """Make the translate expert push one word hard: only <st_eng> decoding may produce it."""
    dec = make_decoder()
    favourite = TOKENS.index("w3")
    with torch.no_grad():
        for i in dec.smoe_layers:  # expert 1's output grows along the favourite's output row
            dec.decoders[i].feed_forward.experts[1].w_2.bias.copy_(dec.output_layer.weight[favourite] * 50)
    hs = torch.randn(9, 16)
    outputs = {}
    for task in (ASR, ST):
        search = search_cls(scorers=dict(decoder=dec, length_bonus=LengthBonus(len(TOKENS))),
                            weights=dict(decoder=1.0, length_bonus=0.0), beam_size=3,
                            vocab_size=len(TOKENS), sos=SOS, eos=EOS, token_list=TOKENS,
                            pre_beam_score_key="full")
        search.set_hyp_primer([SOS, SPA, task])
        best = search(hs, maxlenratio=0.5)[0].yseq.tolist()
        assert best[:3] == [SOS, SPA, task] and best[-1] == EOS
        outputs[task] = best[3:-1]
    assert outputs[ST] and all(t == favourite for t in outputs[ST])
    assert outputs[ASR] != outputs[ST]  # the transcribe expert was left as it was


def test_a_permuted_view_routes_as_swapped_experts_would_and_leaves_the_decoder_as_it_was():
    """The routing ablation's decoder: the same parameters, each task sent to the other's
    experts; the reference is a copy whose two experts trade weights."""
    dec = make_decoder()
    view = dec.permuted([1, 0])
    swapped = make_decoder()
    swapped.load_state_dict(dec.state_dict())
    with torch.no_grad():
        for i in swapped.smoe_layers:
            experts = swapped.decoders[i].feed_forward.experts
            for own, other in zip(experts[0].parameters(), experts[1].parameters()):
                weights = own.clone()
                own.copy_(other)
                other.copy_(weights)
    hs, hlens = memory(3)
    ys, lens = prefixed([ASR, ST, ASR]), torch.full((3,), 6)
    before = dec(hs, hlens, ys, lens)[0]
    assert view.route_of(ys).experts == (1, 0, 1) and dec.route_of(ys).experts == (0, 1, 0)
    torch.testing.assert_close(view(hs, hlens, ys, lens)[0], swapped(hs, hlens, ys, lens)[0],
                               rtol=0, atol=0)
    step = subsequent_mask(4).unsqueeze(0)
    torch.testing.assert_close(view.forward_one_step(ys[:, :4], step, hs)[0],
                               swapped.forward_one_step(ys[:, :4], step, hs)[0], rtol=0, atol=0)
    assert view.decoders is dec.decoders and dec.route_permutation is None
    assert torch.equal(dec(hs, hlens, ys, lens)[0], before)
    with pytest.raises(ValueError, match="not a permutation"):
        dec.permuted([0, 0])


def test_transcribe_batch_leaves_translate_expert_without_gradient():
    dec = make_decoder().train()
    hs, hlens = memory()
    logits, _ = dec(hs, hlens, prefixed([ASR, ASR]), torch.full((2,), 6))
    logits.sum().backward()
    for i in dec.smoe_layers:
        ffn = dec.decoders[i].feed_forward
        assert all(p.grad is None for p in ffn.experts[1].parameters())
        assert all(p.grad is not None for p in ffn.experts[0].parameters())
        assert dec.decoders[i].self_attn.linear_q.weight.grad is not None


def test_one_expert_equals_espnet_dense_decoder():
    dense = TransformerDecoder(len(TOKENS), 16, **DIM).eval()
    smoe = make_decoder(num_experts=1, route_tokens={"<asr>": 0, "<st_eng>": 0})
    smoe.load_state_dict(dense.state_dict())  # strict
    hs, hlens = memory()
    ys = prefixed([ASR, ST])
    torch.testing.assert_close(smoe(hs, hlens, ys, torch.full((2,), 6))[0],
                               dense(hs, hlens, ys, torch.full((2,), 6))[0], rtol=0, atol=0)
    mask = subsequent_mask(4).unsqueeze(0)
    torch.testing.assert_close(smoe.forward_one_step(ys[:, :4], mask, hs)[0],
                               dense.forward_one_step(ys[:, :4], mask, hs)[0], rtol=0, atol=0)


def test_unknown_guiding_token_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'<eng>'"):
        make_decoder().route_of(prefixed([ENG]))


def test_default_expert_takes_unknown_guiding_tokens():
    assert list(make_decoder(default_expert=0).route_of(prefixed([ENG, ST])).experts) == [0, 1]


def test_prefix_without_sos_is_an_error():
    with pytest.raises(ValueError, match="no guiding token"):
        make_decoder().route_of(torch.tensor([[SPA, ASR, 12, 13]]))


@pytest.mark.parametrize("kwargs,match", [
    (dict(route_tokens={"<st_deu>": 1}), "not in the token list"),
    (dict(route_tokens={"<asr>": 2}, num_experts=2), "out of range"),
    (dict(route_tokens="per_task", num_experts=1), "out of range"),
    (dict(route_tokens="per_language"), "one of"),
    (dict(gradient_checkpoint_layers=[1]), "checkpointing"),
    (dict(token_list=None), "token_list"),
])
def test_bad_configuration_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_decoder(**kwargs)


@pytest.mark.parametrize("scheme, experts, routes", [
    ("per_task", 3, {"<asr>": 0, "<st_eng>": 1, "<st_cat>": 2}),
    ("per_kind", 2, {"<asr>": 0, "<st_eng>": 1, "<st_cat>": 1}),
])
def test_a_route_scheme_follows_the_token_list(scheme, experts, routes):
    """A new target language (here <st_cat>) gets its expert with no edit of the config."""
    tokens = [*TOKENS, "<cat>", "<st_cat>"]
    dec = MoETransformerDecoder(len(tokens), 16, token_list=tokens, route_tokens=scheme, **DIM)
    cat = tokens.index("<st_cat>")
    assert dec.num_experts == experts and dec.route_tokens == routes
    assert len(dec.decoders[0].feed_forward.experts) == experts
    rows = torch.tensor([[SOS, SPA, task, 11] for task in (ASR, ST, cat)])
    assert list(dec.route_of(rows).experts) == [routes["<asr>"], routes["<st_eng>"], routes["<st_cat>"]]


def test_the_default_scheme_is_the_two_expert_map_of_one_target():
    assert make_decoder().route_tokens == {"<asr>": 0, "<st_eng>": 1}


def test_route_is_found_behind_a_long_previous_context():
    from espnet_smoe.nets.decoder import ROUTE_WINDOW

    sop = TOKENS.index("<sop>")
    prev = [sop] + [12] * (ROUTE_WINDOW + 3)  # pushes <sos> <spa> <task> out of the window
    ys = torch.tensor([prev + [SOS, SPA, ST, 11], [SOS, SPA, ASR] + [13] * (len(prev) + 1)])
    assert list(make_decoder().route_of(ys).experts) == [1, 0]
