# The two commands of the README: `make demo` (main job) and `make test` (tests).
# Both create .venv on first use and install into it; later runs skip the install
# unless setup.py changed.  CUDA users: set TORCH_SPEC to the wheel for their CUDA,
# e.g. `make demo TORCH_SPEC="torch torchvision --index-url <your CUDA wheel index>"`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.zeetad-installed

.PHONY: demo demo-anet test test-fast install clean-data

$(STAMP): setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

demo-anet: $(STAMP)
	$(PY) tools/demo.py --dataset activitynet

test: $(STAMP)
	$(PY) -m pytest tests -q -ra

test-fast: $(STAMP)
	$(PY) -m pytest tests -q -m "not slow"

clean-data:
	rm -rf data/synthetic_thumos14 data/synthetic_activitynet
