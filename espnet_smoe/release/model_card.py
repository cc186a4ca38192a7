"""The model card (``README.md``) packed with a trained model and shown on its Hub page.

A pack of an S-MoE model loads only with espnet_smoe installed (stock ESPnet has no
``model: smoe``), so the card says which version it needs, beside what the model is, how its
stacks are routed, its parameters and its results. The YAML front matter is what the Hugging
Face Hub reads for its filters (``library_name``, ``tags``, ``language``, ``license``).
"""

import re
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from espnet_smoe.text.multitask import (ASR, describe, is_lang_token, is_task_token, target_lang, task_of,
                                   task_token)
from espnet_smoe.nets.route import is_routed
from espnet_smoe.text.tokenizer import S2T_SPECIALS

ARXIV = "2508.10009"
REPO_PLACEHOLDER = "<org>/<name>"
TAGS = ["espnet", "espnet-smoe", "audio", "automatic-speech-recognition", "speech-translation",
        "mixture-of-experts"]


def requirement(version: str) -> str:
    """The pip requirement a pack made with espnet_smoe ``version`` needs."""
    return f"espnet-smoe>={version}"


def front_matter(langs: List[str], license: str) -> str:
    meta = dict(library_name="espnet", tags=TAGS, language=langs, license=license,
                pipeline_tag="automatic-speech-recognition")
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n"


def routing(name: str, module, conf: dict) -> str:
    """How a stack's FFNs are chosen: dense, S-MoE by bandwidth or task token, or a gate."""
    blocks = len(getattr(module, "encoders" if name == "encoder" else "decoders", []))
    layers = getattr(module, "smoe_layers", None)
    if not layers:
        return "dense FFNs (no experts)"
    where = "every block" if len(layers) == blocks else f"blocks {layers}"
    gates = getattr(module, "gates", None)
    if gates is not None:
        return (f"{gates.num_experts} experts per FFN in {where} behind a learned per-token "
                f"gate (top-{gates.top_k}), for comparison: no supervised route")
    n = module.num_experts
    if name == "encoder":
        pairs = ", ".join(f"`{bw}` -> {e}" for e, bw in enumerate(module.route_labels))
        return f"S-MoE: {n} experts per FFN in {where}, routed by the input's bandwidth ({pairs})"
    scheme = conf.get("route_tokens", "per_task")
    resolved = ", ".join(f"`{t}` -> {e}" for t, e in module.route_tokens.items())
    given = f"`route_tokens: {scheme}` resolves to" if isinstance(scheme, str) else "`route_tokens`:"
    return (f"S-MoE: {n} experts per FFN in {where}, routed by the task token of the prefix; "
            f"{given} {resolved}")


def experts(model) -> str:
    """One sentence on what picks the experts of the model's stacks."""
    rules = {"encoder": "the encoder's by the bandwidth of the input (wideband or narrowband)",
             "decoder": "the decoder's by the task token of the forced prefix `<sos> <lang> <task>`"}
    routed = [rule for name, rule in rules.items()
              if is_routed(getattr(model, name))]
    if routed:
        return f"Its expert FFNs are picked by rule, not by a learned gate: {', '.join(routed)}."
    if any(getattr(getattr(model, n), "gates", None) is not None for n in rules):
        return "It is the learned-gate MoE baseline: a gate picks its experts per token."
    return "It is a dense baseline: no experts."


def stack_row(name: str, config: dict, module, d_model: int) -> str:
    conf = config.get(f"{name}_conf") or {}
    blocks = len(getattr(module, "encoders" if name == "encoder" else "decoders", []))
    shape = (f"{blocks} blocks, d_model {d_model}, FFN {conf.get('linear_units', 'default')}, "
             f"{conf.get('attention_heads', 'default')} heads")
    return f"| {name} | `{config.get(name)}`: {shape}; {routing(name, module, conf)} |"


def languages(config: dict) -> Dict[str, List[str]]:
    """Source languages (of the speech) and translation targets, as ISO 639-3 codes."""
    tokens = config.get("token_list") or []
    tasks = [t for t in tokens if is_task_token(t)]
    targets = [lang for lang in (target_lang(task_of(t)) for t in tasks) if lang]
    sources = config.get("src_langs") or [  # not recorded (older models): the other languages
        t[1:-1] for t in tokens
        if is_lang_token(t) and t not in S2T_SPECIALS and t[1:-1] not in targets]
    return {"source": list(sources), "target": targets, "tasks": tasks}


def params_table(counts: dict) -> str:
    rows = [("total", counts["total"]), ("CTC head", counts["ctc"])]
    rows += [(f"active, route {route}", n) for route, n in counts["active"].items()]
    lines = ["| parameters | count |", "|---|---:|"]
    lines += [f"| {label} | {n:,} ({n / 1e6:.2f}M) |" for label, n in rows]
    note = ("Active: what one utterance runs on a route (its bandwidth's encoder experts, its "
            "task's decoder experts), CTC head excluded.")
    return "\n".join(lines) + "\n\n" + note


def demote(markdown: str, levels: int = 2) -> str:
    """Headings ``#`` -> ``###``, so that a whole RESULTS.md nests under the card's section."""
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + levels) + " ", markdown,
                  flags=re.MULTILINE)


def model_card(
    config: dict,
    model,
    counts: dict,
    version: str,
    name: str,
    results: Optional[str] = None,
    hf_repo: Optional[str] = None,
    license: str = "apache-2.0",
) -> str:
    """The card of the model ``config`` (an exp's config.yaml, loaded) builds.

    Args:
        model: The built model (its stacks say how they are routed).
        counts: :func:`espnet_smoe.task.build.count` of it.
        version: The espnet_smoe version that packs it (the least it needs).
        name: The pack's name (the exp tag).
        results: The exp's RESULTS.md, if scored.
        hf_repo: The Hub repository it is uploaded to (else a placeholder).
    """
    langs = languages(config)
    src = langs["source"][0] if langs["source"] else "spa"
    task = langs["tasks"][-1] if langs["tasks"] else task_token(ASR)
    repo = hf_repo or REPO_PLACEHOLDER
    d_model = model.encoder.output_size()
    tasks = ", ".join(f"`{t}` ({describe(task_of(t))})" for t in langs["tasks"])
    mconf = config.get("model_conf") or {}
    card = [
        front_matter(list(dict.fromkeys(langs["source"] + langs["target"])), license),
        f"# {name}: S-MoE speech-to-text\n",
        "A speech-to-text model trained with espnet-smoe (Supervised Mixture of Experts, S-MoE, "
        f"[arXiv:{ARXIV}](https://arxiv.org/abs/{ARXIV})) on ESPnet: one model transcribes speech "
        f"in {', '.join(langs['source']) or 'its source language'} and translates it into "
        f"{', '.join(langs['target']) or '(none)'}. {experts(model)}\n",
        f"**Needs espnet_smoe {version} or newer** (`pip install \"{requirement(version)}\"`): "
        "stock ESPnet cannot load `model: smoe`.\n",
        "## Model\n",
        "| | |\n|---|---|",
        stack_row("encoder", config, model.encoder, d_model),
        stack_row("decoder", config, model.decoder, d_model),
        f"| frontend | `{config.get('frontend')}` {config.get('frontend_conf') or {}} |",
        f"| CTC weight | {mconf.get('ctc_weight', 'default')} (CTC learns the source transcript) |",
        f"| tokens | `{config.get('token_type')}`, {len(config.get('token_list') or [])} in the list |",
        "",
        "## Tokens\n",
        f"Source language: {', '.join(f'`<{s}>`' for s in langs['source'])}. Task tokens: {tasks}. "
        f"Decoding forces the prefix `<sos> <{src}> <task>`; the task token picks the decoder's "
        "experts, the audio's bandwidth (given, or detected) the encoder's.\n",
        "## Parameters\n",
        params_table(counts) + "\n",
        "## Results\n",
        demote(results.strip()) + "\n" if results else "Not scored (no RESULTS.md in the exp).\n",
        "## Usage\n",
        "```python",
        "import soundfile as sf",
        "from espnet_smoe import Speech2Text\n",
        f's2t = Speech2Text.from_pretrained("{repo}")  # from the Hugging Face Hub',
        f'# or the local pack: Speech2Text.from_pretrained("exp/{name}/{name}.zip")',
        'wav, rate = sf.read("speech.wav")',
        f'best = s2t(wav, fs=rate, lang_sym="<{src}>", task_sym="{task}")[0]',
        "print(best[0], best.bandwidth)",
        "```\n",
        "## Citation\n",
        "```bibtex",
        "@misc{jin2025beyond,",
        "  title = {Beyond Hard Sharing: Efficient Multi-Task Speech-to-Text Modeling with "
        "Supervised Mixture of Experts},",
        "  author = {Jin, Hojun and Hong, Eunsoo and Hyung, Ziwon and Lim, Sungjun and "
        "Lee, Seungjin and Cho, Keunseok},",
        "  year = {2025},",
        f"  eprint = {{{ARXIV}}},",
        "  archivePrefix = {arXiv},",
        "  note = {Interspeech 2025}",
        "}",
        "```",
    ]
    return "\n".join(card) + "\n"


def exp_card(config_path: Path, name: str, version: str, hf_repo: Optional[str] = None,
             license: str = "apache-2.0") -> str:
    """The card of an exp dir's ``config.yaml`` (and RESULTS.md beside it, if any)."""
    from espnet_smoe.task.build import build_model, count

    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    model = build_model(Path(config_path), None, None)
    results = Path(config_path).with_name("RESULTS.md")
    return model_card(config, model, count(model), version, name,
                      results.read_text(encoding="utf-8") if results.is_file() else None,
                      hf_repo, license)
