"""Stage 4: the byte-level BPE tokenizer and ESPnet's token list of the multitask scheme.

BBPE is trained on every output text (transcripts and translations); the language and task
tokens of the multitask scheme are added as atomic tokens (espnet_smoe/text/multitask.py).
"""

from pathlib import Path
from typing import List, Sequence

from espnet_smoe.recipe.datadir import read_table
from espnet_smoe.text.multitask import special_tokens
from espnet_smoe.text.tokenizer import make_token_list, train_bbpe


def write_token_list(texts: Sequence[Path], src_lang: str, tgt_langs: Sequence[str], vocab_size: int,
                     outdir: Path, num_threads: int = 2) -> List[str]:
    """Train ``<outdir>/bbpe.model`` on the Kaldi text files ``texts``; write and return
    ``<outdir>/tokens.txt``."""
    lines = [t for path in texts for t in read_table(path).values()]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    model = train_bbpe(lines, outdir / "bbpe", vocab_size, num_threads=num_threads)
    tokens = make_token_list(model, special_tokens(src_lang, tgt_langs))
    (outdir / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return tokens
