# Two commands on a fresh machine:  `make run` (notebooks) and `make test` (tests).
# Both create .venv if missing. Override: PYTHON=python3.11, VENV=.venv-gpu EXTRAS=gpu.
PYTHON ?= python3
VENV ?= .venv
EXTRAS ?= cpu
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
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

## Execute every notebook headless in the default profile (LATENTLAB_PROFILE or cpu/full by GPU);
## executed copies and HTML go to build/executed/, metrics to build/<notebook>/, summary to build/REPORT.md.
run: install
	mkdir -p build/executed
	for nb in $(NOTEBOOKS); do \
	  $(BIN)/jupyter nbconvert --to notebook --execute "$$nb" --output-dir build/executed \
	    --ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.kernel_name=python3 || exit 1; \
	  $(BIN)/jupyter nbconvert --to html "build/executed/$$(basename $$nb)" --output-dir build/executed || exit 1; \
	done
	$(BIN)/python -m latentlab report

## Unit tests, then every notebook under nbval, all in the smoke profile.
test: install-test
	LATENTLAB_PROFILE=smoke $(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

## JupyterLab on the same environment, with the kernel registered as "latentlab".
lab: install
	$(BIN)/python -m ipykernel install --sys-prefix --name latentlab --display-name "Python (latentlab)"
	$(BIN)/jupyter lab notebooks

report: install
	$(BIN)/python -m latentlab report

## Student versions of the notebooks (nbgrader generate_assignment) into build/assignments/release/.
assignments: install
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),offline,teach]"
	$(BIN)/python -m latentlab assignments

clean:
	rm -rf build .pytest_cache
