"""espnet-smoe: Supervised Mixture of Experts for multi-task speech-to-text, on ESPnet.

``from espnet_smoe import Speech2Text`` is the inference API; the modules hold one concept each
(see docs/architecture.md).
"""

import contextlib
import importlib.abc
import importlib.machinery
import re
import sys

_ATTENTION = "espnet.nets.pytorch_backend.transformer.attention"


class _QuietOfflineImports(importlib.abc.MetaPathFinder):
    """Tames two import-time side effects of ESPnet's dependencies, when (and only if) those
    modules load, so that a light submodule (datadir, multitask, ...) imports without torch or
    nltk, and each of the recipe's small stage scripts starts in a fraction of a second:

    - espnet2's phoneme tokenizer imports g2p_en, which calls ``nltk.download()`` when its data is
      missing; this project never uses g2p, so the download becomes a no-op and imports stay
      offline and quiet;
    - ESPnet's attention module prints a flash-attention notice on stdout; it goes to stderr, so
      that stdout stays machine-readable (``count_params --json``, ``benchmark --json``).
    """

    def find_spec(self, name, path, target=None):
        if name not in ("nltk", _ATTENTION):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_quietly(module):
            if name == "nltk":
                exec_module(module)
                _offline(module)
            else:
                with contextlib.redirect_stdout(sys.stderr):
                    exec_module(module)

        spec.loader.exec_module = exec_quietly
        return spec


def _offline(nltk):
    nltk.download = lambda *args, **kwargs: False


if "nltk" in sys.modules:  # imported before this package
    _offline(sys.modules["nltk"])
if not any(isinstance(f, _QuietOfflineImports) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietOfflineImports())


def _version() -> str:
    """pyproject.toml's version: as installed (package metadata), else read from the source
    checkout this package sits in, else ``0+unknown``."""
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    try:
        return version("espnet-smoe")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        found = pyproject.is_file() and re.search(
            r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE)
        return found.group(1) if found else "0+unknown"


def __getattr__(name):
    # Lazy, so that importing a light submodule neither loads the whole inference stack nor
    # scans the installed packages' metadata.
    if name == "__version__":
        globals()["__version__"] = _version()
        return globals()["__version__"]
    if name == "Speech2Text":
        from espnet_smoe.decoding.inference import Speech2Text

        return Speech2Text
    raise AttributeError(f"module 'espnet_smoe' has no attribute '{name}'")


__all__ = ["Speech2Text", "__version__"]
