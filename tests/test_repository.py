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
    {"io"},
    {"batching", "config"},
    {"data", "metrics"},
    {"models", "latent"},
    {"agent", "experiments"},
    {"plots", "widgets", "checks", "report"},
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
