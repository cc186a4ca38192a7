"""Importing the package: it changes nothing global, light submodules stay light, and the ESPnet
imports it makes stay offline and keep stdout clean.

Each check runs in a fresh interpreter, since this test session has long imported everything.
"""

import subprocess
import sys

# records every network request the child makes (DNS lookups, connections, urllib requests)
NETWORK = ("import sys; requests = []; sys.addaudithook(lambda event, args: requests.append(event) "
           "if event.startswith(('socket.', 'urllib.')) else None); ")


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_importing_the_package_changes_nothing_global():
    out = run("import sys; finders, hooks, stdout = list(sys.meta_path), list(sys.path_hooks), "
              "sys.stdout; import espnet_smoe; "
              "assert sys.meta_path == finders and sys.path_hooks == hooks and sys.stdout is stdout; "
              "print(sorted(m for m in ('torch', 'nltk', 'espnet', 'espnet2') if m in sys.modules))")
    assert out.stdout.strip() == "[]"


def test_data_helpers_import_without_torch_or_nltk():
    # the recipe's small stage scripts start in a fraction of a second
    out = run("import sys, espnet_smoe.recipe.datadir, espnet_smoe.text.multitask; "
              "print(sorted(m for m in ('torch', 'nltk', 'espnet2') if m in sys.modules))")
    assert out.stdout.strip() == "[]"


def test_espnet2_imports_never_download_and_print_nothing_on_stdout():
    out = run(NETWORK + "import espnet_smoe.task.s2t, nltk.downloader; "
              "assert 'g2p_en' in sys.modules; "  # the import that calls nltk.download() offline
              "assert 'espnet.nets.pytorch_backend.transformer.attention' in sys.modules; "
              "assert nltk.download is nltk.downloader.download; "  # nltk's own again after it
              "sys.stderr.write(f'requests: {requests}')")
    assert out.stdout == ""  # ESPnet's flash-attention notice went to stderr
    assert "[nltk_data]" not in out.stderr and out.stderr.endswith("requests: []")
