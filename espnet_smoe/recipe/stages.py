"""Recipe steps that skip finished work, icefall's ``.done`` markers invalidated by their inputs.

A step is one command of a stage that writes an output directory from input paths. When the
command succeeds, ``<output>/.done`` records the command line (so every option) and a
fingerprint of each input: the relative path, size and modification time of every file under it.
A later run skips the step while that record still holds, and runs it again when an option or an
input changed; the marker goes before the command runs, so an interrupted step is redone.
Contents are not read: an input rewritten with the same bytes counts as changed (make's side of
the trade).

The command-line form is :mod:`espnet_smoe.bin.run_step`.
"""

import dataclasses
import hashlib
import json
import logging
import shlex
import subprocess
from pathlib import Path
from typing import Dict, Tuple

MARKER = ".done"


class MissingInput(FileNotFoundError):
    """An input of a step does not exist: an earlier stage has not run."""


@dataclasses.dataclass(frozen=True)
class Step:
    """Stage ``stage``'s command ``cmd``, which writes the directory ``out`` from ``inputs``."""

    stage: int
    out: Path
    inputs: Tuple[Path, ...]
    cmd: Tuple[str, ...]

    @property
    def marker(self) -> Path:
        return self.out / MARKER

    def record(self) -> Dict:
        """What the marker holds: the command and each input's fingerprint."""
        missing = [str(p) for p in self.inputs if not p.exists()]
        if missing:
            raise MissingInput(f"missing {', '.join(missing)}: run the earlier stages first")
        return {"command": shlex.join(self.cmd), "inputs": {str(p): fingerprint(p) for p in self.inputs}}

    def done(self, record: Dict) -> bool:
        """Did this step already succeed with ``record``?"""
        try:
            return json.loads(self.marker.read_text(encoding="utf-8")) == record
        except (OSError, ValueError):
            return False


def fingerprint(path: Path) -> str:
    """A digest of the relative path, size and mtime of each file under ``path`` (or of the
    file ``path``)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.relative_to(path)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def run_step(step: Step) -> int:
    """Run ``step`` unless its marker says it is done; its exit status (0 when skipped)."""
    record = step.record()  # the inputs as the command will read them
    if step.done(record):
        logging.info(f"Stage {step.stage}: {step.out} up to date, skipped")
        return 0
    step.marker.unlink(missing_ok=True)
    status = subprocess.call(list(step.cmd))
    if status == 0:
        step.out.mkdir(parents=True, exist_ok=True)
        step.marker.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return status
