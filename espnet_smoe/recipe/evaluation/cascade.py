"""Stage 9's cascade: the model's own transcripts through a text translator.

End-to-end translation is only worth its place if it does at least as well as the obvious
alternative: transcribe, then translate the transcript with a text translator. For each decoded
test set this reads ``<decode_dir>/<set>/asr/1best_recog/text_nospecial``, sends the transcripts
(one per line, in one call) to the translator command with ``{tgt}`` replaced by each target
language, and writes ``<decode_dir>/<set>/cascade_st_<tgt>/1best_recog/text_nospecial``, which
stage 9 scores against the same references as ``st_<tgt>``. A translator that returns another
number of lines than it was given is an error.
"""

import shlex
import subprocess
from pathlib import Path
from typing import Iterator, List, Sequence

from espnet_smoe.recipe.datadir import read_table, write_table
from espnet_smoe.text.multitask import ASR, CASCADE


def translate(command: str, lines: Sequence[str]) -> List[str]:
    """``lines`` through ``command`` (stdin to stdout, one sentence per line)."""
    run = subprocess.run(shlex.split(command), input="".join(f"{line}\n" for line in lines),
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"'{command}' failed (exit {run.returncode}): {run.stderr.strip()[-500:]}")
    out = run.stdout.split("\n")
    if out[-1] == "":  # the newline that ends the last line
        out.pop()
    if len(out) != len(lines):
        raise RuntimeError(f"'{command}' returned {len(out)} lines for {len(lines)} sentences")
    return [line.strip() for line in out]


def cascade(decode_dir: Path, test_sets: Sequence[str], tgt_langs: Sequence[str], mt: str) -> Iterator[str]:
    """Translate each test set's transcripts into each target with ``mt`` (``{tgt}``: the target
    language); yield one line per file written."""
    for test_set in test_sets:
        transcripts = read_table(decode_dir / test_set / ASR / "1best_recog" / "text_nospecial")
        keys = sorted(transcripts)
        for lang in tgt_langs:
            command = mt.replace("{tgt}", lang)
            out = decode_dir / test_set / f"{CASCADE}st_{lang}" / "1best_recog"
            out.mkdir(parents=True, exist_ok=True)
            write_table(out / "text_nospecial",
                        dict(zip(keys, translate(command, [transcripts[k] for k in keys]))))
            yield f"{test_set}: {len(keys)} transcripts -> {command} -> {out}/text_nospecial"
