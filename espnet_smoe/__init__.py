"""espnet-smoe: Supervised Mixture of Experts for multi-task speech-to-text, on ESPnet.

``from espnet_smoe import Speech2Text`` is the inference API; the modules hold one concept each
(see README, "Architecture").
"""

import contextlib
import sys

import nltk

# espnet2's phoneme tokenizer imports g2p_en, which calls nltk.download() at import time when
# its data is missing. This project never uses g2p: keep every import offline and quiet.
nltk.download = lambda *args, **kwargs: False

# ESPnet's attention module prints a flash-attention notice on stdout when imported; keep stdout
# clean for machine-readable output (count_params --json, benchmark --json).
with contextlib.redirect_stdout(sys.stderr):
    import espnet.nets.pytorch_backend.transformer.attention  # noqa: F401


def __getattr__(name):
    # Lazy, so that importing a light submodule does not load the whole inference stack.
    if name == "Speech2Text":
        from espnet_smoe.inference import Speech2Text

        return Speech2Text
    raise AttributeError(f"module 'espnet_smoe' has no attribute '{name}'")


__all__ = ["Speech2Text"]
