"""The repository keeps its promises: clean notebooks, one set of requirements, the README's commands."""

import ast
import io
import json
import re
import tokenize
import tomllib
from pathlib import Path

import pytest

INSTALL_CELL = "# Hosted kernels (Colab): install latentlab"  # tools/colab_cell.py's MARKER (tests/test_colab.py)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no numbered notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} carry outputs; clear them (jupyter nbconvert --clear-output --inplace)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_load_their_config_and_write_metrics(path):
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code = ["".join(c["source"]) for c in cells]
    number = path.name[:2]
    # The install cell (tools/colab_cell.py: installs latentlab in a hosted kernel) may come first, then the
    # papermill parameters cell (`papermill -p profile cpu`), then the setup cell that loads the config with them.
    params = 1 if code[0].startswith(INSTALL_CELL) else 0
    assert cells[params]["metadata"].get("tags") == ["parameters"], "the parameters cell (tagged) comes first"
    namespace: dict = {}
    exec(code[params], namespace)
    assert namespace["profile"] is None and namespace["seed"] is None, "defaults come from the environment"
    assert f'config.load("{number}", profile=profile, seed=seed)' in code[params + 1], "setup must use the parameters"
    assert any("save_metrics(" in c for c in code[-2:]), "a closing cell must write metrics.json"
    assert "checks.finish()" in code[-1], "the closing cell must check its results (latentlab.checks.Checks)"
    assert "".join(nb["cells"][0]["source"]).startswith(f"# {number}"), "the notebook opens with its title"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _conda_and_pip(path: Path) -> tuple[set[str], set[str]]:
    """The conda and the pip requirements of an environment file, spaces removed."""
    conda, pip, in_pip = set(), set(), False
    text = path.read_text()
    for line in text[text.index("dependencies:") :].splitlines():
        item = line.split("#")[0].strip()
        if item == "- pip:":
            in_pip = True
        elif item.startswith("- "):
            (pip if in_pip and line.startswith(" " * 6) else conda).add(item[2:].replace(" ", "").replace("'", '"'))
    return conda, pip


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_environment_yml_installs_what_pyproject_asks_for(path):
    """Conda users (environment.yml) and Binder (binder/) get the core, `lab`, `offline` and `cpu`: conda-forge
    packages where they exist, pip for TensorFlow, and no test tools."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    conda, pip = _conda_and_pip(ROOT / path)
    wanted = {r.replace(" ", "") for r in project["dependencies"] + extras["lab"] + extras["offline"]}
    assert conda - {"python=3.11", "pip"} == wanted, (
        f"only in {path}: {conda - wanted - {'python=3.11', 'pip'}}; only in pyproject: {wanted - conda}"
    )
    assert {r for r in pip if not r.startswith("-")} == {r.replace(" ", "").replace("'", '"') for r in extras["cpu"]}
    assert not {_name(r) for r in conda | pip} & {_name(r) for r in extras["test"]} - {"nbformat"}, "test tools"
    assert ("--editable." in {r.replace(" ", "") for r in pip}) == (path == "environment.yml"), (
        "the root file installs the clone; Binder's postBuild does (the source is not there when the env is built)"
    )
    gpu = {_name(r) for r in extras["gpu"]}
    assert gpu == {"tensorflow"} and {_name(r) for r in extras["cpu"]} == {"tensorflow-cpu", "tensorflow"}


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert blocks and blocks[0].strip().splitlines()[0].strip() == "make run"
    assert blocks[1].strip().splitlines()[0].strip() == "make test"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call the README's test command"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.M) and re.search(r"^run:", makefile, re.M)


def test_offline_requirements_are_pinned_wheels():
    text = (ROOT / "requirements-offline.txt").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)


def _logic_lines(source: str) -> int:
    """Python's logical lines: a statement written over several lines (as the formatter wraps a long call) is one."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return sum(1 for t in tokens if t.type == tokenize.NEWLINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_cells_tell_the_story_and_leave_the_work_to_the_package(path):
    """No code cell has more than 15 lines of logic (logical lines; comments and blank lines do not count), except
    the setup cell, the closing cell and the classroom exercises: longer logic belongs in latentlab, with a
    docstring and a test."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    first = 3 if "".join(cells[0]["source"]).startswith(INSTALL_CELL) else 2  # install cell, parameters, setup
    long = {
        i: _logic_lines("".join(c["source"]))
        for i, c in enumerate(cells[first:-1], first)
        if not c["metadata"].get("nbgrader") and _logic_lines("".join(c["source"])) > 15
    }
    assert not long, f"{path.name}: code cells (counted among code cells) with more than 15 lines of logic: {long}"


#: Each part of the package and what it may build on: imports point down this list, never up.
LAYERS = [
    {"errors", "__init__"},
    {"io", "memory"},
    {"batching", "config"},
    {"data", "metrics"},
    {"models", "latent"},
    {"agent", "experiments"},
    {"plots", "widgets", "checks", "report", "estimate"},
    {"runner", "assignments"},
    {"cli"},
    {"__main__"},
]
LEVEL = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def _latentlab_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "latentlab":
            parts = node.module.split(".")
            found += [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name.split(".")[1] for a in node.names if a.name.startswith("latentlab.")]
    return found


def test_imports_point_down_and_models_know_no_dataset():
    package = ROOT / "latentlab"
    wrong = []
    for path in sorted(package.rglob("*.py")):
        part = path.relative_to(package).parts[0].removesuffix(".py")
        assert part in LEVEL, f"{path}: add the new module to LAYERS"
        for target in _latentlab_imports(ast.parse(path.read_text())):
            if target != part and (LEVEL.get(target, -1) >= LEVEL[part] or (part, target) == ("models", "data")):
                wrong.append(f"{path.relative_to(ROOT)} imports latentlab.{target}")
    assert not wrong, "imports must point down the layers " + str(LAYERS) + ":\n" + "\n".join(wrong)


# A number in a notebook's prose is a quote or a setting, never a result: the text is read beside outputs of any
# profile and seed, so results are rendered from the run ("paper reported / this run" cells, report.paper_table).
RESULT_NUMBER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?)(\s*%|x\b|\s*dB)?")
SETTING = re.compile(r"(?<![\w.])[A-Za-z_]\w*\s*=\s*(\d+(?:\.\d+)?)")  # k = 28: a setting, or a found value
REFERENCE = re.compile(r"(?:sections?|paper|figs?\.|tables?|eqs?\.|§)\s*\(?(?:[\d.]+\s*(?:,|and|or|-|–)\s*)*$", re.I)
OUR_RUN = re.compile(r"\bour\s+(?:\S+\s+)?runs?\b", re.IGNORECASE)  # "in our `cpu` run, ...": a result


def _prose(markdown: str) -> str:
    """Markdown without what may carry any number: code, maths, link targets and headings."""
    for pattern in (r"```.*?```", r"`[^`]*`", r"\$\$.*?\$\$", r"\$[^$]*\$", r"\]\([^)]*\)", r"https?://\S+"):
        markdown = re.sub(pattern, " ", markdown, flags=re.DOTALL)
    return "\n".join(line for line in markdown.splitlines() if not line.lstrip().startswith("#"))


def _known_numbers(path: Path) -> set[float]:
    """Every number written in the notebook's code (its settings and the paper's values it quotes, e.g. the
    PAPER dicts of the "paper reported / this run" tables) and in its section of profiles.toml."""
    nb = json.loads(path.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    profiles = json.dumps(tomllib.loads((ROOT / "latentlab" / "profiles.toml").read_text()).get(path.name[:2], {}))
    return {float(n) for n in re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", code + profiles)}


def _is_known(text: str, unit: str | None, known: set[float]) -> bool:
    value = float(text.replace(",", ""))
    decimals = len(text.split(".")[1]) if "." in text else 0
    candidates = {value, value / 100} if unit and "%" in unit else {value}
    # a quote may round the code's value: 32.02 dB for PSNR 32.0207, 30% for -0.30
    return any(round(abs(k), decimals + (2 if c != value else 0)) == c for k in known for c in candidates)


def markdown_results(path: Path) -> list[tuple[int, str]]:
    """(cell index, number) of each result-like number in the notebook's markdown that is not a setting or a
    quote: decimals, percentages, "N x" ratios and dB values, and "name = N" settings-like integers, outside
    headings, code spans, maths and section/figure references, that appear in none of the notebook's code or
    profiles. Also every sentence that reports "our run"."""
    known, found = _known_numbers(path), []
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = _prose("".join(cell["source"]))
        found += [(i, " ".join(m.group(0).split())) for m in OUR_RUN.finditer(text)]
        for m in RESULT_NUMBER.finditer(text):
            number, unit = m.group(1), m.group(2)
            reference = REFERENCE.search(text[max(0, m.start() - 40) : m.start()])
            if ("." in number or unit) and not reference and not _is_known(number, unit, known):
                found.append((i, m.group(0).strip()))
        found += [(i, m.group(0)) for m in SETTING.finditer(text) if not _is_known(m.group(1), None, known)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_markdown_states_no_result_of_a_run(path):
    assert not markdown_results(path), (
        f"{path.name}: numbers in markdown that are neither the paper's nor a setting (put the paper's in code, "
        f"e.g. a PAPER dict, and render this run's with report.paper_table): {markdown_results(path)}"
    )


def test_the_markdown_rule_finds_results_and_lets_quotes_and_settings_through(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": ['PAPER = {"psnr": 32.0207, "gain": -0.30}\n', "k = 4"]},
            {"cell_type": "markdown", "metadata": {}, "source": ["The paper: 32.02 dB and ~30% lower MSE, k = 4."]},
            {"cell_type": "markdown", "metadata": {}, "source": ["## 2.5 heading\n", "See section 6.2 and `0.77`."]},
            {"cell_type": "markdown", "metadata": {}, "source": ["In our `cpu` run the MSE fell by 0.35 (70%)."]},
            {"cell_type": "markdown", "metadata": {}, "source": ["So the graph needs k = 28 here, $x = 0.5$."]},
        ]
    }
    path = tmp_path / "01_example.ipynb"
    path.write_text(json.dumps(nb))
    assert markdown_results(path) == [(3, "our run"), (3, "0.35"), (3, "70%"), (4, "k = 28")]
