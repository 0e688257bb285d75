# winimage.provisioning — entry points. `make demo` and `make test` are the two
# commands a newcomer runs; both install what they need first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections

.PHONY: setup layout test sanity lint pytest unit integration fuzz demo bench clean

setup:
	scripts/setup

# ansible_collections/winimage/provisioning -> this checkout, for ansible and lint
layout:
	@mkdir -p .build/collections/ansible_collections/winimage
	@ln -sfn ../../../.. .build/collections/ansible_collections/winimage/provisioning

test: setup layout
	scripts/run-tests

sanity: setup
	scripts/run-sanity

lint: setup layout
	scripts/run-lint

pytest: setup layout
	$(PY) -m pytest tests/unit tests/integration

unit: setup layout
	$(PY) -m pytest tests/unit

integration: setup layout
	$(PY) -m pytest tests/integration

fuzz: setup layout
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100000} $(PY) -m pytest -q -p no:cacheprovider tests/unit/test_odj_fuzz.py

demo: setup layout
	scripts/demo

bench: setup layout
	$(PY) tests/bench/run.py

clean:
	rm -rf .build tests/output .pytest_cache
