"""Batched beam search over several utterances: the hypotheses ESPnet's own search (bounded by
the encoder frames, espnet_smoe.decoding.beam_search) finds for each utterance alone, with per-utterance
tasks (so per-row S-MoE routes) in one batch."""

import pytest
import torch
from espnet.nets.scorers.ctc import CTCPrefixScorer
from espnet.nets.scorers.length_bonus import LengthBonus
from espnet2.asr.ctc import CTC

from conftest import ASR, SOS, SPA, ST, TOKENS, make_decoder, routes_taken
from espnet_smoe.decoding.batch_beam_search import BatchedBeamSearch
from espnet_smoe.decoding.beam_search import FrameBoundedBatchBeamSearch

EOS = TOKENS.index("<eos>")


def espnet_search(dec, ctc, beam, ctc_weight, penalty):
    scorers = dict(decoder=dec, length_bonus=LengthBonus(len(TOKENS)))
    weights = dict(decoder=1.0 - ctc_weight, length_bonus=penalty)
    if ctc_weight > 0:
        scorers["ctc"], weights["ctc"] = CTCPrefixScorer(ctc=ctc, eos=EOS), ctc_weight
    return FrameBoundedBatchBeamSearch(scorers=scorers, weights=weights, beam_size=beam,
                                       vocab_size=len(TOKENS), sos=SOS, eos=EOS,
                                       token_list=TOKENS, pre_beam_score_key="full")


@pytest.mark.parametrize("ctc_weight,penalty,maxlenratio,beam", [
    (0.0, 0.0, 0.0, 3),     # end detection
    (0.3, 0.5, -5.0, 3),    # joint CTC, length bonus, forced <eos> at maxlen
    (0.5, 0.0, 0.5, 4),     # maxlen from each utterance's own length
    (0.3, 0.0, -4.0, 12),   # pre-beam wider than half the vocabulary
])
def test_batched_search_matches_espnet_per_utterance(ctc_weight, penalty, maxlenratio, beam):
    torch.manual_seed(3)
    dec = make_decoder()
    with torch.no_grad():  # a decoder that ends some hypotheses early, others late
        dec.output_layer.bias[EOS] = 2.0
    ctc = CTC(len(TOKENS), 16).eval()
    lens = torch.tensor([14, 10, 12])  # CTC prefix scoring needs more frames than tokens
    enc = torch.randn(3, 14, 16)
    tasks = [ASR, ST, ST]
    prefixes = [[SOS, SPA, t] for t in tasks]
    batched = BatchedBeamSearch(dec, ctc, SOS, EOS, len(TOKENS), beam, ctc_weight, penalty)(
        enc, lens, prefixes, maxlenratio=maxlenratio)
    for b in range(3):
        search = espnet_search(dec, ctc, beam, ctc_weight, penalty).eval()
        search.set_hyp_primer(prefixes[b])
        want = search(x=enc[b, : lens[b]], maxlenratio=maxlenratio)
        got = batched[b][: len(want)]
        assert [h.yseq.tolist() for h in got] == [h.yseq.tolist() for h in want], b
        for g, w in zip(got, want):
            assert g.score == pytest.approx(float(w.score), abs=1e-4)
            for k, v in w.scores.items():
                assert g.scores[k] == pytest.approx(float(v), abs=1e-4), k


def test_each_row_is_routed_by_its_own_task():
    dec = make_decoder()
    enc, lens = torch.randn(2, 6, 16), torch.tensor([6, 6])
    search = BatchedBeamSearch(dec, None, SOS, EOS, len(TOKENS), beam_size=2)
    with routes_taken() as taken:
        search(enc, lens, [[SOS, SPA, ASR], [SOS, SPA, ST]], maxlenratio=-2)
    assert set(taken["decoder"]) == {(2, 2)}  # two beam rows per utterance, one task each


def test_prefixes_must_match_the_batch():
    search = BatchedBeamSearch(make_decoder(), None, SOS, EOS, len(TOKENS), beam_size=2)
    with pytest.raises(ValueError, match="prefix"):
        search(torch.randn(2, 6, 16), torch.tensor([6, 6]), [[SOS, SPA, ASR]])


def test_ctc_search_stops_before_hypotheses_outgrow_the_frames():
    dec = make_decoder()
    with torch.no_grad():  # never end: ESPnet's CTC prefix scorer would index past the frames
        dec.output_layer.bias[EOS] = -50.0
    lens = torch.tensor([6, 4])
    search = BatchedBeamSearch(dec, CTC(len(TOKENS), 16).eval(), SOS, EOS, len(TOKENS), 2, ctc_weight=0.3)
    hyps = search(torch.randn(2, 6, 16), lens, [[SOS, SPA, ASR]] * 2, maxlenratio=0.0)
    for b in range(2):
        assert hyps[b] and all(len(h.yseq) <= 3 + int(lens[b]) for h in hyps[b])


@pytest.mark.parametrize("ctc_weight", [0.0, 0.3])
def test_per_utterance_search_stops_before_hypotheses_outgrow_the_frames(ctc_weight):
    """ESPnet's own search, as Speech2Text calls it per utterance (primer <sos> <lang> <task>),
    can extend a hypothesis past the frames, where its CTC prefix scorer raises IndexError
    (tests/test_inference_robustness.py decodes a babbling model); the bounded one ends every
    hypothesis in time, with CTC and without."""
    dec, ctc = make_decoder(), CTC(len(TOKENS), 16).eval()
    with torch.no_grad():  # never end on its own
        dec.output_layer.bias[EOS] = -50.0
    enc = torch.randn(5, 16)
    search = espnet_search(dec, ctc, 2, ctc_weight, 0.0)
    search.set_hyp_primer([SOS, SPA, ASR])
    hyps = search(x=enc, maxlenratio=2.0)  # asks for up to 10 tokens: 5 frames bound it to 4
    assert hyps and all(len(h.yseq) <= 3 + 4 + 1 for h in hyps)  # prefix, tokens, <eos>


def test_ctc_scores_only_the_rows_asked_for():
    """Transcription rows: ESPnet's joint search; translation rows: ESPnet's attention-only
    search (CTC learns the source transcript, so it must not score translations)."""
    torch.manual_seed(5)
    dec = make_decoder()
    ctc = CTC(len(TOKENS), 16).eval()
    enc, lens = torch.randn(2, 12, 16), torch.tensor([12, 10])
    prefixes = [[SOS, SPA, ASR], [SOS, SPA, ST]]
    got = BatchedBeamSearch(dec, ctc, SOS, EOS, len(TOKENS), 3, ctc_weight=0.4)(
        enc, lens, prefixes, maxlenratio=-4, ctc_rows=[True, False])
    for b, weight in ((0, 0.4), (1, 0.0)):
        search = espnet_search(dec, ctc, 3, weight, 0.0).eval()
        search.set_hyp_primer(prefixes[b])
        want = search(x=enc[b, : lens[b]], maxlenratio=-4)
        assert [h.yseq.tolist() for h in got[b][: len(want)]] == [h.yseq.tolist() for h in want]
        assert ("ctc" in got[b][0].scores) == (weight > 0)
        assert got[b][0].score == pytest.approx(float(want[0].score), abs=1e-4)
