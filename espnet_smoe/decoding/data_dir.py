"""Decode a data directory with an S-MoE model into ESPnet's ``s2t_inference`` outputs.

Writes ``<output_dir>/<n>best_recog/{text,text_nospecial,token,token_int,score}`` and
``<output_dir>/timing.json`` (decoding seconds, audio seconds, real-time factor). An utterance
too short for the model to decode (``Speech2Text.min_samples``) gets an empty hypothesis and is
listed in ``<output_dir>/too_short`` (``<utt> <samples>``; scoring counts it); any other
unusable input (NaN/Inf samples) is an error naming the utterance. The encoder route comes from
the data's ``utt2bw``, or ``--bandwidth wb|nb`` for every utterance, or ``--bandwidth auto``
(audio at 8 kHz or below is NB, other audio detected from the signal); a model routed by
bandwidth with neither decides as ``auto``. ``<output_dir>/bandwidth`` records each utterance's
route and how it was chosen. The decoder route comes from ``--task_sym``; ``--swap_routes``
deliberately takes the other expert (routing ablation). Input at another rate than the model's
(``--fs``) is resampled; speech is decoded at its own length (no 30 s padding).

The options (:func:`get_parser`) are the command line of :mod:`espnet_smoe.bin.s2t_inference`
and what the recipe's stage 8 (:mod:`espnet_smoe.recipe.evaluation.decode`) passes, with the inference
config's, to :func:`decode_data_dir` in its own process.
"""

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from espnet.nets.beam_search import Hypothesis
from espnet.nets.pytorch_backend.nets_utils import pad_list
from espnet2.fileio.datadir_writer import DatadirWriter
from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
from espnet2.utils import config_argparse
from espnet2.utils.types import str2triple_str, str_or_none
from tqdm import tqdm

from espnet_smoe.audio.bandwidth import mislabelled, other_bandwidth
from espnet_smoe.audio.waveform import resample
from espnet_smoe.decoding.inference import SWAPS, Speech2Text
from espnet_smoe.task.s2t import SMoES2TTask


def count_keys(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def decode_data_dir(args: argparse.Namespace):
    """Decode the utterances of ``args.data_path_and_name_and_type`` (those of ``--key_file``)
    into ``args.output_dir``; ``args`` as :func:`get_parser` parses them."""
    if args.batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {args.batch_size}")
    device = "cuda" if args.ngpu > 0 else "cpu"
    set_all_random_seed(args.seed)
    s2t = Speech2Text(
        args.s2t_train_config,
        args.s2t_model_file,
        device=device,
        dtype=args.dtype,
        beam_size=args.beam_size,
        ctc_weight=args.ctc_weight,
        penalty=args.penalty,
        maxlenratio=args.maxlenratio,
        minlenratio=args.minlenratio,
        nbest=args.nbest,
        normalize_length=args.normalize_length,
        swap_routes=args.swap_routes,
    )
    # "<" and ">" are awkward on command lines: accept "spa" for "<spa>"
    prefix = s2t.prefix(f"<{args.lang_sym.strip('<>')}>", f"<{args.task_sym.strip('<>')}>")
    loader = SMoES2TTask.build_streaming_iterator(
        args.data_path_and_name_and_type,
        dtype=args.dtype,
        batch_size=args.batch_size,
        key_file=args.key_file,
        num_workers=args.num_workers,
        preprocess_fn=SMoES2TTask.build_preprocess_fn(s2t.train_args, False),
        collate_fn=SMoES2TTask.build_collate_fn(s2t.train_args, False),
        inference=True,
    )
    total = count_keys(args.key_file or args.data_path_and_name_and_type[0][0])
    fs = s2t.fs if args.fs is None else args.fs
    seconds = {"decode": 0.0, "audio": 0.0}
    with DatadirWriter(args.output_dir) as writer, tqdm(
        total=total, desc=args.output_dir, mininterval=5
    ) as bar:
        for keys, batch in loader:
            start = time.perf_counter()  # routing (detection, resampling) counted as decoding
            rows = [batch["speech"][b, :n] for b, n in enumerate(batch["speech_lengths"].tolist())]
            labels = routes(s2t, args, keys, rows, fs, batch.get("bandwidth"), writer)
            rows = [resample(row, fs, s2t.fs) for row in rows]
            keep = []
            for key, row, label in zip(keys, rows, labels):
                if row.numel() >= s2t.min_samples:
                    keep.append((key, row, label))
                    continue
                logging.warning(f"{key}: {row.numel()} samples, fewer than the "
                                f"{s2t.min_samples} the model needs: empty hypothesis")
                writer["too_short"][key] = str(row.numel())
                write_nbest(writer, key, [EMPTY])
            if keep:
                for key, nbest in zip([k for k, _, _ in keep], decode(s2t, keep, prefix)):
                    write_nbest(writer, key, nbest)
            seconds["decode"] += time.perf_counter() - start
            seconds["audio"] += sum(row.numel() for row in rows) / s2t.fs
            bar.update(len(keys))
    if any(name == "bandwidth" for _, name, _ in args.data_path_and_name_and_type):
        (Path(args.output_dir) / "bw_disagree").touch()  # compared with utt2bw: empty = all agreed
    write_timing(Path(args.output_dir) / "timing.json", seconds["decode"], seconds["audio"], total)


def routes(s2t: Speech2Text, args, keys, rows, fs: int, labelled, writer) -> list:
    """Each utterance's bandwidth label (or None: not routed): ``--bandwidth wb|nb`` for all,
    ``auto`` by rate or detection, else the data's ``utt2bw``; then ``--bw_flip`` of them
    flipped. Written to ``<output_dir>/bandwidth`` (``<utt> <label> <how>``); the utterances
    routed otherwise than the data's ``utt2bw`` says to ``bw_disagree``."""
    given = (None if labelled is None
             else [s2t.model.bandwidth_labels[int(i)] for i in labelled.view(-1)])
    if given is not None and args.bandwidth is not None:
        logging.warning(f"the data's utt2bw is not used: --bandwidth {args.bandwidth} routes {keys}")
    if args.bandwidth is None and given is not None:
        picked = [(label, "utt2bw") for label in given]
    else:
        picked = [s2t.pick_bandwidth(row, fs, args.bandwidth) for row in rows]
    picked = [(other_bandwidth(label), f"{how}+flipped")
              if label is not None and mislabelled(key, args.bw_flip, args.bw_flip_seed)
              else (label, how) for key, (label, how) in zip(keys, picked)]
    for b, (key, (label, how)) in enumerate(zip(keys, picked)):
        if label is not None:
            writer["bandwidth"][key] = f"{label} {how}"
        if given is not None and label != given[b]:
            writer["bw_disagree"][key] = f"{how}={label} utt2bw={given[b]}"
    return [label for label, _ in picked]


# the result of an utterance too short to decode, scored as deletions
EMPTY = ("", [], [], "", Hypothesis(score=float("-inf"), scores={}, states={}, yseq=torch.tensor([])))


def decode(s2t: Speech2Text, batch, prefix):
    """n-best lists of ``(key, 16 kHz audio, bandwidth label)`` triples: ESPnet's search for
    one utterance, the batched one for more; an error names the batch's utterances."""
    keys, rows, labels = zip(*batch)
    route = None if None in labels else torch.tensor(
        [s2t.model.bandwidth_expert(label) for label in labels], device=s2t.device)
    try:
        if len(rows) == 1:
            return [s2t.decode(rows[0], route, prefix)]
        lengths = torch.tensor([row.numel() for row in rows])
        return s2t.decode_batch(pad_list(list(rows), 0.0), lengths, route, [prefix] * len(rows))
    except ValueError as e:
        raise ValueError(f"utterances {list(keys)}: {e}") from e


def write_nbest(writer: DatadirWriter, key: str, nbest):
    for n, (text, tokens, token_int, text_nospecial, hyp) in enumerate(nbest, 1):
        best = writer[f"{n}best_recog"]
        best["token"][key] = " ".join(tokens)
        best["token_int"][key] = " ".join(map(str, token_int))
        best["score"][key] = str(float(hyp.score))
        if text is not None:
            best["text"][key] = one_line(text)
            best["text_nospecial"][key] = one_line(text_nospecial)


def one_line(text: str) -> str:
    """A hypothesis as one line of a Kaldi text file: byte-level tokens can decode to line
    breaks (an undertrained model emits them), which would split the file's entry."""
    return " ".join(text.splitlines())


def write_timing(path: Path, decode_s: float, audio_s: float, utterances: int):
    """Decoding time (model loading excluded) against audio duration: the real-time factor."""
    timing = dict(decode_s=round(decode_s, 3), audio_s=round(audio_s, 3), utterances=utterances,
                  rtf=round(decode_s / audio_s, 5) if audio_s else None)
    path.write_text(json.dumps(timing) + "\n", encoding="utf-8")


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        description="S-MoE speech-to-text decoding",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--log_level", default="INFO", help="logging level")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32"])
    parser.add_argument("--num_workers", type=int, default=1)
    group = parser.add_argument_group("Input data")
    group.add_argument("--data_path_and_name_and_type", type=str2triple_str, required=True,
                       action="append", help="speech (and bandwidth) inputs, as in training")
    group.add_argument("--key_file", type=str_or_none, help="decode only these utterances")
    group = parser.add_argument_group("Model")
    group.add_argument("--s2t_train_config", required=True)
    group.add_argument("--s2t_model_file", required=True)
    group = parser.add_argument_group("Beam search")
    group.add_argument("--batch_size", type=int, default=1,
                       help="utterances decoded together (>1: espnet_smoe's batched beam search)")
    group.add_argument("--nbest", type=int, default=1)
    group.add_argument("--beam_size", type=int, default=5)
    group.add_argument("--penalty", type=float, default=0.0, help="length bonus per token")
    group.add_argument("--maxlenratio", type=float, default=0.0)
    group.add_argument("--minlenratio", type=float, default=0.0)
    group.add_argument("--ctc_weight", type=float, default=0.0)
    group.add_argument("--normalize_length", type=lambda x: x.lower() == "true", default=False)
    group = parser.add_argument_group("Route")
    group.add_argument("--lang_sym", required=True, help="source language token, e.g. <spa>")
    group.add_argument("--task_sym", required=True, help="task token, e.g. <asr> or <st_eng>")
    group.add_argument("--bandwidth",
                       help="route every utterance as wb or nb (or another of the encoder's "
                       "route_labels), or auto: by rate (<= 8 kHz: "
                       "nb) or detection from the signal; instead of the data's utt2bw, whose "
                       "disagreements with auto are listed in <output_dir>/bw_disagree")
    group.add_argument("--bw_flip", type=float, default=0.0,
                       help="label-noise experiments: flip the bandwidth route of this fraction "
                       "of the utterances (by a hash of --bw_flip_seed and the utterance id)")
    group.add_argument("--bw_flip_seed", type=int, default=0)
    group.add_argument("--fs", type=int, help="sampling rate of the input audio, when not the "
                       "model's (resampled to it)")
    group.add_argument("--swap_routes", choices=list(SWAPS), default="none",
                       help="routing ablation: send the S-MoE encoder and/or decoder to the "
                       "other expert")
    return parser
