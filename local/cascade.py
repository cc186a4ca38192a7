#!/usr/bin/env python3
"""Stage 9's cascade: the model's own transcripts through a text translator.

End-to-end translation is only worth its place if it does at least as well as the obvious
alternative: transcribe, then translate the transcript with a text translator. For each decoded
test set this reads ``<decode_dir>/<set>/asr/1best_recog/text_nospecial``, sends the transcripts
(one per line, in one call) to ``--mt`` with ``{tgt}`` replaced by each target language, and
writes ``<decode_dir>/<set>/cascade_st_<tgt>/1best_recog/text_nospecial``, which score.py scores
against the same references as ``st_<tgt>``. A translator that returns another number of lines
than it was given is an error.

Usage:
    python local/cascade.py --decode_dir exp/s2t/decode --test_sets test_wb test_nb \
        --tgt_langs eng --mt "apertium -u spa-{tgt}"
"""

import argparse
import shlex
import subprocess
from pathlib import Path

from espnet_smoe.recipe.datadir import read_table, write_table
from espnet_smoe.text.multitask import ASR, CASCADE


def get_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decode_dir", type=Path, required=True)
    parser.add_argument("--test_sets", nargs="+", required=True)
    parser.add_argument("--tgt_langs", nargs="+", required=True)
    parser.add_argument("--mt", required=True,
                        help="command reading sentences on stdin, one per line; {tgt}: target language")
    return parser.parse_args()


def translate(command: str, lines: list) -> list:
    run = subprocess.run(shlex.split(command), input="".join(f"{line}\n" for line in lines),
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"'{command}' failed (exit {run.returncode}): {run.stderr.strip()[-500:]}")
    out = run.stdout.split("\n")
    if out[-1] == "":  # the newline that ends the last line
        out.pop()
    if len(out) != len(lines):
        raise SystemExit(f"'{command}' returned {len(out)} lines for {len(lines)} sentences")
    return [line.strip() for line in out]


def main():
    args = get_args()
    for test_set in args.test_sets:
        hyp_file = args.decode_dir / test_set / ASR / "1best_recog" / "text_nospecial"
        transcripts = read_table(hyp_file)
        keys = sorted(transcripts)
        for lang in args.tgt_langs:
            command = args.mt.replace("{tgt}", lang)
            out = args.decode_dir / test_set / f"{CASCADE}st_{lang}" / "1best_recog"
            out.mkdir(parents=True, exist_ok=True)
            write_table(out / "text_nospecial",
                        dict(zip(keys, translate(command, [transcripts[k] for k in keys]))))
            print(f"{test_set}: {len(keys)} transcripts -> {command} -> {out}/text_nospecial")


if __name__ == "__main__":
    main()
