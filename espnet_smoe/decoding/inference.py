"""Python inference API: ``Speech2Text`` for S-MoE models, built on ESPnet's beam search.

ESPnet's own S2T ``Speech2Text`` pads every input to OWSM's 30 s window and expects OWSM's
timestamp tokens; this one decodes speech at its own length. The route is explicit: the
bandwidth picks the encoder experts, the task token (forced into the decoder prefix
``<sos> <lang> <task>``) picks the decoder experts.
"""

import argparse
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import humanfriendly
import numpy as np
import torch
from espnet.nets.beam_search import Hypothesis
from espnet.nets.pytorch_backend.nets_utils import pad_list
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from espnet.nets.scorer_interface import BatchScorerInterface
from espnet.nets.scorers.ctc import CTCPrefixScorer
from espnet.nets.scorers.length_bonus import LengthBonus
from espnet2.text.token_id_converter import TokenIDConverter
from typeguard import typechecked

from espnet_smoe.audio.bandwidth import WB_RATE, by_rate
from espnet_smoe.audio.detect import detect
from espnet_smoe.decoding.batch_beam_search import BatchedBeamSearch
from espnet_smoe.decoding.beam_search import FrameBoundedBatchBeamSearch, FrameBoundedBeamSearch, frame_bound
from espnet_smoe.text.multitask import (ASR, PREFIX_LENGTH, decoder_prefix, is_lang_token, is_task_token,
                                   task_token)
from espnet_smoe.nets.padding import conv_lengths
from espnet_smoe.nets.route import is_routed
from espnet_smoe.task.s2t import SMoES2TTask
from espnet_smoe.text.tokenizer import build_tokenizer
from espnet_smoe.audio.waveform import check_finite, mono, resample, to_float

SWAPS = ("none", "encoder", "decoder", "both")


class Result(tuple):
    """One hypothesis as ESPnet's Speech2Text returns it, ``(text, tokens, token_ids,
    text_nospecial, hyp)``, which also says the encoder route it was decoded under:
    ``bandwidth`` (``wb``, ``nb``, or None when no route was needed) and how it was chosen,
    ``bandwidth_from``: ``given``, ``rate`` (audio at 8 kHz or below) or ``detected``."""

    bandwidth: Optional[str] = None
    bandwidth_from: Optional[str] = None

    def routed(self, bandwidth: Optional[str], source: Optional[str]) -> "Result":
        self.bandwidth, self.bandwidth_from = bandwidth, source
        return self


class Speech2Text:
    """Speech -> text with a trained S-MoE (or any ESPnet S2T) model.

    Example:
        >>> s2t = Speech2Text("exp/s2t/config.yaml", "exp/s2t/valid.acc.ave.pth")
        >>> best = s2t(wav, fs=8000, lang_sym="<spa>", task_sym="<st_eng>")[0]
        >>> text, tokens, token_ids, text_nospecial, hyp = best  # best.bandwidth == "nb"

    Args:
        s2t_train_config: The ``config.yaml`` written by training.
        s2t_model_file: The model parameters (``*.pth``).
        model, train_args: A model already built (and its training arguments), instead of
            the two files (benchmarks, notebooks).
        device: ``cpu`` or ``cuda``.
        dtype: ``float32``, ``float16`` or ``bfloat16``.
        beam_size: Beam width (1 = greedy).
        ctc_weight: Weight of CTC prefix scoring (ESPnet's joint decoding). CTC learns the
            source transcript, so it scores transcription (``<asr>``) hypotheses only; other
            tasks are decoded by the attention decoder alone.
        penalty: Length bonus per token.
        maxlenratio: Max output length / encoder length (0: encoder length).
        minlenratio: Min output length / encoder length.
        nbest: Hypotheses returned.
        normalize_length: Rank finished hypotheses by per-token score.
        lang_sym, task_sym, bandwidth: Defaults for the per-call arguments (``bandwidth``:
            ``wb``, ``nb`` or ``auto``; see ``__call__``).
        swap_routes: ``none``, or the S-MoE stacks whose route is deliberately wrong, for the
            routing ablation: ``encoder`` (each utterance to the other bandwidth's experts),
            ``decoder`` (each guiding token to the other task's experts) or ``both``. It holds
            for this object only: the encoder's permutation goes to each ``model.encode`` call,
            the searches score with a permuted view of the decoder
            (:meth:`~espnet_smoe.nets.decoder.MoETransformerDecoder.permuted`); the model
            itself is left as it was.

    Input the model cannot decode is refused before the frontend: non-finite samples with
    ``ValueError``, speech shorter than :attr:`min_samples` (too few encoder frames for the
    prefix and one token) with ESPnet's ``TooShortUttError``. Results do not depend on batch
    composition: an utterance decodes alike alone and in any batch (up to float rounding).
    """

    @typechecked
    def __init__(
        self,
        s2t_train_config: Union[Path, str, None] = None,
        s2t_model_file: Union[Path, str, None] = None,
        device: str = "cpu",
        dtype: str = "float32",
        beam_size: int = 5,
        ctc_weight: float = 0.0,
        penalty: float = 0.0,
        maxlenratio: float = 0.0,
        minlenratio: float = 0.0,
        nbest: int = 1,
        normalize_length: bool = False,
        lang_sym: Optional[str] = None,
        task_sym: Optional[str] = None,
        bandwidth: Optional[str] = None,
        swap_routes: str = "none",
        model: Optional[torch.nn.Module] = None,
        train_args: Optional[argparse.Namespace] = None,
    ):
        if model is None:
            if s2t_train_config is None:
                raise ValueError("give s2t_train_config (and s2t_model_file), or model")
            model, train_args = SMoES2TTask.build_model_from_file(
                s2t_train_config, s2t_model_file, device
            )
        self.model = model.to(device=device, dtype=getattr(torch, dtype)).eval()
        self.train_args = train_args
        self.ablation = self._swap_routes(swap_routes)
        self.decoder = (self.model.decoder.permuted(self.ablation["decoder"])
                        if "decoder" in self.ablation else self.model.decoder)
        self.token_list = list(model.token_list)
        self.converter = TokenIDConverter(self.token_list)
        token_type = getattr(train_args, "token_type", None)
        bpemodel = getattr(train_args, "bpemodel", None)
        # As ESPnet's Speech2Text: no text output (token ids only) without a tokenizer model.
        self.tokenizer = (
            None
            if token_type is None or (token_type in ("bpe", "bbpe") and bpemodel is None)
            else build_tokenizer(token_type, bpemodel, self.token_list)
        )
        # per task kind: joint CTC/attention for transcription, attention alone otherwise
        self.searches = {
            uses_ctc: self._build_beam_search(
                beam_size, ctc_weight if uses_ctc else 0.0, penalty, normalize_length
            ).to(device=device, dtype=getattr(torch, dtype)).eval()
            for uses_ctc in (True, False)
        }
        self.ctc_task = self.converter.token2id.get(task_token(ASR))
        self.batch_search = None if ctc_weight >= 1.0 else BatchedBeamSearch(
            self.decoder, self.model.ctc, self.model.sos, self.model.eos,
            len(self.token_list), beam_size, ctc_weight, penalty, normalize_length,
        )
        self.device, self.dtype = device, getattr(torch, dtype)
        self.maxlenratio, self.minlenratio, self.nbest = maxlenratio, minlenratio, nbest
        self.lang_sym, self.task_sym, self.bandwidth = lang_sym, task_sym, bandwidth
        self.fs = int(humanfriendly.parse_size(str(
            (getattr(train_args, "frontend_conf", None) or {}).get("fs", WB_RATE))))
        self.src_langs = getattr(train_args, "src_langs", None)  # None: not recorded (older models)
        self.min_samples = self._min_samples()

    @classmethod
    def from_pretrained(
        cls,
        model_tag: Union[Path, str],
        unpack_dir: Union[Path, str, None] = None,
        cache_dir: Union[Path, str, None] = None,
        revision: Optional[str] = None,
        **kwargs,
    ) -> "Speech2Text":
        """Load a model the recipe packs (stage 10); ``kwargs`` as for the constructor.

        ``model_tag`` is the pack (zip), a folder holding one, or a Hugging Face Hub model
        ``org/name`` (stage 11 uploads it; ``revision``: a branch, tag or commit), downloaded
        once into the Hub cache (``cache_dir``, else ``HF_HUB_CACHE``/``HF_HOME``; with
        ``HF_HUB_OFFLINE=1`` only the cache is read). The zip is unpacked once, into
        ``unpack_dir``: by default beside itself (``<name>.unpacked/``), or for a Hub model in
        the Hub's assets cache.
        """
        from espnet_smoe.release.hub import locate
        from espnet_smoe.release.pack import unpack_model

        archive, default_dir = locate(model_tag, cache_dir and str(cache_dir), revision)
        files = unpack_model(archive, unpack_dir or default_dir)
        return cls(files["s2t_train_config"], files["s2t_model_file"], **kwargs)

    def _build_beam_search(
        self, beam_size, ctc_weight, penalty, normalize_length
    ) -> FrameBoundedBeamSearch:
        model = self.model
        scorers = dict(decoder=self.decoder, length_bonus=LengthBonus(len(self.token_list)))
        weights = dict(decoder=1.0 - ctc_weight, length_bonus=penalty)
        if ctc_weight > 0:
            scorers["ctc"] = CTCPrefixScorer(ctc=model.ctc, eos=model.eos)
            weights["ctc"] = ctc_weight
        search = FrameBoundedBeamSearch(
            scorers=scorers,
            weights=weights,
            beam_size=beam_size,
            vocab_size=len(self.token_list),
            sos=model.sos,
            eos=model.eos,
            token_list=self.token_list,
            pre_beam_score_key=None if ctc_weight == 1.0 else "full",
            normalize_length=normalize_length,
        )
        if all(isinstance(s, BatchScorerInterface) for s in search.full_scorers.values()):
            search.__class__ = FrameBoundedBatchBeamSearch  # ESPnet's way to pick the batched search
        return search

    def _swap_routes(self, swap: str) -> Dict[str, List[int]]:
        """The routing ablation of ``swap``: stack -> the permutation of its experts (each
        expert e to e + 1 mod N: the other bandwidth's, the other task's); empty for none."""
        if swap not in SWAPS:
            raise ValueError(f"swap_routes must be one of {SWAPS}, got '{swap}'")
        stacks = {"none": [], "both": ["encoder", "decoder"]}.get(swap, [swap])
        ablation = {}
        for name in stacks:
            stack = getattr(self.model, name)
            if not is_routed(stack):
                raise ValueError(f"swap_routes={swap}: the model's {name} has no S-MoE route")
            ablation[name] = [(e + 1) % stack.num_experts for e in range(stack.num_experts)]
        return ablation

    def _min_samples(self) -> int:
        """The shortest speech (in samples) whose encoder output fits the prefix and one token
        (see :func:`~espnet_smoe.decoding.beam_search.frame_bound`), found by encoding silence."""

        def fits(n: int) -> bool:
            try:
                _, lens = self.encode(torch.zeros(1, n), torch.tensor([n]), torch.zeros(1).long())
                return frame_bound(int(lens[0]), PREFIX_LENGTH) >= 1
            except (TooShortUttError, RuntimeError):  # the frontend's padding fails on tiny input
                return False

        lo, hi = 1, 1024
        while not fits(hi):
            lo, hi = hi, 2 * hi
            if hi > 2**22:
                raise ValueError("the model decodes no input of up to 2**22 samples")
        while lo < hi:  # the smallest n in (lo, hi] that fits
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if fits(mid) else (mid + 1, hi)
        return hi

    def check_speech(self, speech: torch.Tensor, name: str = "speech") -> None:
        """Refuse (nsamples,) ``speech`` the model cannot decode, saying why."""
        check_finite(speech, name)
        if speech.numel() < self.min_samples:
            raise TooShortUttError(
                f"{name} has {speech.numel()} samples; the model needs at least "
                f"{self.min_samples} to decode one token", speech.numel(), self.min_samples
            )

    def _symbol_id(self, sym: Optional[str], what: str) -> int:
        if sym is None:
            raise ValueError(f"no {what} given: pass {what}=... (e.g. '<spa>', '<asr>')")
        if what == "lang_sym" and not is_lang_token(sym):
            raise ValueError(f"lang_sym '{sym}' is not a language token such as '<spa>'")
        if what == "task_sym" and not is_task_token(sym):
            raise ValueError(f"task_sym '{sym}' is not a task token such as '<asr>' or '<st_eng>'")
        if sym not in self.converter.token2id:
            raise ValueError(f"{what} '{sym}' is not in the model's token list")
        if what == "lang_sym" and self.src_langs is not None and sym[1:-1] not in self.src_langs:
            raise ValueError(
                f"lang_sym '{sym}': the model was trained on speech in {self.src_langs} only"
            )
        return self.converter.token2id[sym]

    def prefix(self, lang_sym: Optional[str], task_sym: Optional[str]) -> List[int]:
        """The forced decoder prefix ``<sos> <lang> <task>``."""
        return decoder_prefix(
            self.model.sos,
            self._symbol_id(lang_sym or self.lang_sym, "lang_sym"),
            self._symbol_id(task_sym or self.task_sym, "task_sym"),
        )

    def route(self, bandwidth: Optional[str], batch_size: int = 1) -> Optional[torch.Tensor]:
        """The encoder route (B,) for a bandwidth label, or None when given none."""
        label = bandwidth or self.bandwidth
        if label is None:
            return None
        expert = self.model.bandwidth_expert(label)
        return torch.full((batch_size,), expert, dtype=torch.long, device=self.device)

    def pick_bandwidth(
        self, speech: torch.Tensor, fs: int, bandwidth: Optional[str]
    ) -> Tuple[Optional[str], Optional[str]]:
        """(label, how it was chosen) for float ``speech`` at ``fs``: the label given; else, for a
        model routed by bandwidth or when asked (``auto``), ``nb`` at 8 kHz or below and
        :func:`~espnet_smoe.audio.detect.detect` above; else (None, None)."""
        bandwidth = bandwidth or self.bandwidth
        if bandwidth not in (None, "auto"):
            return self.model.bandwidth_labels[self.model.bandwidth_expert(bandwidth)], "given"
        if bandwidth is None and not is_routed(self.model.encoder):
            return None, None
        return (by_rate(fs), "rate") if by_rate(fs) else (detect(speech, fs), "detected")

    @torch.no_grad()
    def encode(
        self, speech: torch.Tensor, lengths: torch.Tensor, route: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T) waveforms -> encoder output (B, T', D) and lengths, routed by ``route`` (B,)
        encoder expert ids (under this object's ablation)."""
        speech, lengths = speech.to(self.device, self.dtype), lengths.to(self.device)
        enc, enc_lens = self.model.encode(speech, lengths, route, self.ablation.get("encoder"))
        return (enc[0] if isinstance(enc, tuple) else enc), enc_lens

    @torch.no_grad()
    @typechecked
    def __call__(
        self,
        speech: Union[torch.Tensor, np.ndarray],
        lang_sym: Optional[str] = None,
        task_sym: Optional[str] = None,
        bandwidth: Optional[str] = None,
        fs: Optional[int] = None,
    ) -> List[Result]:
        """Decode one utterance: (nsamples,) or (nsamples, 1) audio, float or integer PCM.

        Args:
            speech: The audio, at ``fs``.
            lang_sym, task_sym: The prefix, e.g. ``<spa>``, ``<st_eng>``.
            bandwidth: ``wb`` or ``nb`` routes the encoder so; ``auto`` decides (below); None
                does the same for a model whose encoder is routed by bandwidth.
                Audio at 8 kHz or below is ``nb``, other audio is detected from the signal
                (:func:`espnet_smoe.audio.detect.detect`). ``Result.bandwidth`` says which.
            fs: The audio's sampling rate (default: the model's, 16 kHz here); resampled to
                the model's with torchaudio.
        """
        speech, fs = to_float(mono(speech)), self.fs if fs is None else fs
        check_finite(speech)
        label, source = self.pick_bandwidth(speech, fs, bandwidth)
        prefix = self.prefix(lang_sym, task_sym)
        results = self.decode(resample(speech, fs, self.fs), self.route(label), prefix)
        return [r.routed(label, source) for r in results]

    @torch.no_grad()
    def decode(
        self, speech: torch.Tensor, route: Optional[torch.Tensor], prefix: List[int]
    ) -> List[Result]:
        """Beam search for one (nsamples,) waveform under an explicit route and prefix."""
        self.check_speech(speech)
        search = self.searches[prefix[-1] == self.ctc_task]
        search.set_hyp_primer(prefix)
        enc, _ = self.encode(speech[None], torch.tensor([speech.numel()]), route)
        hyps = search(x=enc[0], maxlenratio=self.maxlenratio, minlenratio=self.minlenratio)
        return [self._result(h) for h in hyps[: self.nbest]]

    @torch.no_grad()
    def decode_batch(
        self,
        speech: torch.Tensor,
        lengths: torch.Tensor,
        route: Optional[torch.Tensor],
        prefixes: List[List[int]],
        fs: Optional[int] = None,
    ) -> List[List[Result]]:
        """Decode (B, nsamples) padded waveforms together (:class:`BatchedBeamSearch`): one
        route id and one forced prefix per utterance; n-best results per utterance.

        ``fs`` is the audio's rate (default: the model's). Without a ``route``, each utterance's
        bandwidth is picked as ``__call__`` picks it.
        """
        if self.batch_search is None:
            raise ValueError("batched decoding needs the attention decoder (ctc_weight < 1)")
        fs = self.fs if fs is None else fs
        rows = [to_float(speech[b, :n]) for b, n in enumerate(lengths.tolist())]
        for b, row in enumerate(rows):
            check_finite(row, f"utterance {b} of the batch")
        if route is None:
            picked = [self.pick_bandwidth(row, fs, None) for row in rows]
            labels = [label for label, _ in picked]
            route = None if None in labels else torch.tensor(
                [self.model.bandwidth_expert(label) for label in labels], device=self.device)
        else:
            picked = [(self.model.bandwidth_labels[int(e)], "given") for e in route.tolist()]
        rows = [resample(row, fs, self.fs) for row in rows]
        for b, row in enumerate(rows):
            self.check_speech(row, f"utterance {b} of the batch")
        lengths = torch.tensor([row.numel() for row in rows])
        enc, enc_lens = self.encode(pad_list(rows, 0.0), lengths, route)
        ctc_rows = [p[-1] == self.ctc_task for p in prefixes]
        hyps = self.batch_search(
            enc, enc_lens, prefixes, self.maxlenratio, self.minlenratio, ctc_rows
        )
        return [[self._result(h).routed(*how) for h in nbest[: self.nbest]]
                for nbest, how in zip(hyps, picked)]

    def _result(self, hyp: Hypothesis) -> Result:
        ids = hyp.yseq.tolist()
        ids = ids[ids.index(self.model.sos) + 1 :]  # drop [<sop> prev] <sos>
        if ids and ids[-1] == self.model.eos:
            ids = ids[:-1]
        ids = [i for i in ids if i != self.model.blank_id]
        tokens = self.converter.ids2tokens(ids)
        plain = [t for t in tokens if not (t.startswith("<") and t.endswith(">"))]
        if self.tokenizer is None:
            return Result((None, tokens, ids, None, hyp))
        return Result((self.tokenizer.tokens2text(tokens), tokens, ids,
                       self.tokenizer.tokens2text(plain), hyp))
