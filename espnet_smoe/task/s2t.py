"""The S-MoE speech-to-text task: ESPnet's ``S2TTask`` with the S-MoE classes as choices.

``S2TTask.build_model`` and ``build_preprocess_fn`` look classes up in ``espnet2.tasks.s2t``'s
module-level ``ClassChoices`` registries. Adding the S-MoE classes there, rather than copying
those methods, keeps every stock choice (``transformer``, ``conformer``, ``espnet``, ``s2t``, ...)
working in the same configs:

====================  =======================================================
``--model``           ``smoe`` (:class:`~espnet_smoe.nets.model.SMoES2TModel`)
``--encoder``         ``smoe_transformer``, ``smoe_conformer`` (S-MoE by default; the
                      learned-gate comparison with ``router: learned``)
``--decoder``         ``smoe_transformer`` (likewise)
``--preprocessor``    ``smoe_s2t`` (variable-length speech, ``bbpe``, ``utt2bw``)
``--token_type``      ``bbpe`` in addition to ESPnet's types
====================  =======================================================

Configs and packs made before each class had one name may say ``moe_transformer`` or
``moe_conformer``; :func:`current_choices` renames them when a model is built.
"""

import argparse
import copy
import logging
from typing import Callable, Collection, Dict, List, Tuple

import numpy as np
import torch

from espnet_smoe._imports import offline_import, quiet_import
from espnet_smoe.nets.decoder import MoETransformerDecoder, read_token_list
from espnet_smoe.nets.encoder import MoEConformerEncoder, MoETransformerEncoder
from espnet_smoe.nets.model import SMoES2TModel
from espnet_smoe.task.preprocessor import SMoES2TPreprocessor

with quiet_import(), offline_import():  # ESPnet's attention notice; g2p_en's nltk download
    from espnet2.tasks import s2t
    from espnet2.tasks.s2t import S2TTask
    from espnet2.train.collate_fn import CommonCollateFn

s2t.model_choices.classes["smoe"] = SMoES2TModel
s2t.encoder_choices.classes["smoe_transformer"] = MoETransformerEncoder
s2t.encoder_choices.classes["smoe_conformer"] = MoEConformerEncoder
s2t.decoder_choices.classes["smoe_transformer"] = MoETransformerDecoder
s2t.preprocessor_choices.classes["smoe_s2t"] = SMoES2TPreprocessor

# choice -> {former name: current name}
LEGACY_NAMES = {
    "encoder": {"moe_transformer": "smoe_transformer", "moe_conformer": "smoe_conformer"},
    "decoder": {"moe_transformer": "smoe_transformer"},
}


def current_choices(args: argparse.Namespace) -> None:
    """Rename, in ``args``, the encoder and decoder choices of a config made before each class
    had one name, saying so; what training then writes into config.yaml is the current name."""
    for kind, renamed in LEGACY_NAMES.items():
        name = getattr(args, kind, None)
        if name in renamed:
            logging.info(f"{kind}: {name} is the former name of {renamed[name]}; building that")
            setattr(args, kind, renamed[name])

BANDWIDTH = "bandwidth"


class SMoES2TTask(S2TTask):
    """S2T with S-MoE encoder/decoder, a ``bandwidth`` input and BBPE tokens."""

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        super().add_task_arguments(parser)
        parser.add_argument(
            "--src_langs", type=str, nargs="+", default=None,
            help="languages of the training speech (ISO 639-3, e.g. spa); kept in config.yaml "
            "so that decoding refuses other source-language tokens",
        )
        # argparse offers no public way to extend an option's choices.
        parser._option_string_actions["--token_type"].choices.append("bbpe")
        parser.set_defaults(
            model="smoe",
            preprocessor="smoe_s2t",
            token_type="bbpe",
            # An expert idle in a batch (single-task batches) has no gradient: tell DDP.
            unused_parameters=True,
        )

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable[
        [Collection[Tuple[str, Dict[str, np.ndarray]]]],
        Tuple[List[str], Dict[str, torch.Tensor]],
    ]:
        # bandwidth is one id per utterance: no padding, no *_lengths
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1, not_sequence=[BANDWIDTH])

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return (*super().optional_data_names(train, inference), BANDWIDTH)

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool):
        """S2TTask.build_preprocess_fn; the S-MoE preprocessor also receives the encoder's
        ``route_labels`` (the ``utt2bw`` classes), so the labels have one home in the config."""
        labels = (getattr(args, "encoder_conf", None) or {}).get("route_labels")
        if labels is None or getattr(args, "preprocessor", None) != "smoe_s2t":
            return super().build_preprocess_fn(args, train)
        build_args = copy.copy(args)
        build_args.preprocessor_conf = {**args.preprocessor_conf, "bandwidth_labels": labels}
        return super().build_preprocess_fn(build_args, train)

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> SMoES2TModel:
        """S2TTask.build_model; the S-MoE decoder also receives the token list (to map its
        guiding tokens) without it being written into ``decoder_conf`` of config.yaml. Former
        class names are translated first (:func:`current_choices`)."""
        current_choices(args)
        args.token_list = read_token_list(args.token_list)
        decoder = getattr(args, "decoder", None)
        if decoder is None or not issubclass(
            s2t.decoder_choices.get_class(decoder), MoETransformerDecoder
        ):
            return super().build_model(args)
        build_args = copy.copy(args)
        build_args.decoder_conf = {**args.decoder_conf, "token_list": args.token_list}
        model = super().build_model(build_args)
        logging.info(f"S-MoE decoder routes: {model.decoder.route_tokens}")
        return model
