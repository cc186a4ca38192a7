"""A tiny multitask S2T corpus made on the fly: tones for speech, BBPE over a few sentences.

The content is not learnable speech; it exercises the whole data path (Kaldi-style files,
``utt2bw``, BBPE, ESPnet's loaders and trainer) in seconds.
"""

from pathlib import Path
from typing import Dict

import numpy as np
import soundfile as sf
import yaml

from espnet_smoe.text.multitask import examples, special_tokens
from espnet_smoe.text.tokenizer import make_token_list, train_bbpe

SENTENCES = [
    ("hola mundo", "hello world"),
    ("el gato come pescado", "the cat eats fish"),
    ("la casa es grande", "the house is big"),
    ("me gusta la música", "i like music"),
]
SPECIALS = special_tokens("spa", ["eng"])  # <spa> <eng> <asr> <st_eng>

TINY_CONFIG = {
    "frontend": "default",
    "frontend_conf": {"n_fft": 256, "hop_length": 128, "n_mels": 20},
    "normalize": "utterance_mvn",
    "encoder": "smoe_transformer",
    "encoder_conf": {
        "output_size": 16,
        "attention_heads": 2,
        "linear_units": 32,
        "num_blocks": 2,
        "input_layer": "conv2d",
    },
    "decoder": "smoe_transformer",
    "decoder_conf": {
        "attention_heads": 2,
        "linear_units": 32,
        "num_blocks": 2,
        "route_tokens": {"<asr>": 0, "<st_eng>": 1},
    },
    "model_conf": {"ctc_weight": 0.3, "report_cer": False, "report_wer": False},
    "batch_type": "folded",
    "batch_size": 4,
    "max_epoch": 1,
    "num_iters_per_epoch": 2,
    "optim": "adam",
    "optim_conf": {"lr": 0.001},
    "num_workers": 0,
    "seed": 0,
}


def write_tiny_corpus(root: Path, n_utts: int = 8, fs: int = 16000) -> Dict[str, Path]:
    """Write data dir, BBPE model, token list and config under ``root``; return their paths."""
    rng = np.random.default_rng(0)
    data = root / "data"
    (data / "wav").mkdir(parents=True)
    files = {k: [] for k in ("wav.scp", "text", "text.ctc", "text.prev", "utt2bw", "utt2spk")}
    for i in range(n_utts):
        src, tgt = SENTENCES[i % len(SENTENCES)]
        bw = "wb" if i % 2 == 0 else "nb"
        t = np.arange(int(fs * (0.5 + 0.1 * (i % 4)))) / fs
        wav = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.01 * rng.standard_normal(t.size)
        path = data / "wav" / f"utt{i}.wav"
        sf.write(path, wav.astype(np.float32), fs)
        for utt, _, text in examples(f"spk{i % 2}-utt{i}", src, {"eng": tgt}, "spa"):
            files["wav.scp"].append(f"{utt} {path}")
            files["text"].append(f"{utt} {text}")
            files["text.ctc"].append(f"{utt} {src}")
            files["text.prev"].append(f"{utt} <na>")
            files["utt2bw"].append(f"{utt} {bw}")
            files["utt2spk"].append(f"{utt} spk{i % 2}")
    for name, lines in files.items():
        (data / name).write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")

    bpe = train_bbpe([s for pair in SENTENCES for s in pair], root / "bbpe", vocab_size=300)
    tokens = root / "tokens.txt"
    tokens.write_text("\n".join(make_token_list(bpe, SPECIALS)) + "\n", encoding="utf-8")
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump(TINY_CONFIG), encoding="utf-8")
    return {"data": data, "bpemodel": bpe, "token_list": tokens, "config": config}
