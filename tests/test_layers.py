"""The package's layers (docs/architecture.md): checked with import-linter, as configured in
pyproject.toml, and tests that reach code as the package, never as loose scripts."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_lower_layers_never_import_higher_ones_and_siblings_form_no_cycle():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--config", "pyproject.toml", "--no-cache"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_tests_import_the_package_not_scripts_by_path():
    # importlib's loader by file name, spelled in two pieces so that this file does not match
    loose = re.compile(r"sys\.path\.(insert|append)\(|spec_from_" r"file_location\(")
    offenders = [f"{path.name}:{n}" for path in sorted(Path(__file__).parent.glob("*.py"))
                 if path != Path(__file__)
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if loose.search(line)]
    assert not offenders, offenders
