"""What the corpus preps share: the error that says what to do, and a prepared set written out
with the items it left out (``prep_skipped``) and its counts (``prep_report.json``)."""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from espnet_smoe.recipe.datadir import check_data_dir, spk2utt, write_table


class PrepError(RuntimeError):
    """The corpus is not where, or not what, it should be; the message says what to do."""


@dataclass(frozen=True)
class SetReport:
    """What a prep made of one set: of its ``total`` items (the corpus's ``unit``: mapping lines,
    rows) it kept ``kept`` and listed the others, with their reasons, in ``prep_skipped``;
    ``hours`` of speech kept (None: not measured); ``notes``: counts of the corpus's own."""

    set: str
    unit: str
    total: int
    kept: int
    skipped_by_reason: Dict[str, int]
    hours: Optional[float]
    notes: Dict[str, Optional[int]] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    def to_json(self) -> str:
        """The text of ``prep_report.json``."""
        counts = {"set": self.set, self.unit: self.total, "kept": self.kept, "skipped": self.skipped,
                  "skipped_by_reason": self.skipped_by_reason, "hours": self.hours, **self.notes}
        return json.dumps(counts, indent=1) + "\n"


def count_reasons(skipped: Dict[str, str]) -> Dict[str, int]:
    """``prep_skipped`` values (``<reason> <detail>``) -> items left out per reason."""
    return dict(Counter(v.split()[0] for v in skipped.values()))


def reasons_note(by_reason: Dict[str, int]) -> str:
    """`` (empty_text 1, no_audio 2)`` for a summary line; empty when nothing was left out."""
    reasons = ", ".join(f"{r} {c}" for r, c in sorted(by_reason.items()))
    return f" ({reasons})" if reasons else ""


def write_prepared(out: Path, tables: Dict[str, Dict[str, str]], skipped: Dict[str, str],
                   report: SetReport, langs: List[str]) -> None:
    """The set's tables (plus ``spk2utt``) and ``prep_skipped``, checked against the data-dir
    contract, then ``prep_report.json``."""
    out.mkdir(parents=True, exist_ok=True)
    for file, table in tables.items():
        write_table(out / file, table)
    write_table(out / "spk2utt", spk2utt(tables["utt2spk"]))
    write_table(out / "prep_skipped", skipped)
    check_data_dir(out, langs)
    (out / "prep_report.json").write_text(report.to_json())
