"""Data preprocessing for S-MoE S2T: tokenise text fields, turn ``utt2bw`` labels into ids.

Unlike ESPnet's ``S2TPreprocessor`` (OWSM's), speech is neither padded nor trimmed to a fixed
30 s window: utterances keep their length and the collate function pads each mini-batch to its
longest member, which is what makes short-utterance training fast on a CPU. There are no
timestamp tokens; a decoder prefix reads ``<sos> <lang> <task>``.
"""

from pathlib import Path
from typing import Collection, Dict, Iterable, Optional, Union

import numpy as np
from espnet2.text.cleaner import TextCleaner
from espnet2.text.token_id_converter import TokenIDConverter

from espnet_smoe._imports import offline_import
from espnet_smoe.audio.bandwidth import bandwidth_id, mislabelled, other_bandwidth, route_labels
from espnet_smoe.nets.decoder import read_token_list
from espnet_smoe.text.multitask import utterance_id
from espnet_smoe.text.tokenizer import build_tokenizer

with offline_import():  # g2p_en's nltk download (espnet2's preprocessor imports it)
    from espnet2.train.preprocessor import CommonPreprocessor


class SMoES2TPreprocessor(CommonPreprocessor):
    """Tokenises ``text``, ``text_prev`` and ``text_ctc``; maps ``bandwidth`` labels to ids.

    Args:
        train: Training mode (enables ESPnet's speech augmentation options).
        token_type: ``bbpe`` or any ESPnet token type.
        token_list: Token list file or list.
        bpemodel: Sentencepiece model for ``bbpe``/``bpe``.
        text_cleaner: ESPnet text cleaner names.
        text_names: The text fields to tokenise.
        bandwidth_name: The field holding ``wb``/``nb`` labels.
        bandwidth_labels: The classes of those labels, position = id: the encoder's
            ``route_labels`` (the task passes them in; default ``wb``, ``nb``).
        bandwidth_flip: Label-noise experiments: in training, flip the label of this fraction
            of the utterances (the same ones every epoch, see
            :func:`~espnet_smoe.audio.bandwidth.mislabelled`), as a corpus with wrong labels would.
        bandwidth_flip_seed: Which utterances those are.
        unk_symbol: Unknown-token symbol.
        **kwargs: ESPnet ``CommonPreprocessor`` options (noise, RIR, volume, ...).
    """

    def __init__(
        self,
        train: bool,
        token_type: Optional[str] = None,
        token_list: Union[Path, str, Iterable[str], None] = None,
        bpemodel: Union[Path, str, None] = None,
        text_cleaner: Optional[Collection[str]] = None,
        text_names: Collection[str] = ("text", "text_prev", "text_ctc"),
        bandwidth_name: str = "bandwidth",
        bandwidth_labels: Optional[Iterable[str]] = None,
        bandwidth_flip: float = 0.0,
        bandwidth_flip_seed: int = 0,
        unk_symbol: str = "<unk>",
        **kwargs,
    ):
        # CommonPreprocessor only knows ESPnet's token types: give it none and build ours here.
        super().__init__(train=train, token_type=None, **kwargs)
        self.text_names = tuple(text_names)
        self.bandwidth_name = bandwidth_name
        self.bandwidth_labels = route_labels(bandwidth_labels)
        self.bandwidth_flip, self.bandwidth_flip_seed = bandwidth_flip, bandwidth_flip_seed
        if token_type is not None:
            if token_list is None:
                raise ValueError("token_list is required if token_type is given")
            tokens = read_token_list(token_list)
            self.text_cleaner = TextCleaner(text_cleaner)
            self.tokenizer = build_tokenizer(token_type, bpemodel and str(bpemodel), tokens)
            self.token_id_converter = TokenIDConverter(tokens, unk_symbol=unk_symbol)

    def _text_process(self, data: Dict[str, Union[str, np.ndarray]]) -> Dict[str, np.ndarray]:
        if self.tokenizer is None:
            return data
        for name in self.text_names:
            if name in data and isinstance(data[name], str):
                tokens = self.tokenizer.text2tokens(self.text_cleaner(data[name]))
                data[name] = np.array(self.token_id_converter.tokens2ids(tokens), dtype=np.int64)
        return data

    def __call__(self, uid: str, data: Dict[str, Union[str, np.ndarray]]) -> Dict[str, np.ndarray]:
        data = self._speech_process(data)
        data = self._text_process(data)
        if self.bandwidth_name in data:
            label = data[self.bandwidth_name]
            if not isinstance(label, str):
                raise TypeError(f"load '{self.bandwidth_name}' (utt2bw) with type 'text'")
            if self.train and mislabelled(utterance_id(uid), self.bandwidth_flip,
                                          self.bandwidth_flip_seed):
                label = other_bandwidth(label)
            data[self.bandwidth_name] = np.array(
                [bandwidth_id(label, f"for utterance '{uid}'", self.bandwidth_labels)],
                dtype=np.int64,
            )
        return data
