# Two commands on a fresh machine:  `make run` (notebooks) and `make test` (tests).
# Both create .venv if missing. Override: PYTHON=python3.11, VENV=.venv-gpu EXTRAS=gpu.
PYTHON ?= python3
VENV ?= .venv
EXTRAS ?= cpu
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run test lab report assignments clean install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-$(EXTRAS): $(BIN)/python pyproject.toml requirements-offline.txt
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),offline]"
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-offline.txt
	touch $@

$(VENV)/.installed-test-$(EXTRAS): $(VENV)/.installed-$(EXTRAS)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),offline,test]"
	touch $@

install: $(VENV)/.installed-$(EXTRAS)
install-test: $(VENV)/.installed-test-$(EXTRAS)

## Execute every notebook headless in the default profile (LATENTLAB_PROFILE, LATENTLAB_SEED; cpu/full by GPU),
## each one even if another fails; executed copies and HTML go to build/executed/, metrics to
## build/<notebook>/, a summary with every failure to build/REPORT.md. Exits non-zero if a notebook failed.
run: install
	$(BIN)/latentlab run

## Unit tests, then every notebook under nbval, all in the smoke profile.
test: install-test
	LATENTLAB_PROFILE=smoke $(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

## JupyterLab on the same environment, with the kernel registered as "latentlab".
lab: install
	$(BIN)/python -m ipykernel install --sys-prefix --name latentlab --display-name "Python (latentlab)"
	$(BIN)/jupyter lab notebooks

report: install
	$(BIN)/latentlab report

## Student versions of the notebooks (nbgrader generate_assignment) into build/assignments/release/.
assignments: install
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),offline,teach]"
	$(BIN)/latentlab assignments

clean:
	rm -rf build .pytest_cache
