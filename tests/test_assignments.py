"""Student versions come from the instructor notebooks through nbgrader, and grade as they should.

Every exercise notebook: the student version carries no solution and no hidden test, and handed in
unsolved it fails exactly its exercise tests (graded up to its last exercise, once it is shown that no later
cell uses what the exercises define). Notebook 01 is also handed in solved and must get full marks (for the
others, the instructor notebook, which holds the same solutions and hidden tests, passes in
tests/test_notebooks.py)."""

import ast
import json
import shutil
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="install the test extra: pip install -e '.[test]'")

from latentlab import assignments  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = assignments.exercise_notebooks(ROOT / "notebooks")
FIRST = ROOT / "notebooks" / "01_mnist_dense_autoencoder_gmm_sampling.ipynb"


def _graded(nb: dict) -> dict[str, dict]:
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader")}


def _between(text: str, begin: str, end: str) -> list[str]:
    return [line.strip() for line in text.split(begin)[1].split(end)[0].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    return root, dict(zip(EXERCISES, assignments.generate(root, EXERCISES)))


def test_notebook_01_has_exercises():
    assert FIRST in EXERCISES


@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: p.name[:2])
def test_student_version_has_no_solutions_and_no_hidden_tests(course, notebook):
    released = course[1][notebook]
    student, instructor = json.loads(released.read_text()), json.loads(notebook.read_text())
    assert "BEGIN SOLUTION" not in released.read_text() and "HIDDEN TESTS" not in released.read_text()
    graded = _graded(instructor)
    assert 2 <= sum(1 for c in graded.values() if c["metadata"]["nbgrader"].get("grade")) <= 4
    for grade_id, cell in graded.items():
        mine, source = "".join(_graded(student)[grade_id]["source"]), "".join(cell["source"])
        if cell["metadata"]["nbgrader"].get("solution"):
            body = _between(source, "### BEGIN SOLUTION", "### END SOLUTION")
            leaked = [line for line in body if any(ch.isalnum() for ch in line) and line in mine]
            assert body and not leaked, f"{grade_id}: solution code leaked: {leaked}"
            assert "raise NotImplementedError()" in mine
        if cell["metadata"]["nbgrader"].get("grade"):
            hidden = _between(source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
            visible = source.split("### BEGIN HIDDEN TESTS")[0].strip()
            own = [line for line in hidden if any(ch.isalnum() for ch in line) and line not in visible]
            assert hidden and not [line for line in own if line in mine], f"{grade_id}: hidden tests leaked"
            assert visible and visible in mine, f"{grade_id}: the visible tests must stay"
    assert len(student["cells"]) == len(instructor["cells"])


def _failing_cells(path: Path) -> set[str]:
    graded = json.loads(path.read_text())
    return {
        c.get("metadata", {}).get("nbgrader", {}).get("grade_id", f"cell {i}")
        for i, c in enumerate(graded["cells"])
        if c["cell_type"] == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    }


def _names(source: str, kinds: tuple[type, ...]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and ast.FunctionDef in kinds:
            found.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, kinds):
            found.add(node.id)
    return found


def _up_to_the_last_exercise(released: Path) -> nbformat.NotebookNode:
    """The student version cut after its last graded cell, once it is shown that no later cell uses a name the
    exercises define (so the cut cannot hide a failure caused by an unsolved exercise)."""
    nb = nbformat.read(released, as_version=4)
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in nb.cells]
    last = max(i for i, m in enumerate(meta) if m.get("grade") or m.get("solution"))
    defined = set().union(
        *(_names(c.source, (ast.Store, ast.FunctionDef)) for c, m in zip(nb.cells, meta) if m.get("solution"))
    )
    used_later = set().union(*(_names(c.source, (ast.Load,)) for c in nb.cells[last + 1 :] if c.cell_type == "code"))
    assert not defined & used_later, f"cells after the exercises use what they define: {defined & used_later}"
    nb.cells = nb.cells[: last + 1]
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: p.name[:2])
def test_unsolved_version_fails_exactly_the_exercise_tests(course, notebook, monkeypatch, smoke_run, tmp_path):
    """Graded in the smoke profile with the smoke run's checkpoints: every model trained before the exercises
    resumes finished, as it does when a student reruns a notebook (an unsolved exercise fails whatever the
    training, and tracing a training step costs more than anything else here)."""
    build, run = smoke_run(notebook.name[:2])
    if (build / run.stem / "checkpoints").is_dir():
        shutil.copytree(build / run.stem / "checkpoints", tmp_path / "build" / run.stem / "checkpoints")
    monkeypatch.setenv("LATENTLAB_PROFILE", "smoke")
    root, released = course
    scores = assignments.autograde(root, notebook.stem, "blank", _up_to_the_last_exercise(released[notebook]))
    tests = {g for g in scores if g.endswith("_tests")}
    assert tests and all(scores[g][0] == 0 < scores[g][1] for g in tests), scores
    assert _failing_cells(root / "autograded" / "blank" / notebook.stem / notebook.name) == tests


@pytest.mark.slow
def test_solved_version_gets_full_marks(course, smoke_run):
    """Solved = the student version with the instructor's solutions, which with the hidden tests restored is
    the instructor notebook: its smoke run (executed once for all tests) is handed in and graded as it is."""
    root, released = course
    solved = assignments.fill_from_solutions(released[FIRST], FIRST)
    executed = nbformat.read(smoke_run("01")[1].executed, as_version=4)
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code"), "grade a run, not a blank copy"
    assert [c.source for c in solved.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")] == [
        assignments.SOLUTION.sub("", c.source)
        for c in executed.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    ]
    scores = assignments.autograde(root, FIRST.stem, "solver", executed, execute=False)
    tests = {g: s for g, s in scores.items() if g.endswith("_tests")}
    assert tests and all(score == full > 0 for score, full in tests.values()), scores
    assert not _failing_cells(root / "autograded" / "solver" / FIRST.stem / FIRST.name)
