"""The package version, for packs, model cards and the Hub client: a module of its own so that
every layer can ask for it without importing the package's public API."""

import re
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@lru_cache(maxsize=None)
def package_version() -> str:
    """pyproject.toml's version: as installed (package metadata), else read from the source
    checkout this package sits in, else ``0+unknown``."""
    try:
        return version("espnet-smoe")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        found = pyproject.is_file() and re.search(
            r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE)
        return found.group(1) if found else "0+unknown"
