"""Classroom assignments: student versions of the notebooks, generated and graded by nbgrader.

The notebooks in ``notebooks/`` are the instructor versions: exercise cells follow nbgrader's
conventions (``### BEGIN SOLUTION`` / ``### END SOLUTION``, ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS``, ``nbgrader`` cell metadata). :func:`generate` lays out an nbgrader course
folder (``source/<notebook>/<notebook>.ipynb``) and runs ``nbgrader generate_assignment`` on it, so
``release/<notebook>/`` holds what students get; :func:`autograde` grades a student's copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from latentlab.config import build_dir, project_root
from latentlab.errors import LatentlabError

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI

COURSE_ID = "latentlab"
SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def exercise_notebooks(folder: Path | None = None) -> list[Path]:
    """The numbered notebooks in ``folder`` (default ``notebooks/``) that contain graded cells."""
    folder = Path(folder) if folder is not None else project_root() / "notebooks"
    found = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        if any(c.get("metadata", {}).get("nbgrader", {}).get("grade") for c in cells):
            found.append(path)
    return found


@contextlib.contextmanager
def _venv_on_path() -> Iterator[None]:
    """nbgrader runs the ``alembic`` command of its own environment; make sure it is found even
    when Python was started as ``.venv/bin/python`` without activating the environment."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), old])
    try:
        yield
    finally:
        os.environ["PATH"] = old


def _api(root: Path, execute_timeout: int = 900, execute: bool = True) -> NbGraderAPI:
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = COURSE_ID
    config.Execute.timeout = execute_timeout
    config.Execute.enabled = execute
    return NbGraderAPI(config=config)


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise LatentlabError(f"nbgrader could not {what}:\n{result.get('error') or ''}\n{result.get('log') or ''}")


def generate(out: Path | None = None, notebooks: list[Path] | None = None) -> list[Path]:
    """Generate the student version of every exercise notebook into ``out/release/`` (default
    ``build/assignments``) with nbgrader; returns the released notebooks' paths."""
    out = Path(out) if out is not None else build_dir() / "assignments"
    notebooks = exercise_notebooks() if notebooks is None else [Path(p) for p in notebooks]
    if not notebooks:
        raise LatentlabError("No notebook has nbgrader exercise cells; nothing to generate.")
    api = _api(out)
    released = []
    for nb in notebooks:
        source = out / "source" / nb.stem
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy2(nb, source / nb.name)
        with _venv_on_path():
            result = api.generate_assignment(nb.stem, force=True, create=True)
        _check(result, f"generate the assignment {nb.stem}")
        released.append(out / "release" / nb.stem / nb.name)
    return released


def fill_from_solutions(student: Path, instructor: Path) -> nbformat.NotebookNode:
    """The student notebook with every solution cell replaced by the instructor's solution (markers
    removed): what a student who solved everything would hand in."""
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: SOLUTION.sub("", c.source)
        for c in nbformat.read(instructor, as_version=4).cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(student, as_version=4)
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and grade_id in solutions:
            cell.source = solutions[grade_id]
    return nb


def autograde(
    root: Path, assignment: str, student: str, notebook: nbformat.NotebookNode | Path, execute: bool = True
) -> dict[str, tuple[float, float]]:
    """Put ``notebook`` in as ``student``'s submission of ``assignment`` under the course folder
    ``root``, run ``nbgrader autograde`` (which executes it, with the hidden tests restored) and return
    ``{grade_id: (score, max_score)}`` for every graded cell. ``execute=False`` grades the outputs the
    notebook already has (an executed copy), without running it again."""
    from nbgrader.api import Gradebook

    root = Path(root)
    target = root / "submitted" / student / assignment / f"{assignment}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, (str, Path)):
        shutil.copy2(notebook, target)
    else:
        nbformat.write(notebook, target)
    with _venv_on_path():
        result = _api(root, execute=execute).autograde(assignment, student, force=True, create=True)
    _check(result, f"autograde {student}'s {assignment}")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (float(g.score), float(g.max_score)) for g in nb.grades}
