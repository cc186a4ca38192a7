"""espnet-smoe: Supervised Mixture of Experts for multi-task speech-to-text, on ESPnet.

``from espnet_smoe import Speech2Text`` is the inference API; the subpackages hold one concept
each (see docs/architecture.md). Importing the package changes nothing outside it.
"""


def __getattr__(name):
    # Lazy, so that importing a light submodule neither loads the whole inference stack nor
    # scans the installed packages' metadata.
    if name == "__version__":
        from espnet_smoe.version import package_version

        return package_version()
    if name == "Speech2Text":
        from espnet_smoe.decoding.inference import Speech2Text

        return Speech2Text
    raise AttributeError(f"module 'espnet_smoe' has no attribute '{name}'")


__all__ = ["Speech2Text", "__version__"]
