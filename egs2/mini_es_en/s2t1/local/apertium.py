#!/usr/bin/env python3
"""Apertium from Spanish into a target language named by its ISO 639-3 code.

The one home of the language -> Apertium mode table: the corpus (make_corpus.py) makes its
machine-translated references through it, and stage 9's cascade (``--cascade_mt``) calls it as a
command. Each mode comes from a Debian package that tools/install_sysdeps.sh installs.

Usage (a filter, one sentence per line):
    echo "El archivo no existe." | python3 local/apertium.py cat
"""

import subprocess
import sys
from typing import List

MODES = {"eng": "spa-eng", "cat": "spa-cat", "por": "es-pt"}


def translate(sents: List[str], tgt: str) -> List[str]:
    """The sentences through Apertium in one call; a lost line, or an empty translation of a
    sentence, is an error (an empty line stays empty: a transcript can be)."""
    if tgt not in MODES:
        sys.exit(f"no Apertium mode from Spanish into '{tgt}'; known: {sorted(MODES)}")
    out = subprocess.run(["apertium", "-u", MODES[tgt]], input="\n".join(sents) + "\n",
                         capture_output=True, text=True, check=True).stdout.rstrip("\n").split("\n")
    if len(out) != len(sents):
        sys.exit(f"apertium {MODES[tgt]} returned {len(out)} lines for {len(sents)} sentences")
    empty = [s for s, t in zip(sents, out) if s.strip() and not t.strip()]
    if empty:
        sys.exit(f"apertium {MODES[tgt]} gave an empty translation for {len(empty)} sentences, "
                 f"e.g. {empty[:3]}")
    return [t.strip() for t in out]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print("\n".join(translate(sys.stdin.read().rstrip("\n").split("\n"), sys.argv[1])))
