#!/usr/bin/env python3
"""Upload a pack and its model card to the Hugging Face Hub (stage 11); a dry run by default.

The repository's root gets ``<tag>.zip`` and ``README.md`` from the exp dir, which is what
``Speech2Text.from_pretrained("org/name")`` downloads. Without ``--hf_upload true`` it only prints
the repository and the files; a real upload needs a Hub token (``huggingface-cli login`` or
``HF_TOKEN``).

Usage:
    python -m espnet_smoe.bin.upload --exp exp/s2t_dec_smoe --hf_repo org/name [--hf_upload true]
"""

import argparse
import sys
from pathlib import Path

from espnet_smoe.release.hub import upload


def str2bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")
    return value.lower() == "true"


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", type=Path, required=True, help="exp dir holding the pack")
    parser.add_argument("--archive", default=None, help="the pack's name in it (<exp name>.zip)")
    parser.add_argument("--hf_repo", required=True, help="Hub model repository, org/name")
    parser.add_argument("--hf_upload", type=str2bool, default=False,
                        help="true: upload; false (default): dry run, print what would be uploaded")
    parser.add_argument("--private", type=str2bool, default=False, help="create the repo private")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    archive = args.archive or f"{args.exp.name}.zip"
    for line in upload(args.hf_repo, args.exp, [archive, "README.md"], args.hf_upload, args.private):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
