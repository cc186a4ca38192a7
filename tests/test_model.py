"""The S-MoE model through the task: bandwidth routing, statistics, stock choices, former class
names, preprocessing."""

import logging
import re

import numpy as np
import pytest
import torch
import yaml

from conftest import ASR, SPA, ST, TOKENS
from espnet_smoe.nets.route import Route
from espnet_smoe.task.preprocessor import SMoES2TPreprocessor
from espnet_smoe.task.s2t import SMoES2TTask
from espnet_smoe.text.tokenizer import make_token_list, train_bbpe

TINY = ["--frontend_conf", "n_fft=128", "--frontend_conf", "hop_length=64", "--frontend_conf", "n_mels=10",
        "--encoder_conf", "output_size=16", "--encoder_conf", "attention_heads=2",
        "--encoder_conf", "linear_units=32", "--encoder_conf", "num_blocks=2",
        "--decoder_conf", "attention_heads=2", "--decoder_conf", "linear_units=32",
        "--decoder_conf", "num_blocks=2", "--model_conf", "report_cer=false",
        "--model_conf", "report_wer=false"]


def build(tmp_path, *extra):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(TOKENS) + "\n")
    args = SMoES2TTask.get_parser().parse_args(["--token_list", str(tokens), *TINY, *extra])
    return SMoES2TTask.build_model(args), args


def batch(tasks, bandwidths):
    n = len(tasks)
    text = torch.tensor([[SPA, task, 12, 13, 14] for task in tasks])
    return dict(speech=torch.randn(n, 4000), speech_lengths=torch.full((n,), 4000),
                text=text, text_lengths=torch.full((n,), 5),
                text_prev=torch.full((n, 1), TOKENS.index("<na>")), text_prev_lengths=torch.ones(n, dtype=torch.long),
                text_ctc=text[:, 2:], text_ctc_lengths=torch.full((n,), 3),
                bandwidth=torch.tensor([[b] for b in bandwidths]))


def test_forward_routes_by_bandwidth_and_reports_expert_shares(tmp_path):
    model, _ = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
    loss, stats, weight = model(**batch([ASR, ASR, ST, ASR], [0, 1, 1, 1]))
    assert torch.isfinite(loss) and int(weight) == 4
    assert stats["enc_wb"].item() == pytest.approx(0.25) and stats["enc_nb"].item() == pytest.approx(0.75)
    assert stats["dec_e0"].item() == pytest.approx(0.75) and stats["dec_e1"].item() == pytest.approx(0.25)
    loss.backward()
    enc_nb = model.encoder.encoders[0].feed_forward.experts[1]
    assert all(p.grad is not None for p in enc_nb.parameters())


def test_wideband_only_batch_leaves_nb_experts_untrained(tmp_path):
    model, _ = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
    loss, _, _ = model(**batch([ASR, ST], [0, 0]))
    loss.backward()
    for i in model.encoder.smoe_layers:
        assert all(p.grad is None for p in model.encoder.encoders[i].feed_forward.experts[1].parameters())


def test_missing_bandwidth_is_a_clear_error(tmp_path):
    model, _ = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
    inputs = batch([ASR], [0])
    del inputs["bandwidth"]
    with pytest.raises(ValueError, match="utt2bw"):
        model(**inputs)


def with_dense_encoder(model, expert, tmp_path):
    """``model`` with ESPnet's dense encoder in place of its S-MoE one, each FFN holding
    ``expert``'s weights (what routing to that expert must compute)."""
    dense, _ = build(tmp_path, "--encoder", "transformer", "--decoder", "smoe_transformer")
    ffn = re.compile(r"(encoder\.encoders\.\d+\.feed_forward\.)experts\.(\d+)\.")
    state = {}
    for key, value in model.state_dict().items():
        found = ffn.match(key)
        if found is None or int(found.group(2)) == expert:
            state[ffn.sub(r"\1", key)] = value
    dense.load_state_dict(state)  # strict: every dense key, once
    return dense.eval()


@torch.no_grad()
def test_encode_with_bandwidth_computes_each_utterances_dense_expert(tmp_path):
    model, _ = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
    model.eval()
    speech, lens, bandwidth = torch.randn(3, 4000), torch.tensor([4000, 3200, 2600]), [1, 0, 1]
    enc, enc_lens = model.encode(speech, lens, torch.tensor(bandwidth))
    dense = {e: with_dense_encoder(model, e, tmp_path) for e in (0, 1)}
    for b, expert in enumerate(bandwidth):
        alone, alone_lens = dense[expert].encode(speech[b : b + 1, : lens[b]], lens[b : b + 1])
        assert enc_lens[b] == alone_lens[0]
        torch.testing.assert_close(enc[b, : enc_lens[b]], alone[0], rtol=1e-5, atol=1e-5)
        other, _ = dense[1 - expert].encode(speech[b : b + 1, : lens[b]], lens[b : b + 1])
        assert (other[0] - alone[0]).abs().max() > 1e-3  # the experts differ: the route matters


@torch.no_grad()
def test_encode_routes_by_its_arguments_alone(tmp_path):
    """Whatever route is bound around it, ``encode`` takes the bandwidth and the ablation it is
    given; the ablation sends each utterance where the other bandwidth would."""
    model, _ = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
    model.eval()
    speech, lens, bandwidth = torch.randn(3, 4000), torch.full((3,), 4000), torch.tensor([1, 0, 0])
    enc, _ = model.encode(speech, lens, bandwidth)
    with Route.of("encoder", [0, 0, 0], 2).active():
        torch.testing.assert_close(model.encode(speech, lens, bandwidth)[0], enc, rtol=0, atol=0)
    swapped, _ = model.encode(speech, lens, bandwidth, permutation=[1, 0])
    torch.testing.assert_close(swapped, model.encode(speech, lens, 1 - bandwidth)[0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="model.encode"):
        model.encode(speech, lens)


@pytest.mark.parametrize("current, former, options", [
    (("smoe_conformer", "smoe_transformer"), ("moe_conformer", "moe_transformer"), []),
    (("smoe_transformer", "smoe_transformer"), ("moe_transformer", "moe_transformer"),
     ["--encoder_conf", "router=learned", "--decoder_conf", "router=learned"]),
])
def test_a_config_with_the_former_class_names_builds_the_same_model(tmp_path, caplog, current,
                                                                    former, options):
    """Configs and packs made when each class had two names (``moe_*``) still build, as the
    current name (a learned-gate model too: the same class, ``router: learned``)."""
    model, args = build(tmp_path, "--encoder", current[0], "--decoder", current[1], *options)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**vars(args), "encoder": former[0], "decoder": former[1]}))
    torch.save(model.state_dict(), tmp_path / "model.pth")
    with caplog.at_level(logging.INFO):
        loaded, loaded_args = SMoES2TTask.build_model_from_file(config, tmp_path / "model.pth")
    assert (loaded_args.encoder, loaded_args.decoder) == current
    assert f"encoder: {former[0]} is the former name of {current[0]}" in caplog.text
    assert [type(m) for m in loaded.modules()] == [type(m) for m in model.modules()]
    want = model.state_dict()
    assert loaded.state_dict().keys() == want.keys()
    assert all(torch.equal(v, want[k]) for k, v in loaded.state_dict().items())


def test_each_smoe_class_has_one_registry_name():
    from espnet2.tasks import s2t

    ours = {kind: sorted(name for name, cls in choices.classes.items()
                         if cls.__module__.startswith("espnet_smoe."))
            for kind, choices in (("model", s2t.model_choices), ("encoder", s2t.encoder_choices),
                                  ("decoder", s2t.decoder_choices))}
    assert ours == {"model": ["smoe"], "encoder": ["smoe_conformer", "smoe_transformer"],
                    "decoder": ["smoe_transformer"]}


def test_decoder_only_smoe_needs_no_bandwidth(tmp_path):
    model, _ = build(tmp_path, "--encoder", "transformer", "--decoder", "smoe_transformer")
    inputs = batch([ASR, ST], [0, 1])
    del inputs["bandwidth"]
    loss, stats, _ = model(**inputs)
    assert torch.isfinite(loss) and "enc_wb" not in stats and stats["dec_e1"].item() == pytest.approx(0.5)


def test_more_bandwidth_classes_are_declared_once_and_route_through_the_task(tmp_path):
    """encoder_conf route_labels names the utt2bw classes (here a codec class beside wb and
    nb): the encoder gets an expert per class, and the task's preprocessor maps labels by it."""
    model, args = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer",
                        "--encoder_conf", "route_labels=[wb,nb,gsm]")
    assert model.encoder.num_experts == 3 and model.bandwidth_labels == ("wb", "nb", "gsm")
    assert len(model.encoder.encoders[0].feed_forward.experts) == 3
    args.token_type = None  # labels only: no tokenizer needed
    pre = SMoES2TTask.build_preprocess_fn(args, train=False)
    ids = [int(pre(f"u{i}", {"bandwidth": label})["bandwidth"][0])
           for i, label in enumerate(["gsm", "wb", "gsm", "nb"])]
    assert ids == [2, 0, 2, 1]
    with pytest.raises(ValueError, match=r"'sb' for utterance 'u9'.*'gsm'"):
        pre("u9", {"bandwidth": "sb"})
    loss, stats, _ = model(**batch([ASR, ASR, ST, ST], ids))
    assert stats["enc_gsm"].item() == pytest.approx(0.5) and stats["enc_nb"].item() == pytest.approx(0.25)
    loss.backward()
    gsm = model.encoder.encoders[0].feed_forward.experts[2]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gsm.parameters())


@pytest.mark.parametrize("conf, match", [
    (["route_labels=[wb,nb,gsm]", "num_experts=2"], "name 3 classes.*num_experts is 2"),
    (["route_labels=[wb,wb]"], "distinct"),
])
def test_route_labels_must_fit_the_experts(tmp_path, conf, match):
    extra = [a for c in conf for a in ("--encoder_conf", c)]
    with pytest.raises(ValueError, match=match):
        build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer", *extra)


def test_stock_espnet_choices_still_build_through_the_task(tmp_path):
    from espnet2.s2t.espnet_model import ESPnetS2TModel

    model, _ = build(tmp_path, "--model", "espnet", "--encoder", "transformer", "--decoder", "transformer")
    assert type(model) is ESPnetS2TModel


def test_token_list_is_not_written_into_decoder_conf(tmp_path):
    model, args = build(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer")
    assert "token_list" not in args.decoder_conf
    assert model.decoder.token_list == TOKENS


@pytest.fixture(scope="module")
def preprocessor(tmp_path_factory):
    root = tmp_path_factory.mktemp("bbpe")
    model = train_bbpe(["hola mundo", "hello world", "el niño come"] * 5, root / "bbpe", 300)
    tokens = make_token_list(model, ["<spa>", "<eng>", "<asr>", "<st_eng>"])
    return SMoES2TPreprocessor(train=True, token_type="bbpe", token_list=tokens, bpemodel=model), tokens


def test_preprocessor_keeps_speech_length_and_tokenises(preprocessor):
    pre, tokens = preprocessor
    speech = np.random.randn(12345).astype(np.float32)
    out = pre("spk-1_asr", {"speech": speech, "text": "<spa><asr>hola mundo",
                            "text_ctc": "hola mundo", "text_prev": "<na>", "bandwidth": "nb"})
    assert out["speech"].shape == (12345,)  # no 30 s window
    assert [tokens[i] for i in out["text"][:2]] == ["<spa>", "<asr>"]
    assert "<spa>" not in [tokens[i] for i in out["text_ctc"]]
    assert out["text_prev"].tolist() == [tokens.index("<na>")]
    assert out["bandwidth"].tolist() == [1]
    assert pre("u", {"bandwidth": "WB"})["bandwidth"].tolist() == [0]


def test_unknown_bandwidth_label_names_utterance_and_value(preprocessor):
    pre, _ = preprocessor
    with pytest.raises(ValueError, match=r"'xb'.*'spk-7_asr'|'spk-7_asr'.*'xb'"):
        pre("spk-7_asr", {"bandwidth": "xb"})


def test_training_label_noise_flips_whole_utterances_in_training_only():
    """--preprocessor_conf bandwidth_flip=p: a fraction p of the training utterances carry the
    other bandwidth's label, for both of their tasks, every epoch; validation and decoding
    keep the labels."""
    from espnet_smoe.text.multitask import utterance_id
    from espnet_smoe.task.preprocessor import SMoES2TPreprocessor

    assert utterance_id("spk1-u7-nb_st_eng") == utterance_id("spk1-u7-nb_asr") == "spk1-u7-nb"
    noisy = SMoES2TPreprocessor(train=True, bandwidth_flip=0.5, bandwidth_flip_seed=1)
    clean = SMoES2TPreprocessor(train=False, bandwidth_flip=0.5, bandwidth_flip_seed=1)
    ids = {}
    for i in range(200):
        for task in ("asr", "st_eng"):
            uid = f"spk-u{i}-wb_{task}"
            ids.setdefault(i, set()).add(int(noisy(uid, {"bandwidth": "wb"})["bandwidth"][0]))
            assert int(clean(uid, {"bandwidth": "wb"})["bandwidth"][0]) == 0
    assert all(len(labels) == 1 for labels in ids.values())  # both tasks alike
    assert 60 < sum(labels == {1} for labels in ids.values()) < 140
