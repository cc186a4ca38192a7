# `make install`: the project's virtualenv (.venv) with the tested dependency set, plus the
# Debian packages the embedded corpus is made from. Idempotent; a no-op when up to date.
# `make test`: install if needed, then the whole test suite (what CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSDEPS_STAMP := $(VENV)/.sysdeps

.PHONY: install sysdeps test clean

install: $(STAMP) $(SYSDEPS_STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# pip >= 25 rejects espnet's ci_sdr dependency (a direct URL inside an extra)
	$(PY) -m pip install -q "pip<25"
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	touch $@

$(SYSDEPS_STAMP): tools/install_sysdeps.sh
	tools/install_sysdeps.sh
	@mkdir -p $(VENV) && touch $@

sysdeps:
	tools/install_sysdeps.sh

test: install
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) *.egg-info
