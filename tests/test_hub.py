"""Versioning, packing with a model card (stage 10), Hub tags and the upload (stage 11), offline.

A tiny untrained model is laid out as the recipe leaves it (exp/, data/token_list/, stats) and
packed by stage 10 itself; the Hub is a local cache in the documented layout
(``models--org--name/snapshots/<commit>/``, ``refs/main``) read with ``HF_HUB_OFFLINE=1``, and
the upload's ``HfApi`` is a fake.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import yaml

from tiny_corpus import SENTENCES, SPECIALS, TINY_CONFIG

REPO = Path(__file__).resolve().parent.parent
TAG, HF_REPO, COMMIT = "s2t_tiny", "org/tiny", "0123456789abcdef0123456789abcdef01234567"
RESULTS = "# Results: exp/s2t_tiny/decode\n\n| test set | WER (%) |\n|---|---:|\n| test_nb | 99.9 |\n"
pytestmark = pytest.mark.slow  # the fixture builds and packs a model through stage 10


def s2t_sh(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPO / "local/s2t.sh"), "--src_lang", "spa", "--tgt_langs", "eng", "--tag", TAG,
         "--train_config", "train.yaml", "--bbpe_vocab_size", "300", *args],
        cwd=root, capture_output=True, text=True)


def make_exp(root: Path) -> Path:
    """A trained-looking exp as stage 7 leaves it (random weights), under the recipe paths."""
    import torch

    from espnet_smoe.task.s2t import SMoES2TTask
    from espnet_smoe.text.tokenizer import make_token_list, train_bbpe

    token_dir = root / "data/token_list/bbpe300"
    token_dir.mkdir(parents=True)
    bpe = train_bbpe([s for pair in SENTENCES for s in pair], token_dir / "bbpe", vocab_size=300)
    stats = root / "exp/s2t_stats_bbpe300/train/feats_stats.npz"
    stats.parent.mkdir(parents=True)
    np.savez(stats, count=np.array(1))  # packed, unused: the tiny config normalizes per utterance
    config = {**TINY_CONFIG, "decoder_conf": {**TINY_CONFIG["decoder_conf"], "route_tokens": "per_task"}}
    (root / "train.yaml").write_text(yaml.safe_dump(config))
    args = SMoES2TTask.get_parser().parse_args([])
    vars(args).update(config, token_list=make_token_list(bpe, SPECIALS), token_type="bbpe",
                      bpemodel=str(bpe.relative_to(root)), src_langs=["spa"])
    torch.manual_seed(0)
    model = SMoES2TTask.build_model(args)
    exp = root / "exp" / TAG
    exp.mkdir()
    torch.save(model.state_dict(), exp / "valid.acc.ave.pth")
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    (exp / "RESULTS.md").write_text(RESULTS)
    (exp / ".training_done").touch()
    return exp


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    exp = make_exp(root)
    proc = s2t_sh(root, "--stage", "10", "--stop_stage", "10", "--hf_repo", HF_REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, exp


@pytest.fixture
def hub(packed, tmp_path, monkeypatch):
    """An offline Hub cache holding HF_REPO as stage 11 uploads it; environment set late, as
    huggingface_hub reads its own at import."""
    _, exp = packed
    repo = tmp_path / "hf/hub" / f"models--{HF_REPO.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for name in (f"{TAG}.zip", "README.md"):
        shutil.copy(exp / name, snapshot / name)
    (repo / "refs").mkdir()
    (repo / "refs/main").write_text(COMMIT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_ASSETS_CACHE", raising=False)
    huggingface_hub = pytest.importorskip("huggingface_hub")

    def no_network(*args, **kwargs):
        raise AssertionError("the Hub was asked although HF_HUB_OFFLINE=1")

    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", no_network)
    return tmp_path / "hf", snapshot


def test_version_is_pyproject_s():
    import espnet_smoe

    pyproject = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    assert espnet_smoe.__version__ == version("espnet-smoe") == pyproject.group(1)
    light = subprocess.run(  # the version and the Hub helpers load neither torch nor the Hub client
        [sys.executable, "-c", "import sys, espnet_smoe, espnet_smoe.release.hub; espnet_smoe.__version__; "
         "print(sorted(m for m in ('torch', 'espnet2', 'huggingface_hub') if m in sys.modules))"],
        capture_output=True, text=True, check=True)
    assert light.stdout.strip() == "[]"


def test_pack_records_version_and_requirement_and_holds_the_card(packed):
    import espnet_smoe

    _, exp = packed
    with zipfile.ZipFile(exp / f"{TAG}.zip") as z:
        meta = yaml.safe_load(z.read("meta.yaml"))
        names = set(z.namelist())
        card = z.read(f"exp/{TAG}/README.md").decode()
    assert meta["espnet_smoe"] == espnet_smoe.__version__
    assert meta["requires"] == f"espnet-smoe>={espnet_smoe.__version__}"
    assert {f"exp/{TAG}/config.yaml", f"exp/{TAG}/valid.acc.ave.pth", f"exp/{TAG}/RESULTS.md",
            "data/token_list/bbpe300/bbpe.model"} <= names
    assert card == (exp / "README.md").read_text()


def test_model_card_says_what_the_model_is_and_how_to_load_it(packed):
    import espnet_smoe
    from espnet_smoe.task.build import build_model, count

    _, exp = packed
    card = (exp / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "espnet" and front["license"] == "apache-2.0"
    assert front["language"] == ["spa", "eng"] and "mixture-of-experts" in front["tags"]
    assert f"espnet_smoe {espnet_smoe.__version__} or newer" in card
    assert "`route_tokens: per_task` resolves to `<asr>` -> 0, `<st_eng>` -> 1" in card
    assert "routed by the input's bandwidth (`wb` -> 0, `nb` -> 1)" in card
    counts = count(build_model(exp / "config.yaml", None, None))
    assert f"| total | {counts['total']:,} " in card
    assert f"| active, route nb/translate | {counts['active']['nb/translate']:,} " in card
    assert "### Results: exp/s2t_tiny/decode" in card and "| test_nb | 99.9 |" in card
    assert f'Speech2Text.from_pretrained("{HF_REPO}")' in card
    assert f'from_pretrained("exp/{TAG}/{TAG}.zip")' in card and "arXiv:2508.10009" in card


def decode(s2t) -> list:
    t = np.arange(8000) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    return s2t(wav, lang_sym="<spa>", task_sym="<st_eng>", bandwidth="nb")[0][2]


def test_hub_tag_loads_offline_from_the_cache_and_decodes_as_the_local_pack(packed, hub, monkeypatch):
    from espnet_smoe import Speech2Text

    _, exp = packed
    hf_home, snapshot = hub
    kwargs = dict(beam_size=1, maxlenratio=0.3)
    by_tag = Speech2Text.from_pretrained(HF_REPO, **kwargs)
    local = Speech2Text.from_pretrained(exp / f"{TAG}.zip", **kwargs)
    assert decode(by_tag) == decode(local)
    unpacked = hf_home / "assets/espnet_smoe" / HF_REPO.replace("/", "--") / COMMIT
    assert (unpacked / "meta.yaml").is_file()  # in the assets cache ...
    assert sorted(p.name for p in snapshot.iterdir()) == ["README.md", f"{TAG}.zip"]  # ... not here
    # an explicit cache_dir wins over the environment
    monkeypatch.setenv("HF_HOME", str(hf_home / "elsewhere"))
    again = Speech2Text.from_pretrained(HF_REPO, cache_dir=hf_home / "hub", **kwargs)
    assert decode(again) == decode(local)


def test_an_absent_tag_offline_fails_naming_it(hub):
    from espnet_smoe import Speech2Text

    with pytest.raises(FileNotFoundError, match=r"'org/absent'.*HF_HUB_OFFLINE=1"):
        Speech2Text.from_pretrained("org/absent")
    with pytest.raises(FileNotFoundError, match="neither a pack"):
        Speech2Text.from_pretrained("no/such/pack.zip")


def test_stage_11_is_a_dry_run_by_default(packed):
    root, exp = packed
    proc = s2t_sh(root, "--stage", "11", "--stop_stage", "11", "--hf_repo", HF_REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"dry run: would upload to https://huggingface.co/{HF_REPO}" in proc.stdout
    assert f"{TAG}.zip" in proc.stdout and "README.md" in proc.stdout
    assert "nothing was uploaded" in proc.stdout
    assert s2t_sh(root, "--stage", "11", "--stop_stage", "11").returncode != 0  # no --hf_repo


class FakeApi:
    calls = []

    def __init__(self, **kwargs):
        pass

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        return type("CommitInfo", (), {"commit_url": "https://huggingface.co/org/tiny/commit/1"})()


def test_upload_calls_the_hub_only_when_asked(packed, monkeypatch, capsys):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    from espnet_smoe.bin import upload

    _, exp = packed
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.calls = []
    upload.main(["--exp", str(exp), "--hf_repo", HF_REPO])
    assert FakeApi.calls == [] and "dry run" in capsys.readouterr().out
    upload.main(["--exp", str(exp), "--hf_repo", HF_REPO, "--hf_upload", "true"])
    assert FakeApi.calls[0] == ("create_repo", HF_REPO,
                                {"repo_type": "model", "private": False, "exist_ok": True})
    _, sent = FakeApi.calls[1]
    assert sent["repo_id"] == HF_REPO and Path(sent["folder_path"]) == exp
    assert sent["allow_patterns"] == [f"{TAG}.zip", "README.md"]
    assert "uploaded: https://huggingface.co/org/tiny/commit/1" in capsys.readouterr().out
    with pytest.raises(ValueError, match="not a Hub repository id"):
        upload.main(["--exp", str(exp), "--hf_repo", "tiny"])


def test_a_pack_from_a_newer_espnet_smoe_warns_what_to_install():
    from espnet_smoe.release.pack import check_version

    with pytest.warns(UserWarning, match=r'packed with espnet_smoe 99\.0.*"espnet-smoe>=99\.0"'):
        check_version("99.0", "model.zip")
