"""End to end through the command-line entry points: collect stats, train two steps, decode.

Runs on a generated tiny corpus (tests/tiny_corpus.py), so it checks plumbing, not accuracy.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from conftest import routes_taken
from espnet_smoe.audio.bandwidth import BANDWIDTHS
from espnet_smoe.text.multitask import utterance_id
from tiny_corpus import write_tiny_corpus

pytestmark = pytest.mark.slow
FIELDS = [("wav.scp", "speech", "sound"), ("text", "text", "text"), ("text.ctc", "text_ctc", "text"),
          ("text.prev", "text_prev", "text"), ("utt2bw", "bandwidth", "text")]
VALID_TRANSLATIONS = ("utt0", "utt4")  # the only utterances whose translation example is validated


def run(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{' '.join(args[:1])} failed:\n{proc.stderr[-3000:]}"
    return proc.stdout


def data_args(dirs: dict, *, stats: Path = None) -> list:
    args = []
    for split, data in dirs.items():
        for path, name, kind in FIELDS:
            args += [f"--{split}_data_path_and_name_and_type", f"{data / path},{name},{kind}"]
        shapes = [data / "wav.scp"] if stats is None else [
            stats / split / "speech_shape", stats / split / "text_shape"]
        for shape in shapes:
            args += [f"--{split}_shape_file", str(shape)]
    return args


def validation_set(data: Path, out: Path) -> Path:
    """Every transcription example and the translation examples of VALID_TRANSLATIONS: neither
    the bandwidths (6 WB of 10) nor the tasks (8 transcriptions of 10) split evenly."""
    def kept(example: str) -> bool:
        return example.endswith("_asr") or utterance_id(example).endswith(VALID_TRANSLATIONS)

    out.mkdir()
    for table in (t for t in data.iterdir() if t.is_file()):
        lines = table.read_text().splitlines(keepends=True)
        (out / table.name).write_text("".join(line for line in lines if kept(line.split()[0])))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    corpus = write_tiny_corpus(root)
    dirs = {"train": corpus["data"], "valid": validation_set(corpus["data"], root / "valid")}
    common = ["--config", str(corpus["config"]), "--token_list", str(corpus["token_list"]),
              "--bpemodel", str(corpus["bpemodel"]), "--num_att_plot", "0"]
    train = "espnet_smoe.bin.s2t_train"
    run(train, *common, *data_args(dirs), "--collect_stats", "true",
        "--output_dir", str(root / "stats"), cwd=root)
    run(train, *common, *data_args(dirs, stats=root / "stats"),
        "--fold_length", "80000", "--fold_length", "150", "--output_dir", str(root / "exp"),
        cwd=root)
    return root, corpus


def epoch_stats(exp: Path, split: str) -> dict:
    """The last epoch's ``train`` or ``valid`` statistics from ESPnet's reporter state."""
    import torch

    reporter = torch.load(exp / "checkpoint.pth", weights_only=False)["reporter"]
    stats = reporter["stats"][max(reporter["stats"])][split]
    return {k: float(v) for k, v in stats.items() if isinstance(v, (int, float))}


def expected_shares(data: Path, route_tokens: dict) -> dict:
    """Each expert's share of the examples, from the data files alone: ``utt2bw`` for the
    encoder, the task token of ``text`` for the decoder."""
    labels = [line.split()[1] for line in (data / "utt2bw").read_text().splitlines()]
    texts = [line.split(maxsplit=1)[1] for line in (data / "text").read_text().splitlines()]
    shares = {f"enc_{bw}": labels.count(bw) / len(labels) for bw in BANDWIDTHS}
    for token, expert in route_tokens.items():
        shares[f"dec_e{expert}"] = sum(token in text for text in texts) / len(texts)
    return shares


def test_training_reports_each_experts_share_of_the_data(trained):
    root, _ = trained
    exp = root / "exp"
    assert (exp / "valid.loss.best.pth").exists()
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["model"] == "smoe" and config["token_type"] == "bbpe"
    assert "token_list" not in config["decoder_conf"]  # passed at build time, not persisted
    expected = expected_shares(root / "valid", config["decoder_conf"]["route_tokens"])
    assert sorted(expected) == ["dec_e0", "dec_e1", "enc_nb", "enc_wb"]
    assert expected["enc_wb"] == 0.6 and expected["dec_e0"] == 0.8  # the uneven validation set
    assert set(expected) <= set(epoch_stats(exp, "train"))
    # validation sees every example once, and ESPnet weights each batch's shares by its size,
    # so the epoch's share of each expert is its share of the validation examples
    valid = epoch_stats(exp, "valid")
    assert {k: valid[k] for k in expected} == pytest.approx(expected)


def test_speech2text_decodes_under_each_route(trained):
    from espnet_smoe import Speech2Text

    root, corpus = trained
    s2t = Speech2Text(root / "exp/config.yaml", root / "exp/valid.loss.best.pth",
                      beam_size=2, maxlenratio=0.3)
    wav, _ = sf.read(corpus["data"] / "wav/utt0.wav")
    for task in ("<asr>", "<st_eng>"):
        for bandwidth in ("wb", "nb"):
            with routes_taken() as taken:
                text, tokens, ids, text_nospecial, hyp = s2t(
                    wav, lang_sym="<spa>", task_sym=task, bandwidth=bandwidth)[0]
            assert tokens[:2] == ["<spa>", task]  # the forced prefix
            assert text.startswith(f"<spa>{task}") and "<" not in text_nospecial[:1]
            assert taken["encoder"][-1][BANDWIDTHS.index(bandwidth)] == 1
    with pytest.raises(ValueError, match="'<eng>'"):
        s2t(wav, lang_sym="<spa>", task_sym="<eng>", bandwidth="wb")
    with pytest.raises(ValueError, match="'xb'"):
        s2t(wav, lang_sym="<spa>", task_sym="<asr>", bandwidth="xb")


def test_inference_cli_writes_espnet_outputs(trained):
    root, corpus = trained
    out = root / "decode"
    run("espnet_smoe.bin.s2t_inference", "--s2t_train_config", str(root / "exp/config.yaml"),
        "--s2t_model_file", str(root / "exp/valid.loss.best.pth"),
        "--data_path_and_name_and_type", f"{corpus['data'] / 'wav.scp'},speech,sound",
        "--data_path_and_name_and_type", f"{corpus['data'] / 'utt2bw'},bandwidth,text",
        "--lang_sym", "spa", "--task_sym", "asr", "--beam_size", "1", "--maxlenratio", "0.3",
        "--output_dir", str(out), cwd=root)
    keys = [line.split()[0] for line in (corpus["data"] / "wav.scp").read_text().splitlines()]
    for name in ("text", "token", "token_int", "score"):
        lines = (out / "1best_recog" / name).read_text().splitlines()
        assert sorted(line.split(maxsplit=1)[0] for line in lines) == sorted(keys)


def test_inference_cli_batches_utterances_and_reports_timing(trained):
    root, corpus = trained
    outputs = {}
    for batch_size in (1, 3):
        out = root / f"decode_b{batch_size}"
        run("espnet_smoe.bin.s2t_inference", "--s2t_train_config", str(root / "exp/config.yaml"),
            "--s2t_model_file", str(root / "exp/valid.loss.best.pth"),
            "--data_path_and_name_and_type", f"{corpus['data'] / 'wav.scp'},speech,sound",
            "--data_path_and_name_and_type", f"{corpus['data'] / 'utt2bw'},bandwidth,text",
            "--lang_sym", "spa", "--task_sym", "st_eng", "--beam_size", "2", "--maxlenratio", "0.3",
            "--batch_size", str(batch_size), "--output_dir", str(out), cwd=root)
        outputs[batch_size] = dict(line.split(maxsplit=1) for line in
                                   (out / "1best_recog/token_int").read_text().splitlines())
        timing = json.loads((out / "timing.json").read_text())
        assert timing["utterances"] == len(outputs[batch_size]) and timing["rtf"] > 0
    assert outputs[3] == outputs[1]  # an utterance decodes alike alone and in a padded batch


def test_swapped_routes_send_utterances_to_the_other_experts(trained):
    from espnet_smoe import Speech2Text

    root, corpus = trained
    wav, _ = sf.read(corpus["data"] / "wav/utt0.wav")
    for swap, enc_counts, dec_expert in (("none", [0, 1], 0), ("encoder", [1, 0], 0),
                                          ("decoder", [0, 1], 1), ("both", [1, 0], 1)):
        s2t = Speech2Text(root / "exp/config.yaml", root / "exp/valid.loss.best.pth",
                          beam_size=1, maxlenratio=0.1, swap_routes=swap)
        with routes_taken() as taken:
            s2t(wav, lang_sym="<spa>", task_sym="<asr>", bandwidth="nb")
        assert taken["encoder"][-1] == tuple(enc_counts), swap
        assert taken["decoder"][-1][dec_expert] == 1, swap
    with pytest.raises(ValueError, match="swap_routes"):
        Speech2Text(root / "exp/config.yaml", root / "exp/valid.loss.best.pth", swap_routes="gate")


def test_count_params_reports_total_and_active_routes(trained):
    root, corpus = trained
    counts = json.loads(run("espnet_smoe.bin.count_params", str(root / "exp/config.yaml"),
                            "--json", cwd=root))
    routes = {"wb/transcribe", "wb/translate", "nb/transcribe", "nb/translate"}
    assert set(counts["active"]) == routes
    # every S-MoE FFN here has 2 equal experts: active = total - CTC - one expert per S-MoE FFN
    config = yaml.safe_load(corpus["config"].read_text())
    d, ffn = config["encoder_conf"]["output_size"], config["encoder_conf"]["linear_units"]
    n_ffns = config["encoder_conf"]["num_blocks"] + config["decoder_conf"]["num_blocks"]
    expert = 2 * d * ffn + ffn + d
    for n in counts["active"].values():
        assert n == counts["total"] - counts["ctc"] - n_ffns * expert


def test_inference_cli_routes_by_detection_or_flipped_labels_and_records_it(trained):
    root, corpus = trained
    common = ["espnet_smoe.bin.s2t_inference", "--s2t_train_config", str(root / "exp/config.yaml"),
              "--s2t_model_file", str(root / "exp/valid.loss.best.pth"),
              "--data_path_and_name_and_type", f"{corpus['data'] / 'wav.scp'},speech,sound",
              "--data_path_and_name_and_type", f"{corpus['data'] / 'utt2bw'},bandwidth,text",
              "--lang_sym", "spa", "--task_sym", "asr", "--beam_size", "1", "--maxlenratio", "0.3"]
    labels = dict(line.split() for line in (corpus["data"] / "utt2bw").read_text().splitlines())
    run(*common, "--output_dir", str(root / "labelled"), cwd=root)
    assert (root / "labelled/bw_disagree").read_text() == ""  # compared, none disagreed
    run(*common, "--bw_flip", "1.0", "--output_dir", str(root / "flipped"), cwd=root)
    routed = dict(line.split(maxsplit=1) for line in (root / "flipped/bandwidth").read_text().splitlines())
    assert routed == {k: f"{'nb' if v == 'wb' else 'wb'} utt2bw+flipped" for k, v in labels.items()}
    assert len((root / "flipped/bw_disagree").read_text().splitlines()) == len(labels)
    run(*common, "--bandwidth", "auto", "--output_dir", str(root / "auto"), cwd=root)
    routed = dict(line.split(maxsplit=1) for line in (root / "auto/bandwidth").read_text().splitlines())
    assert set(routed) == set(labels) and all(v.endswith(" detected") for v in routed.values())
