"""Packing a trained model (stage 10) and unpacking it for ``Speech2Text.from_pretrained``.

ESPnet's ``pack`` zips the files under their paths relative to the working directory (the
recipe dir), so that the unpacked ``config.yaml`` finds its BBPE model and statistics again,
and writes ``meta.yaml`` (file roles, torch and espnet versions). Stock ESPnet cannot build
``model: smoe``, so this also packs the model card (``README.md``) and adds to ``meta.yaml``
the espnet_smoe version that packed it and the requirement it implies.
"""

import os
import warnings
import zipfile
from pathlib import Path
from typing import Dict, Iterable, Optional, Union

import yaml

from espnet_smoe.release.model_card import exp_card, requirement
from espnet_smoe.version import package_version

META = "meta.yaml"


def pack_model(
    exp: Path,
    model_file: Path,
    outpath: Path,
    options: Iterable[Path] = (),
    hf_repo: Optional[str] = None,
    license: str = "apache-2.0",
) -> Path:
    """Write ``exp/README.md`` (the card) and zip config, model, ``options``, RESULTS.md (if
    scored) and the card into ``outpath``; run from the recipe dir, which the paths lie under."""
    from espnet2.main_funcs.pack_funcs import pack

    ours = package_version()

    exp, outpath = Path(exp), Path(outpath)
    if outpath.suffix != ".zip":
        raise ValueError(f"{outpath}: packs are zip files")
    card = exp / "README.md"
    card.write_text(exp_card(exp / "config.yaml", outpath.stem, ours, hf_repo, license),
                    encoding="utf-8")
    extras = [p for p in (exp / "RESULTS.md", card) if p.is_file()]
    files = [exp / "config.yaml", Path(model_file), *map(Path, options), *extras]
    outside = [str(f) for f in files if not f.resolve().is_relative_to(Path.cwd().resolve())]
    if outside:  # ESPnet would store them by absolute path, unusable elsewhere
        raise ValueError(f"pack from the directory the files lie under; outside it: {outside}")
    pack(files={"s2t_model_file": model_file}, yaml_files={"s2t_train_config": exp / "config.yaml"},
         outpath=outpath, option=[*options, *extras])
    stamp(outpath, {"espnet_smoe": ours, "requires": requirement(ours)})
    return outpath


def stamp(archive: Path, fields: Dict[str, str]) -> None:
    """Add ``fields`` to the ``meta.yaml`` of a zip (rewritten: zip entries cannot be replaced)."""
    tmp = archive.with_name(archive.name + ".tmp")
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == META:
                data = yaml.safe_dump({**yaml.safe_load(data), **fields}).encode()
            dst.writestr(info, data)
    os.replace(tmp, archive)


def unpack_model(archive: Union[Path, str], outdir: Union[Path, str]) -> Dict[str, str]:
    """Unpack (once: ESPnet reuses a complete earlier unpacking) and return ESPnet's file roles
    (``s2t_train_config``, ``s2t_model_file``); warn when a newer espnet_smoe packed it."""
    from espnet2.main_funcs.pack_funcs import unpack

    files = unpack(archive, outdir)
    meta = yaml.safe_load((Path(outdir) / META).read_text(encoding="utf-8")) or {}
    check_version(meta.get("espnet_smoe"), str(archive))
    return files


def check_version(packed: Optional[str], what: str) -> None:
    from packaging.version import InvalidVersion, Version

    ours = package_version()

    try:
        newer = packed is not None and Version(str(packed)) > Version(ours)
    except InvalidVersion:
        return
    if newer:
        warnings.warn(f"{what} was packed with espnet_smoe {packed}, this is {ours}: if it "
                      f"fails to load, pip install \"{requirement(str(packed))}\"", stacklevel=3)
