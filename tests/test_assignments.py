"""Student versions come from the instructor notebooks through nbgrader, and grade as they should."""

import json
from pathlib import Path

import pytest

pytest.importorskip("nbgrader", reason="install the test extra: pip install -e '.[test]'")

from latentlab import assignments  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_mnist_dense_autoencoder_gmm_sampling.ipynb"


def _graded(nb: dict) -> dict[str, dict]:
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader")}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    (released,) = assignments.generate(root, [NOTEBOOK])
    return root, released


def test_every_exercise_notebook_is_found():
    assert NOTEBOOK in assignments.exercise_notebooks()


def test_student_version_has_no_solutions_and_no_hidden_tests(course):
    _, released = course
    student, instructor = json.loads(released.read_text()), json.loads(NOTEBOOK.read_text())
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    for grade_id, cell in _graded(instructor).items():
        mine = "".join(_graded(student)[grade_id]["source"])
        meta = cell["metadata"]["nbgrader"]
        if meta.get("solution"):
            solution = "".join(cell["source"]).split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            body = [l.strip() for l in solution.splitlines() if l.strip()]
            assert body and not any(line in mine for line in body), f"{grade_id}: solution code leaked"
            assert "raise NotImplementedError()" in mine
        if meta.get("grade"):
            hidden = "".join(cell["source"]).split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            assert not any(l.strip() in mine for l in hidden.splitlines() if l.strip())
            visible = "".join(cell["source"]).split("### BEGIN HIDDEN TESTS")[0].strip()
            assert visible and visible in mine, f"{grade_id}: the visible tests must stay"
    assert len(student["cells"]) == len(instructor["cells"])


def test_solved_version_passes_and_unsolved_fails_exactly_the_exercises(course, monkeypatch):
    monkeypatch.setenv("LATENTLAB_PROFILE", "smoke")
    root, released = course
    assignment = NOTEBOOK.stem
    solved = assignments.autograde(root, assignment, "solver", assignments.fill_from_solutions(released, NOTEBOOK))
    tests = {g: s for g, s in solved.items() if g.endswith("_tests")}
    assert tests and all(score == full > 0 for score, full in tests.values()), solved

    unsolved = assignments.autograde(root, assignment, "blank", released)
    assert all(score == 0 for score, _ in (unsolved[g] for g in tests)), unsolved
    graded = json.loads((root / "autograded" / "blank" / assignment / f"{assignment}.ipynb").read_text())
    failing = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id", f"cell {i}")
               for i, c in enumerate(graded["cells"])
               if c["cell_type"] == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))}
    assert failing == set(tests), f"cells that failed: {failing}"
