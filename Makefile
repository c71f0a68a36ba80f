# Two commands set everything up on a fresh machine:
#   make demo   creates .venv if missing, installs, and renders the bundled demo (out/demo.mp4)
#   make test   creates .venv if missing, installs, and runs the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= test,coqui,audiowm,ray,serve

.PHONY: demo test test-fast bench doctor venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

demo: venv
	mkdir -p out
	$(BIN)/talkinghead say --script examples/demo.txt --face assets/face/astronaut.png -o out/demo.mp4 --sidecars

test: venv
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

bench: venv
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

doctor: venv
	$(BIN)/talkinghead doctor

clean:
	rm -rf out .pytest_cache build *.egg-info
