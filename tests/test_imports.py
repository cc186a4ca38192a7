"""Importing the package: light submodules stay light, heavy ones stay offline and keep stdout clean.

Each check runs in a fresh interpreter, since this test session has long imported everything.
"""

import subprocess
import sys


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_data_helpers_import_without_torch_or_nltk():
    # the recipe's small stage scripts start in a fraction of a second
    out = run("import sys, espnet_smoe.recipe.datadir, espnet_smoe.text.multitask; "
              "print(sorted(m for m in ('torch', 'nltk', 'espnet2') if m in sys.modules))")
    assert out.stdout.strip() == "[]"


def test_espnet2_imports_never_download_and_print_nothing_on_stdout():
    out = run("import espnet_smoe.task.s2t, nltk, sys; "
              "assert 'g2p_en' in sys.modules; "  # the import that calls nltk.download() offline
              "sys.stderr.write(str(nltk.download('cmudict')))")
    assert out.stdout == ""  # ESPnet's flash-attention notice went to stderr
    assert out.stderr.endswith("False")  # nltk.download is a no-op
