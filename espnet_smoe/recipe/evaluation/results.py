"""results.json: stage 9's score rows, which the reports (matrix, label noise, run comparison) read.

One :class:`ScoreRow` per decode condition x test set x task x bandwidth (a native-bandwidth set
has a row per bandwidth), one :class:`ChannelRow` per telephone-channel group; the file is
``{"decode_dir", "results", "by_channel", "<metric>_signature"...}``. Rows read from an older
results.json may lack columns (counts, TER, data notes): those read as None.
"""

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from espnet_smoe.recipe.evaluation.conditions import DecodeCondition

Value = Union[float, int, str]


@dataclass(frozen=True)
class Scores:
    """A row's metric columns, None where its task has none: WER and CER (%) with jiwer's counts
    behind them (``hits``, ``sub``, ``del``, ``ins``, ``ref``: reference units, ``snt_err``:
    utterances with an error) for transcription; BLEU, chrF and TER for translation."""

    wer: Optional[float] = None
    wer_hits: Optional[int] = None
    wer_sub: Optional[int] = None
    wer_del: Optional[int] = None
    wer_ins: Optional[int] = None
    wer_ref: Optional[int] = None
    wer_snt_err: Optional[int] = None
    cer: Optional[float] = None
    cer_hits: Optional[int] = None
    cer_sub: Optional[int] = None
    cer_del: Optional[int] = None
    cer_ins: Optional[int] = None
    cer_ref: Optional[int] = None
    cer_snt_err: Optional[int] = None
    bleu: Optional[float] = None
    chrf: Optional[float] = None
    ter: Optional[float] = None
    bleu_verbose: Optional[str] = None  # ESPnet's verbose_score: n-gram precisions, BP, lengths
    ter_edits: Optional[float] = None
    ter_ref: Optional[float] = None  # (average) reference words

    def get(self, metric: str) -> Optional[Value]:
        """The column ``metric`` (``wer``, ``bleu_verbose``, ...); None where the row has none."""
        return getattr(self, metric)

    def to_json(self) -> Dict[str, Value]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class ScoreRow:
    """One row of results.json's ``results``: a decode condition's scores of one test set, task
    and bandwidth. ``skipped``: utterances stage 2 left out of the set; ``too_short``: decoded as
    empty; ``bw_disagree``: routed otherwise than ``utt2bw`` says (None: not compared); ``rtf``:
    decoding real-time factor (None: not timed)."""

    test_set: str
    task: str
    bandwidth: str
    condition: DecodeCondition  # results.json's "routes": its label
    utterances: int
    skipped: Optional[int] = None
    too_short: Optional[int] = None
    bw_disagree: Optional[int] = None
    rtf: Optional[float] = None
    scores: Scores = field(default_factory=Scores)

    @property
    def routes(self) -> str:
        return self.condition.label

    def to_json(self) -> Dict[str, Optional[Value]]:
        return {"test_set": self.test_set, "task": self.task, "bandwidth": self.bandwidth,
                "routes": self.routes, "utterances": self.utterances, "skipped": self.skipped,
                "too_short": self.too_short, "bw_disagree": self.bw_disagree, "rtf": self.rtf,
                **self.scores.to_json()}

    @classmethod
    def from_json(cls, row: Dict[str, Optional[Value]]) -> "ScoreRow":
        row = dict(row)
        return cls(test_set=row.pop("test_set"), task=row.pop("task"), bandwidth=row.pop("bandwidth"),
                   condition=DecodeCondition.parse(row.pop("routes")), utterances=row.pop("utterances"),
                   **{k: row.pop(k) for k in ("skipped", "too_short", "bw_disagree", "rtf") if k in row},
                   scores=Scores(**row))


@dataclass(frozen=True)
class ChannelRow:
    """One row of results.json's ``by_channel``: a telephone-channel group's scores (the trained
    routes), e.g. group ``codec=gsm`` or ``snr<20dB``."""

    test_set: str
    task: str
    group: str
    utterances: int
    scores: Scores

    def to_json(self) -> Dict[str, Value]:
        return {"test_set": self.test_set, "task": self.task, "group": self.group,
                "utterances": self.utterances, **self.scores.to_json()}

    @classmethod
    def from_json(cls, row: Dict[str, Value]) -> "ChannelRow":
        row = dict(row)
        return cls(row.pop("test_set"), row.pop("task"), row.pop("group"), row.pop("utterances"), Scores(**row))


@dataclass(frozen=True)
class Results:
    """A run's results.json: the decode dir scored, its rows, and sacrebleu's signatures."""

    decode_dir: str
    rows: Tuple[ScoreRow, ...]
    by_channel: Tuple[ChannelRow, ...] = ()
    signatures: Dict[str, str] = field(default_factory=dict)  # bleu, chrf, ter

    def write(self, path: Path) -> None:
        result = {"decode_dir": self.decode_dir, "results": [r.to_json() for r in self.rows],
                  "by_channel": [r.to_json() for r in self.by_channel],
                  **{f"{key}_signature": sig for key, sig in self.signatures.items()}}
        Path(path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> "Results":
        found = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(found["decode_dir"], tuple(ScoreRow.from_json(r) for r in found["results"]),
                   tuple(ChannelRow.from_json(r) for r in found.get("by_channel", [])),
                   {k[: -len("_signature")]: v for k, v in found.items() if k.endswith("_signature")})
