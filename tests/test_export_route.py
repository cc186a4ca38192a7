"""export_route: one route of an S-MoE model as a dense model that stock ESPnet builds alone."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from espnet2.tasks.s2t import S2TTask

from conftest import ASR, ST, prefixed
from espnet_smoe.audio.bandwidth import bandwidth_id
from espnet_smoe.bin.export_route import main
from espnet_smoe.release.export import route_experts
from test_model import build

ROUTES = [("nb", "asr", ASR), ("wb", "<st_eng>", ST)]  # (bandwidth, --task, guiding token id)
ENCODER_OPTIONS = {"transformer": [], "conformer": ["--encoder_conf", "macaron_style=true"]}
SMOE_ONLY = {"num_experts", "smoe_layers", "router", "top_k", "route_tokens", "route_offset",
             "default_expert", "sos_symbol", "moe_aux_weight", "route_labels", "shared_units"}


def write_exp(root, *options):
    """An exp dir as training leaves it (random weights): config.yaml, whose global_mvn
    statistics and BBPE model lie beside it, and the parameters."""
    stats, bpemodel = root / "feats_stats.npz", root / "bbpe.model"
    np.savez(stats, count=np.array(100.0), sum=np.full(10, 50.0), sum_square=np.full(10, 900.0))
    bpemodel.write_bytes(b"copied, never read")
    model, args = build(root, "--normalize", "global_mvn", "--normalize_conf",
                        f"stats_file={stats}", "--bpemodel", str(bpemodel),
                        "--model_conf", "moe_aux_weight=0.5", *options)
    exp = root / "exp"
    exp.mkdir()
    torch.save(model.state_dict(), exp / "model.pth")
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    return model.eval(), exp


def export(exp, out, *route):
    main(["--s2t_train_config", str(exp / "config.yaml"),
          "--s2t_model_file", str(exp / "model.pth"), "--output_dir", str(out), *route])
    return out


@pytest.fixture(scope="module", params=sorted(ENCODER_OPTIONS))
def exported(request, tmp_path_factory):
    """An EncDec S-MoE model with a Transformer or Conformer encoder, and its export per route."""
    root = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    model, exp = write_exp(root, "--encoder", f"smoe_{request.param}", "--decoder",
                           "smoe_transformer", *ENCODER_OPTIONS[request.param])
    outs = {bw: export(exp, root / f"dense_{bw}", "--bandwidth", bw, "--task", task)
            for bw, task, _ in ROUTES}
    return request.param, model, outs


def size(model) -> int:
    return sum(p.numel() for p in model.parameters())


def load(out):
    model, _ = S2TTask.build_model_from_file(out / "config.yaml", out / "model.pth")
    return model.eval()


@torch.no_grad()
def outputs(model, speech, ys, bandwidth=None):
    """Encoder and decoder outputs for (B, T) speech of equal lengths, under ``bandwidth`` (for
    the S-MoE model; stock ESPnet's ``encode`` takes none)."""
    route = () if bandwidth is None else (torch.full((len(speech),), bandwidth_id(bandwidth)),)
    enc, enc_lens = model.encode(speech, torch.full((len(speech),), speech.size(1)), *route)
    dec, _ = model.decoder(enc, enc_lens, ys, torch.full((len(ys),), ys.size(1)))
    return enc, dec


def test_config_is_stock_espnet_and_carries_its_files(exported):
    kind, _, outs = exported
    out = outs["nb"]
    config = yaml.safe_load((out / "config.yaml").read_text())
    classes = config["model"], config["encoder"], config["decoder"]
    assert classes == ("espnet", kind, "transformer")
    for conf in ("model_conf", "encoder_conf", "decoder_conf"):
        assert not SMOE_ONLY & set(config[conf]), conf
    assert config["decoder_conf"]["linear_units"] == 32  # the architecture is carried over
    assert config["normalize_conf"]["stats_file"] == str(out / "feats_stats.npz")
    assert config["bpemodel"] == str(out / "bbpe.model") and (out / "bbpe.model").is_file()
    card = (out / "README.md").read_text()
    assert "encoder expert 1, decoder expert 0" in card and f"`encoder: {kind}`" in card


def test_parameter_count_is_the_dense_base(exported, tmp_path):
    kind, _, outs = exported
    dense_base, _ = build(tmp_path, "--model", "espnet", "--encoder", kind, "--decoder",
                          "transformer", *ENCODER_OPTIONS[kind])
    assert size(load(outs["nb"])) == size(dense_base)


@pytest.mark.parametrize("bandwidth, task, token", ROUTES)
def test_outputs_equal_the_smoe_model_on_its_route(exported, bandwidth, task, token):
    _, smoe, outs = exported
    speech, ys = torch.randn(2, 4000), prefixed([token, token])
    enc, dec = outputs(load(outs[bandwidth]), speech, ys)
    smoe_enc, smoe_dec = outputs(smoe, speech, ys, bandwidth)
    assert torch.equal(enc, smoe_enc) and torch.equal(dec, smoe_dec)
    other = "wb" if bandwidth == "nb" else "nb"
    assert not torch.equal(enc, outputs(smoe, speech, ys, other)[0])  # the route matters


def test_shared_units_export_as_one_dense_ffn_per_route(tmp_path):
    """With shared units, a route's FFN is the shared part and its expert joined: the export is
    still the dense base, and computes what the S-MoE model computes on that route."""
    shared = ["--encoder_conf", "shared_units=12", "--decoder_conf", "shared_units=12"]
    smoe, exp = write_exp(tmp_path, "--encoder", "smoe_transformer", "--decoder",
                          "smoe_transformer", *shared)
    out = export(exp, tmp_path / "dense", "--bandwidth", "nb", "--task", "asr")
    dense_base, _ = build(tmp_path, "--model", "espnet", "--encoder", "transformer", "--decoder",
                          "transformer")
    assert size(load(out)) == size(dense_base)
    speech, ys = torch.randn(2, 4000), prefixed([ASR, ASR])
    enc, dec = outputs(load(out), speech, ys)
    smoe_enc, smoe_dec = outputs(smoe, speech, ys, "nb")
    torch.testing.assert_close(enc, smoe_enc)  # one matmul against two summed: rounding only
    torch.testing.assert_close(dec, smoe_dec)


CHILD = """
import sys
import nltk
nltk.download = lambda *args, **kwargs: False  # g2p_en's import-time download: stay offline
import torch
from espnet2.tasks.s2t import S2TTask

config, model_file, tensors = sys.argv[1:]
model, _ = S2TTask.build_model_from_file(config, model_file)
speech, expected = torch.load(tensors)
with torch.no_grad():
    enc, _ = model.eval().encode(speech, torch.full((len(speech),), speech.size(1)))
assert "espnet_smoe" not in sys.modules, "espnet_smoe was imported"
assert torch.equal(enc, expected), f"max difference {(enc - expected).abs().max()}"
print(type(model).__name__, type(model.encoder).__name__, type(model.decoder).__name__)
"""


def test_stock_espnet_builds_it_alone_with_the_smoe_encoder_output(exported, tmp_path):
    kind, smoe, outs = exported
    speech = torch.randn(1, 4000)
    torch.save((speech, outputs(smoe, speech, prefixed([ST]), "wb")[0]), tmp_path / "io.pt")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(outs["wb"] / "config.yaml"),
                           str(outs["wb"] / "model.pth"), str(tmp_path / "io.pt")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1].split() == ["ESPnetS2TModel", f"{kind.capitalize()}Encoder",
                                   "TransformerDecoder"]


@pytest.mark.parametrize("route, error", [
    (["--bandwidth", "xb", "--task", "asr"], "'xb'"),
    (["--bandwidth", "nb", "--task", "st_fra"], "'st_fra'"),
    (["--task", "asr"], "routed by bandwidth"),
])
def test_bad_route_is_a_clear_error(exported, route, error, tmp_path):
    _, _, outs = exported
    exp = outs["nb"].parent / "exp"
    with pytest.raises(ValueError, match=error):
        export(exp, tmp_path / "out", *route)


def test_learned_gate_model_is_refused(tmp_path):
    _, exp = write_exp(tmp_path, "--encoder", "smoe_transformer", "--decoder", "smoe_transformer",
                       "--encoder_conf", "router=learned", "--decoder_conf", "router=learned")
    with pytest.raises(ValueError, match="router: learned"):
        export(exp, tmp_path / "out", "--bandwidth", "nb", "--task", "asr")


def test_a_dense_encoder_needs_no_bandwidth(tmp_path):
    model, _ = build(tmp_path, "--encoder", "transformer", "--decoder", "smoe_transformer")
    assert route_experts(model, None, "st_eng") == {"decoder": 1}
    assert route_experts(model, None, "<asr>") == {"decoder": 0}
