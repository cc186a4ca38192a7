"""A model packed before the package was split into subpackages still loads and decodes alike.

``data/legacy_pack/s2t_legacy.zip`` was packed at commit 0b0589e (the flat ``espnet_smoe/``
layout) from the tiny config of ``tiny_corpus`` with random weights, both stacks S-MoE and the
encoder named by its old registry name ``moe_transformer``; ``expected.json`` holds what that
code decoded from two fixed inputs (16 kHz, detected wideband; 8 kHz, narrowband by rate) for
both tasks, as trained and with both routes swapped, one by one and batched. Random weights make
every route and every score visible in the output: any change to routing, loading or the search
changes the tokens.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).parent / "data/legacy_pack"


def inputs():
    rng = np.random.default_rng(0)
    t16, t8 = np.arange(24000) / 16000, np.arange(12000) / 8000
    w16 = 0.3 * np.sin(2 * np.pi * 220 * t16) + 0.05 * rng.standard_normal(t16.size)
    w8 = 0.3 * np.sin(2 * np.pi * 330 * t8) + 0.05 * rng.standard_normal(t8.size)
    return {"wb16k": (w16.astype(np.float32), 16000), "nb8k": (w8.astype(np.float32), 8000)}


def record(result):
    text, _, ids, _, hyp = result
    return {"text": text, "token_ids": ids, "score": float(hyp.score),
            "bandwidth": result.bandwidth, "bandwidth_from": result.bandwidth_from}


def decoded(tmp_path: Path) -> dict:
    from espnet_smoe import Speech2Text

    out = {}
    for swap in ("none", "both"):
        s2t = Speech2Text.from_pretrained(DATA / "s2t_legacy.zip", unpack_dir=tmp_path / "unpacked",
                                          beam_size=3, ctc_weight=0.3, swap_routes=swap,
                                          maxlenratio=0.5)
        for name, (wav, fs) in inputs().items():
            for task in ("<asr>", "<st_eng>"):
                out[f"{swap}/{name}/{task}"] = record(s2t(wav, fs=fs, lang_sym="<spa>", task_sym=task)[0])
        w16 = torch.tensor(inputs()["wb16k"][0])
        prefixes = [s2t.prefix("<spa>", "<asr>"), s2t.prefix("<spa>", "<st_eng>")]
        nbests = s2t.decode_batch(torch.stack([w16, w16.flip(0)]), torch.tensor([24000, 20000]),
                                  None, prefixes)
        out[f"{swap}/batch"] = [record(nbest[0]) for nbest in nbests]
    return out


def test_pack_from_before_the_move_decodes_as_it_did(tmp_path):
    expected = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
    got = decoded(tmp_path)
    assert sorted(got) == sorted(expected)
    for key, want in expected.items():
        rows = got[key] if isinstance(got[key], list) else [got[key]]
        wants = want if isinstance(want, list) else [want]
        for row, ref in zip(rows, wants):
            assert row["token_ids"] == ref["token_ids"], key
            assert row["text"] == ref["text"], key
            assert (row["bandwidth"], row["bandwidth_from"]) == (ref["bandwidth"], ref["bandwidth_from"]), key
            assert row["score"] == pytest.approx(ref["score"], rel=1e-6), key
