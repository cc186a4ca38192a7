"""Decode conditions: how stage 8 routes a decode, and where stages 8 and 9 and the reports find it.

A condition is one of

=================  ====================  ==============================  ========================
condition          label (``routes``)    directory                       s2t_inference arguments
=================  ====================  ==============================  ========================
as trained         ``trained``           ``<decode_dir>``                ``--swap_routes none``
swap a stack       ``swap_<stack>``      ``<decode_dir>_swap_<stack>``   ``--swap_routes <stack>``
flip p labels      ``flip<p>``           ``<decode_dir>_flip<p>``        ``--bw_flip <p>``
detected bandwidth ``auto``              ``<decode_dir>_auto``           ``--bandwidth auto``
=================  ====================  ==============================  ========================

The label is the ``routes`` field of results.json and names the directory; ``p`` keeps its
spelling (``flip1``, not ``flip1.0``), so the label of a condition parsed from a directory or a
results row is the one it was decoded under.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

KINDS = ("trained", "swap", "flip", "auto")


@dataclass(frozen=True)
class DecodeCondition:
    """One decode's routing: ``kind`` (see ``KINDS``) and its argument (the stack swapped, or the
    fraction p of flipped labels as written; empty otherwise)."""

    kind: str = "trained"
    arg: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown decode condition kind {self.kind!r}: one of {KINDS}")
        if self.kind == "swap" and not self.arg:  # which stacks exist, decoding checks
            raise ValueError("swap_<stack>: name the stack swapped, e.g. swap_encoder")
        if self.kind == "flip":
            try:
                p = float(self.arg)
            except ValueError:
                raise ValueError(f"flip{self.arg}: p is a fraction of the labels, e.g. flip0.1") from None
            if not 0 <= p <= 1:
                raise ValueError(f"flip{self.arg}: p is a fraction between 0 and 1")
        if self.kind in ("trained", "auto") and self.arg:
            raise ValueError(f"{self.kind} takes no argument, got {self.arg!r}")

    @property
    def label(self) -> str:
        """``trained``, ``swap_<stack>``, ``flip<p>`` or ``auto``: results.json's ``routes``."""
        return {"trained": "trained", "swap": f"swap_{self.arg}", "flip": f"flip{self.arg}",
                "auto": "auto"}[self.kind]

    @classmethod
    def parse(cls, label: str) -> "DecodeCondition":
        """The condition of a ``label`` (results.json's ``routes``)."""
        if label in ("trained", "auto"):
            return cls(label)
        for kind, prefix in (("swap", "swap_"), ("flip", "flip")):
            if label.startswith(prefix):
                return cls(kind, label[len(prefix):])
        raise ValueError(f"unknown decode condition {label!r}: trained, swap_<stack>, flip<p> or auto")

    def directory(self, decode_dir: Path) -> Path:
        """Where this condition's decode of ``decode_dir`` (the as-trained one) goes."""
        return Path(decode_dir) if self.kind == "trained" else Path(f"{decode_dir}_{self.label}")

    def inference_args(self) -> List[str]:
        """s2t_inference's options for this routing."""
        return {"trained": ["--swap_routes", "none"], "swap": ["--swap_routes", self.arg],
                "flip": ["--bw_flip", self.arg], "auto": ["--bandwidth", "auto"]}[self.kind]

    @property
    def noise_level(self) -> Optional[float]:
        """The fraction of flipped labels: 0 as trained, p for ``flip<p>``, None otherwise."""
        if self.kind == "flip":
            return float(self.arg)
        return 0.0 if self.kind == "trained" else None


TRAINED = DecodeCondition()


def conditions(route_ablation: Sequence[str] = (), bw_flips: Sequence[str] = (),
               bw_auto: bool = False) -> List[DecodeCondition]:
    """The recipe's conditions from its options, in decoding order: as trained, each stack of
    ``--route_ablation`` swapped, each level of ``--bw_flips``, then ``--bw_auto``."""
    return ([TRAINED] + [DecodeCondition("swap", stack) for stack in route_ablation]
            + [DecodeCondition("flip", p) for p in bw_flips] + [DecodeCondition("auto")] * bw_auto)
