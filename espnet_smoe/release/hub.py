"""Packs on the Hugging Face Hub: ``org/name`` tags for ``Speech2Text.from_pretrained``, and the
upload of stage 11.

A repository holds what stage 10 writes: the zip and its model card (``README.md``, the Hub's
model page). A tag is fetched with ``huggingface_hub.snapshot_download`` into the Hub cache and
its zip unpacked into the Hub's assets cache, not into the snapshot, whose files are links to
shared blobs. huggingface_hub reads its environment once, at import; here ``HF_HUB_OFFLINE``,
``HF_HOME``, ``HF_HUB_CACHE`` and ``HF_ASSETS_CACHE`` are read at each call, so that they hold
however late they are set (tests, notebooks). huggingface_hub is imported only for the Hub.
"""

import os
import re
from pathlib import Path
from typing import List, Optional, Tuple, Union

from espnet_smoe.version import package_version

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
LIBRARY = "espnet_smoe"


def _env_dir(var: str, under_home: str) -> Optional[str]:
    """``$var``, else ``$HF_HOME/<under_home>``, else None (huggingface_hub's default)."""
    if os.environ.get(var):
        return os.environ[var]
    return os.path.join(os.environ["HF_HOME"], under_home) if os.environ.get("HF_HOME") else None


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def only_zip(folder: Path) -> Path:
    """The one pack (``*.zip``) in ``folder``."""
    zips = sorted(folder.glob("*.zip"))
    if len(zips) != 1:
        raise FileNotFoundError(f"{folder} holds {len(zips)} packs (*.zip); expected one")
    return zips[0]


def locate(
    model: Union[Path, str], cache_dir: Optional[str] = None, revision: Optional[str] = None
) -> Tuple[Path, Path]:
    """(the zip, where to unpack it by default) for a pack, a folder holding one, or a tag."""
    path = Path(model)
    if path.exists():
        archive = path if path.is_file() else only_zip(path)
        return archive, archive.with_name(archive.stem + ".unpacked")
    if not REPO_ID.fullmatch(str(model)):
        raise FileNotFoundError(f"'{model}' is neither a pack (zip) or folder, nor a Hub tag org/name")
    snapshot = download(str(model), cache_dir, revision)
    return only_zip(snapshot), assets_dir(str(model), snapshot.name)


def download(repo_id: str, cache_dir: Optional[str] = None, revision: Optional[str] = None) -> Path:
    """The snapshot folder of Hub model ``repo_id``, downloaded or (offline) from the cache."""
    try:
        import huggingface_hub
        from huggingface_hub.utils import (
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError as e:
        raise ImportError(
            f"'{repo_id}' names a Hugging Face Hub model: pip install huggingface_hub") from e
    ours = package_version()

    local = offline()
    try:
        return Path(huggingface_hub.snapshot_download(
            repo_id, revision=revision, cache_dir=cache_dir or _env_dir("HF_HUB_CACHE", "hub"),
            local_files_only=local, library_name=LIBRARY, library_version=ours,
        ))
    except (LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as e:
        where = "in the local Hub cache (HF_HUB_OFFLINE=1)" if local else "on the Hugging Face Hub"
        at = f" (revision {revision})" if revision else ""
        raise FileNotFoundError(
            f"model '{repo_id}'{at} is not a local pack or folder, nor found {where}: {e}") from e


def assets_dir(repo_id: str, revision: str) -> Path:
    """Where the pack of one snapshot of ``repo_id`` is unpacked: the Hub's assets cache."""
    from huggingface_hub import cached_assets_path

    return cached_assets_path(LIBRARY, namespace=repo_id.replace("/", "--"), subfolder=revision,
                              assets_dir=_env_dir("HF_ASSETS_CACHE", "assets"))


def upload(
    hf_repo: str, folder: Path, names: List[str], really: bool = False, private: bool = False
) -> List[str]:
    """Upload ``folder``'s files ``names`` to the root of Hub model ``hf_repo`` (created if
    needed) when ``really``; else a dry run that writes nothing remote. Returns what it says."""
    if not REPO_ID.fullmatch(hf_repo):
        raise ValueError(f"--hf_repo '{hf_repo}' is not a Hub repository id org/name")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {missing} (run stage 10 first)")
    lines = [f"{'uploading to' if really else 'dry run: would upload to'} "
             f"https://huggingface.co/{hf_repo} ({'private' if private else 'public'} model repo):"]
    lines += [f"  {n}  ({(folder / n).stat().st_size:,} bytes)" for n in names]
    card = folder / "README.md"
    if card.is_file() and hf_repo not in card.read_text(encoding="utf-8"):
        lines.append(f"note: {card} does not name {hf_repo}: rerun stage 10 with --hf_repo {hf_repo}")
    if not really:
        return lines + ["nothing was uploaded: pass --hf_upload true to upload"]
    from huggingface_hub import HfApi

    ours = package_version()

    api = HfApi(library_name=LIBRARY, library_version=ours)
    api.create_repo(hf_repo, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=hf_repo, repo_type="model", folder_path=str(folder), allow_patterns=names,
        commit_message=f"espnet_smoe {ours}: {names[0]}")
    return lines + [f"uploaded: {getattr(commit, 'commit_url', commit)}"]
