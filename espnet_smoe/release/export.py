"""One fixed route of an S-MoE model, exported as a dense model that stock ESPnet builds.

On a fixed route (a bandwidth, a task) each S-MoE FFN runs one expert, and an expert is ESPnet's
own ``PositionwiseFeedForward`` (see :mod:`espnet_smoe.nets.experts`). Putting the chosen expert where
the S-MoE FFN sat gives the dense network, parameter for parameter, so the export is
``model: espnet`` with ``transformer``/``conformer`` stacks; the config keeps every other option.

The data pipeline stays this package's and says so: ``token_type: bbpe`` and ``preprocessor:
smoe_s2t`` are not ESPnet's, and expressing them in ESPnet's terms would misstate how text
becomes ids. Building the model never reads them; the export's README says what stock ESPnet
can and cannot do with it.
"""

import argparse
import copy
import inspect
import logging
import shutil
from pathlib import Path
from typing import Dict, Optional, Union

import torch
from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

from espnet_smoe._imports import offline_import, quiet_import
from espnet_smoe.nets.route import is_routed
from espnet_smoe.nets.smoe_layer import SMoEFeedForward
from espnet_smoe.task.s2t import SMoES2TTask
from espnet_smoe.text.multitask import task_token

with quiet_import(), offline_import():  # ESPnet's attention notice; g2p_en's nltk download
    from espnet2.tasks import s2t

# S-MoE choice -> the ESPnet choice it extends (the same names for model, encoder and decoder;
# building the model renamed a former name in the config, see task.s2t.current_choices)
STOCK = {"smoe": "espnet", "smoe_transformer": "transformer", "smoe_conformer": "conformer"}
CHOICES = {"model": s2t.model_choices, "encoder": s2t.encoder_choices,
           "decoder": s2t.decoder_choices}
MODEL_FILE = "model.pth"

PathLike = Union[Path, str]


def route_experts(model, bandwidth: Optional[str], task: Optional[str]) -> Dict[str, int]:
    """The expert each S-MoE stack of ``model`` runs on one route, e.g. ``{"encoder": 1,
    "decoder": 0}`` for ``nb`` and ``asr``; a dense stack has none to pick and is left out.

    ``task`` is a task name (``asr``, ``st_eng``) or its token (``<st_eng>``).
    """
    experts = {}
    for name in ("encoder", "decoder"):
        stack = getattr(model, name)
        if getattr(stack, "gates", None) is not None:
            raise ValueError(f"the {name} has a learned gate (router: learned): it picks experts "
                             "per token, so no fixed route exists to export")
        if not is_routed(stack):
            continue
        experts[name] = (_bandwidth_expert(model, bandwidth) if name == "encoder"
                         else _task_expert(stack, task))
    return experts


def _bandwidth_expert(model, bandwidth: Optional[str]) -> int:
    if bandwidth is None:
        raise ValueError(f"the encoder is routed by bandwidth: give one of {model.bandwidth_labels}")
    return model.bandwidth_expert(bandwidth)


def _task_expert(decoder, task: Optional[str]) -> int:
    if task is None:
        raise ValueError(f"the decoder is routed by task: give one of {list(decoder.route_tokens)}")
    try:
        return decoder.expert_of(task if task.startswith("<") else task_token(task))
    except ValueError as error:
        raise ValueError(f"unknown task '{task}': {error}") from None


def keep_expert(stack: torch.nn.Module, expert: int) -> None:
    """Put ``expert`` of each S-MoE FFN of ``stack`` in that FFN's place: a dense FFN again."""
    for name, module in list(stack.named_modules()):
        if isinstance(module, SMoEFeedForward):
            parent, _, attr = name.rpartition(".")
            setattr(stack.get_submodule(parent), attr, module.dense(expert))


def stock_config(config: dict) -> dict:
    """``config`` with each S-MoE choice swapped for the ESPnet class it extends, less the
    options only the S-MoE class takes (``num_experts``, ``route_tokens``, ``moe_aux_weight``,
    ...)."""
    config = copy.deepcopy(config)
    for kind, choices in CHOICES.items():
        name = config.get(kind)
        if name not in STOCK:
            continue
        own = set(inspect.signature(choices.get_class(name)).parameters)
        extra = own - set(inspect.signature(choices.get_class(STOCK[name])).parameters)
        config[kind] = STOCK[name]
        conf = config.get(f"{kind}_conf") or {}
        config[f"{kind}_conf"] = {k: v for k, v in conf.items() if k not in extra}
    return config


def carry_files(config: dict, out: Path) -> dict:
    """Copy the statistics and BBPE model ``config`` names into ``out``, and name the copies."""

    def carry(path: PathLike) -> str:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} (named in the config) is missing: run from the "
                                    "directory the config's paths are relative to")
        shutil.copy(path, out)
        return str(out / Path(path).name)

    config = copy.deepcopy(config)
    if config.get("normalize") == "global_mvn":
        conf = config["normalize_conf"]
        conf["stats_file"] = carry(conf["stats_file"])
    if config.get("bpemodel"):
        config["bpemodel"] = carry(config["bpemodel"])
    return config


def export_route(
    s2t_train_config: PathLike,
    s2t_model_file: PathLike,
    output_dir: PathLike,
    bandwidth: Optional[str] = None,
    task: Optional[str] = None,
) -> Path:
    """Write the dense model of one route into ``output_dir``: ``config.yaml``, ``model.pth``,
    the statistics and BBPE model the config names, and a README; returns ``output_dir``.

    Paths in the new config are ``output_dir/<file>``, so relative to the working directory if
    ``output_dir`` is (ESPnet's convention), as the source config's paths are.
    """
    model, args = SMoES2TTask.build_model_from_file(s2t_train_config)
    # strict, unlike ESPnet's loading: an expert missing from the file would export at random
    model.load_state_dict(torch.load(s2t_model_file, map_location="cpu", weights_only=False))
    experts = route_experts(model, bandwidth, task)
    for name, expert in experts.items():
        keep_expert(getattr(model, name), expert)

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = carry_files(stock_config(vars(args)), out)  # token_list: the list build_model read

    dense = s2t.S2TTask.build_model(argparse.Namespace(**copy.deepcopy(config)))
    dense.load_state_dict(model.state_dict())  # strict: the dense keys, each once
    torch.save(dense.state_dict(), out / MODEL_FILE)
    with open(out / "config.yaml", "w", encoding="utf-8") as f:
        yaml_no_alias_safe_dump(config, f, indent=4, sort_keys=False)
    stacks = ", ".join(f"{name} expert {e}" for name, e in experts.items()) or "no S-MoE stack"
    route = f"bandwidth {bandwidth}, task {task}: {stacks}"
    source = f"`{s2t_train_config}`, `{s2t_model_file}`"
    (out / "README.md").write_text(readme(source, route, out, config), encoding="utf-8")
    logging.info(f"exported {route} to {out}")
    return out


def readme(source: str, route: str, out: Path, config: dict) -> str:
    """What the export is, and what stock ESPnet can and cannot do with it."""
    classes = ", ".join(f"`{kind}: {config.get(kind)}`" for kind in CHOICES)
    return f"""# Dense export of one S-MoE route

Source: {source}.
Route: {route}.
In each S-MoE FFN the chosen expert became the dense FFN; no other parameter changed.

## Stock ESPnet can
- build and load it without espnet_smoe ({classes}):
  `S2TTask.build_model_from_file("{out}/config.yaml", "{out}/{MODEL_FILE}")`;
- run frontend, encoder, decoder and CTC: they compute what the S-MoE model computes on this
  route, for one utterance or a batch of equal lengths (in a padded batch ESPnet lets padding
  reach a shorter utterance's last frames; espnet_smoe encodes each at its own length);
- search with its `BeamSearch`, forcing the prefix `<sos> <lang> <task>`: the token list (and
  so every id) is the S-MoE model's.

## It needs espnet_smoe to
- turn text into tokens and back: `token_type: bbpe` is byte-level BPE
  (`espnet_smoe.text.tokenizer.BBPETokenizer` over `bpemodel`), which ESPnet's tokenizers lack;
- prepare data or train with this config (`preprocessor: smoe_s2t`).

ESPnet's `espnet2.bin.s2t_inference.Speech2Text` does not fit it: it expects OWSM's timestamp
tokens (`<notimestamps>`, ...) and 30 s windows. The paths in `config.yaml` start with the
output directory as it was given: relative ones, to the directory the export was made from.
"""
