"""Apertium from Spanish into a target language named by its ISO 639-3 code.

The one home of the language -> Apertium mode table: the mini_es_en corpus makes its
machine-translated references through it, and stage 9's cascade (``--cascade_mt``) runs it as a
filter, ``egs2/mini_es_en/s2t1/local/apertium.py`` (:func:`main`). Each mode comes from a Debian
package that tools/install_sysdeps.sh installs.
"""

import subprocess
import sys
from typing import List

MODES = {"eng": "spa-eng", "cat": "spa-cat", "por": "es-pt"}


class ApertiumError(RuntimeError):
    """No mode for the language, or Apertium lost or emptied a sentence."""


def translate(sents: List[str], tgt: str) -> List[str]:
    """The sentences through Apertium in one call; a lost line, or an empty translation of a
    sentence, is an error (an empty line stays empty: a transcript can be)."""
    if tgt not in MODES:
        raise ApertiumError(f"no Apertium mode from Spanish into '{tgt}'; known: {sorted(MODES)}")
    out = subprocess.run(["apertium", "-u", MODES[tgt]], input="\n".join(sents) + "\n",
                         capture_output=True, text=True, check=True).stdout.rstrip("\n").split("\n")
    if len(out) != len(sents):
        raise ApertiumError(f"apertium {MODES[tgt]} returned {len(out)} lines for {len(sents)} sentences")
    empty = [s for s, t in zip(sents, out) if s.strip() and not t.strip()]
    if empty:
        raise ApertiumError(f"apertium {MODES[tgt]} gave an empty translation for {len(empty)} "
                            f"sentences, e.g. {empty[:3]}")
    return [t.strip() for t in out]


def main(argv: List[str], usage: str) -> None:
    """``argv``: the target language; standard input to standard output, one sentence a line."""
    if len(argv) != 1:
        sys.exit(usage)
    try:
        print("\n".join(translate(sys.stdin.read().rstrip("\n").split("\n"), argv[0])))
    except ApertiumError as e:
        sys.exit(str(e))
