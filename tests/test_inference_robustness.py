"""The public API on input it was not trained for: a randomly initialised S-MoE model babbles,
so every hypothesis runs to the search's length bound, where ESPnet's CTC prefix scorer used to
fail. Whatever the input, decoding returns hypotheses or raises one of the documented errors
(``TooShortUttError`` for too little speech, ``ValueError`` for non-finite samples or wrong
symbols), alone and batched, and an utterance decodes alike alone and in any batch.
"""

import argparse
from pathlib import Path

import pytest
import torch
import yaml
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError

from conftest import TOKENS, routes_taken
from espnet_smoe.decoding.beam_search import frame_bound
from espnet_smoe.task.build import build_model
from espnet_smoe.decoding.inference import Speech2Text
from espnet_smoe.text.multitask import PREFIX_LENGTH
from espnet_smoe.audio.waveform import resample

REPO = Path(__file__).resolve().parents[1]
RATE = 16000


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    tokens.write_text("\n".join(TOKENS + [f"piece{i}" for i in range(40)]) + "\n")
    torch.manual_seed(0)
    return build_model(REPO / "conf/mini/encdec_smoe.yaml", str(tokens), None).eval()


def speech2text(model, **kwargs) -> Speech2Text:
    args = argparse.Namespace(src_langs=["spa"], token_type=None)
    return Speech2Text(model=model, train_args=args, **kwargs)


def inputs(min_samples: int):
    gen = torch.Generator().manual_seed(1)
    return {
        "shortest": 0.1 * torch.randn(min_samples, generator=gen),
        "short": 0.1 * torch.randn(min_samples + 900, generator=gen),
        "long": 0.1 * torch.randn(8 * RATE, generator=gen),
        "silent": torch.zeros(RATE),
        "noisy": torch.randn(2 * RATE, generator=gen).clamp(-1, 1),
        "tone": 0.5 * torch.sin(torch.arange(3 * RATE) * 2 * torch.pi * 440 / RATE),
    }


@pytest.mark.parametrize("beam_size", [1, 5])
@pytest.mark.parametrize("ctc_weight", [0.0, 0.3])
def test_any_input_decodes_alone_and_batched_within_the_frame_bound(model, beam_size, ctc_weight):
    s2t = speech2text(model, beam_size=beam_size, ctc_weight=ctc_weight)
    wavs = inputs(s2t.min_samples)
    for task in ("<asr>", "<st_eng>"):
        prefix = s2t.prefix("<spa>", task)
        for name, wav in wavs.items():
            _, tokens, ids, _, _ = s2t(wav, lang_sym="<spa>", task_sym=task, bandwidth="nb")[0]
            assert tokens[:2] == ["<spa>", task], name
            _, lens = s2t.encode(wav[None], torch.tensor([wav.numel()]), s2t.route("nb"))
            assert len(ids) - 2 <= frame_bound(int(lens[0]), PREFIX_LENGTH), name
        lengths = torch.tensor([w.numel() for w in wavs.values()])
        batch = torch.nn.utils.rnn.pad_sequence(list(wavs.values()), batch_first=True)
        results = s2t.decode_batch(batch, lengths, s2t.route("nb", len(wavs)), [prefix] * len(wavs))
        assert [r[0][1][:2] for r in results] == [["<spa>", task]] * len(wavs)


@pytest.mark.parametrize("ctc_weight", [0.0, 0.3])
def test_an_utterance_decodes_alike_alone_and_in_any_batch(model, ctc_weight):
    """Mixed lengths: padding once gave shorter utterances 1-2 extra encoder frames and a
    different hypothesis (3 of 4 at beam 5), and --nj changed the recipe's scores."""
    s2t = speech2text(model, beam_size=5, ctc_weight=ctc_weight)
    gen = torch.Generator().manual_seed(2)
    wavs = [0.1 * torch.randn(n, generator=gen) for n in (16000, 12345, 9001, 7000)]
    prefix = s2t.prefix("<spa>", "<asr>")
    alone = [s2t.decode(w, s2t.route("wb"), prefix)[0][2] for w in wavs]
    for order in ([0, 1, 2, 3], [3, 1, 0, 2], [2, 3]):
        batch = [wavs[i] for i in order]
        lengths = torch.tensor([w.numel() for w in batch])
        padded = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True)
        _, enc_lens = s2t.encode(padded, lengths, s2t.route("wb", len(batch)))
        own = [int(s2t.encode(w[None], torch.tensor([w.numel()]), s2t.route("wb"))[1][0]) for w in batch]
        assert enc_lens.tolist() == own
        results = s2t.decode_batch(padded, lengths, s2t.route("wb", len(batch)), [prefix] * len(batch))
        assert [r[0][2] for r in results] == [alone[i] for i in order]


def test_unusable_input_is_refused_with_a_clear_error(model):
    s2t = speech2text(model, beam_size=2, ctc_weight=0.3)
    decode = dict(lang_sym="<spa>", task_sym="<asr>", bandwidth="wb")
    for samples in (0, 160, s2t.min_samples - 1):  # 160: 10 ms once crashed in the frontend
        with pytest.raises(TooShortUttError, match=f"has {samples} samples"):
            s2t(torch.zeros(samples), **decode)
    wav = torch.zeros(RATE)
    wav[100] = float("nan")
    with pytest.raises(ValueError, match="1 NaN/Inf samples .* at sample 100"):
        s2t(wav, **decode)
    batch = torch.zeros(2, RATE)
    with pytest.raises(TooShortUttError, match="utterance 1 of the batch has 160 samples"):
        s2t.decode_batch(batch, torch.tensor([RATE, 160]), s2t.route("wb", 2),
                         [s2t.prefix("<spa>", "<asr>")] * 2)


def test_symbols_must_be_of_their_kind_and_languages_trained(model):
    s2t = speech2text(model, beam_size=1)
    wav = torch.zeros(RATE)
    for lang, task, message in (("<asr>", "<asr>", "not a language token"),
                                ("<eng>", "<asr>", r"trained on speech in \['spa'\] only"),
                                ("<spa>", "<spa>", "not a task token")):
        with pytest.raises(ValueError, match=message):
            s2t(wav, lang_sym=lang, task_sym=task, bandwidth="wb")


def test_swapped_routes_stay_with_their_speech2text(model):
    """swap_routes once rewrote the shared decoder's route map, so another Speech2Text of
    the same model inherited the swap."""
    own = dict(model.decoder.route_tokens)
    swapped = speech2text(model, beam_size=1, swap_routes="decoder")
    plain = speech2text(model, beam_size=1)
    wav = 0.1 * torch.randn(RATE)
    with routes_taken() as swapped_routes:
        swapped(wav, lang_sym="<spa>", task_sym="<asr>", bandwidth="wb")
    with routes_taken() as plain_routes:
        plain(wav, lang_sym="<spa>", task_sym="<asr>", bandwidth="wb")
    assert set(swapped_routes["decoder"]) == {(0, 1)}  # <asr> sent to the translation expert
    assert set(plain_routes["decoder"]) == {(1, 0)}
    assert model.decoder.route_tokens == own


def test_audio_at_any_rate_and_in_integer_pcm_decodes_as_the_model_takes_it(model):
    """Speech2Text once took no sampling rate: 8 and 44.1 kHz audio decoded as if 16 kHz, and
    int16 was not rescaled."""
    s2t = speech2text(model, beam_size=2, ctc_weight=0.3)
    wav16 = 0.3 * torch.randn(2 * RATE, generator=torch.Generator().manual_seed(3)).clamp(-1, 1)
    decode = dict(lang_sym="<spa>", task_sym="<asr>")
    want = s2t(wav16, bandwidth="wb", **decode)[0]
    assert (want.bandwidth, want.bandwidth_from) == ("wb", "given")
    pcm = (wav16 * 32767).round().to(torch.int16)
    as_float = s2t(pcm / 32768, bandwidth="wb", **decode)[0][2]
    assert s2t(pcm.numpy(), bandwidth="wb", **decode)[0][2] == as_float
    wav44 = resample(wav16, RATE, 44100)
    at_16k = s2t(resample(wav44, 44100, RATE), bandwidth="wb", **decode)[0][2]
    assert s2t(wav44, fs=44100, bandwidth="wb", **decode)[0][2] == at_16k
    wav8 = resample(wav16, RATE, 8000)
    got = s2t(wav8, fs=8000, **decode)[0]  # no bandwidth: 8 kHz audio is narrowband
    assert (got.bandwidth, got.bandwidth_from) == ("nb", "rate")
    assert got[2] == s2t(resample(wav8, 8000, RATE), bandwidth="nb", **decode)[0][2]
    auto = s2t(wav16, **decode)[0]  # white noise has energy up to 8 kHz
    assert (auto.bandwidth, auto.bandwidth_from) == ("wb", "detected")
    batch = s2t.decode_batch(torch.stack([wav8, wav8.flip(0)]), torch.tensor([wav8.numel()] * 2),
                             None, [s2t.prefix("<spa>", "<asr>")] * 2, fs=8000)
    assert [r[0].bandwidth for r in batch] == ["nb", "nb"] and batch[0][0][2] == got[2]
    with pytest.raises(ValueError, match="fs must be a positive"):
        s2t(wav16, fs=0, **decode)


def test_a_model_with_more_bandwidth_classes_decodes_each_by_its_label(tmp_path):
    """route_labels beyond wb/nb reach decoding: the label picks its expert, detection still
    picks wb or nb, and a label the encoder does not name is an error listing those it does."""
    config = yaml.safe_load((REPO / "conf/mini/encdec_smoe.yaml").read_text())
    config["encoder_conf"].pop("num_experts")  # one expert per label
    config["encoder_conf"]["route_labels"] = ["wb", "nb", "gsm"]
    (tmp_path / "three.yaml").write_text(yaml.safe_dump(config))
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(TOKENS + [f"piece{i}" for i in range(40)]) + "\n")
    s2t = speech2text(build_model(tmp_path / "three.yaml", str(tokens), None).eval(), beam_size=1)
    wav = 0.1 * torch.randn(RATE)
    for label, counts in (("gsm", (0, 0, 1)), ("wb", (1, 0, 0)), ("auto", (1, 0, 0))):
        with routes_taken() as taken:
            result = s2t(wav, lang_sym="<spa>", task_sym="<asr>", bandwidth=label)[0]
        assert set(taken["encoder"]) == {counts} and result.bandwidth == label.replace("auto", "wb")
    with pytest.raises(ValueError, match=r"'sb'.*\('wb', 'nb', 'gsm'\)"):
        s2t(wav, lang_sym="<spa>", task_sym="<asr>", bandwidth="sb")
