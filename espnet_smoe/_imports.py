"""Importing ESPnet without its import-time side effects, for the span of one ``with`` block.

Two modules of ESPnet's dependency tree act when first imported:

- ESPnet's attention module (``espnet.nets.pytorch_backend.transformer.attention``, imported by
  every Transformer and Conformer stack) prints a flash-attention notice on stdout, which must
  stay machine-readable (``count_params --json``, ``benchmark --json``);
- espnet2's phoneme tokenizer (imported by ``espnet2.tasks.s2t``, ``espnet2.train.preprocessor``,
  ``espnet2.train.collate_fn`` and ``espnet2.text.build_tokenizer``) imports g2p_en, which calls
  ``nltk.download()`` for its data when it is missing: a network request at import time, for a
  tokenizer this project never uses.

The modules of this package that import those first wrap their ESPnet imports in
:func:`quiet_import` and :func:`offline_import`; importing ``espnet_smoe`` itself touches
neither, and both restore what they change when the block ends.
"""

import contextlib
import importlib.util
import sys
from typing import Iterator


@contextlib.contextmanager
def quiet_import() -> Iterator[None]:
    """Whatever the block prints on stdout goes to stderr (ESPnet's flash-attention notice)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


@contextlib.contextmanager
def offline_import() -> Iterator[None]:
    """``nltk.download`` is a no-op in the block, if g2p_en is yet to be imported there."""
    if "g2p_en" in sys.modules or importlib.util.find_spec("g2p_en") is None:
        yield
        return
    import nltk

    download = nltk.download
    nltk.download = _no_download
    try:
        yield
    finally:
        nltk.download = download


def _no_download(*args, **kwargs) -> bool:
    return False  # what nltk.download returns when it could not fetch the data
