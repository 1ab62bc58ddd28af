"""Executing the notebooks headless: what ``latentlab run`` and ``make run`` do.

Every notebook asked for is executed, also after one fails. Each executed copy (with its error in it,
if any) and its HTML go to ``<build>/executed/``, and ``<build>/REPORT.md`` says which notebooks
failed and why (:func:`latentlab.report.write_report`). With several seeds (:func:`run_seeds`), every
run gets a build folder of its own, and a table reports each check of each notebook per run
(``checks.json``, written by :class:`latentlab.checks.Checks`) and whether runs of the same seed gave
the same numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from latentlab import checks as checks_module
from latentlab.config import build_dir, project_root, resolve_profile, resolve_seed
from latentlab.errors import ParameterError
from latentlab.io import atomic_path, write_json
from latentlab.report import RUNS, flatten, write_report


@dataclasses.dataclass
class NotebookRun:
    """One executed notebook: where its copy is, how long it took, and the error that stopped it."""

    notebook: str
    stem: str
    profile: str
    seed: int
    ok: bool
    seconds: float
    started: float
    executed: str
    html: str | None = None
    error: str | None = None

    def line(self) -> str:
        verdict = "ok" if self.ok else f"FAILED: {self.error}"
        return f"{self.notebook} ({self.profile}, seed {self.seed}) {_duration(self.seconds)}: {verdict}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def notebook_paths(numbers: Sequence[str] | None = None, folder: Path | None = None) -> list[Path]:
    """The numbered notebooks in ``folder`` (default ``<project>/notebooks``), all of them or those whose
    number is in ``numbers`` (``["01", "5"]``)."""
    folder = Path(folder) if folder is not None else project_root() / "notebooks"
    found = {p.name[:2]: p for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}
    if not found:
        raise ParameterError(
            f"No numbered notebooks (NN_name.ipynb) in {folder}: run from the project folder or pass --notebooks DIR."
        )
    if not numbers:
        return list(found.values())
    wanted = [f"{int(n):02d}" if str(n).isdigit() else str(n) for n in numbers]
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ParameterError(f"No notebook numbered {', '.join(missing)} in {folder}; there are {', '.join(found)}.")
    return [found[n] for n in wanted]


def _error_line(exc: BaseException) -> str:
    name, value = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{name}: {value}" if name else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


def _failure(started: int | None, exc: BaseException) -> str:
    """What stopped a notebook: the failing cell's error, or, when no cell raised one (the kernel was killed, ran
    out of memory or crashed, and nbclient's own error says little, e.g. a bare AssertionError), the cell the
    kernel stopped in: ``started``, the index of the last cell sent to the kernel (None if none was)."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    line = _error_line(exc)
    if isinstance(exc, (CellExecutionError, CellTimeoutError)):
        return line
    where = f"in cell {started}" if started is not None else "before the first cell"
    return (
        f"the kernel stopped {where} without an error in a cell: killed, out of memory or crashed (nbclient: {line})"
    )[:500]


def execute(
    path: Path, build: Path, profile: str, seed: int, timeout: int | None = None, html: bool = True
) -> NotebookRun:
    """Execute the notebook at ``path`` with ``LATENTLAB_PROFILE``, ``LATENTLAB_SEED`` and ``LATENTLAB_BUILD``
    set for its kernel; write the executed copy (also when a cell fails) and its HTML to ``<build>/executed/``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "LATENTLAB_PROFILE": profile, "LATENTLAB_SEED": str(seed), "LATENTLAB_BUILD": str(build)}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the cell in flight, from nbclient's hook: a dying cell's execution_count races the kernel's death
    in_flight: list[int] = []
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=lambda cell, cell_index: in_flight.append(cell_index),
    )
    out = build / "executed"
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    error = None
    # the kernel process's own log lines (not the cells' output, which is in the notebook) go to a file
    with open(out / f"{path.stem}.kernel.log", "wb") as kernel_log:
        try:
            client.execute(env=env, stdout=kernel_log, stderr=kernel_log)
        except Exception as exc:  # a failing cell, a dead kernel, a timeout: keep the copy, report, go on
            error = _failure(in_flight[-1] if in_flight else None, exc)
    seconds = time.time() - started
    executed = out / path.name
    with atomic_path(executed, suffix=".ipynb") as tmp:
        nbformat.write(nb, tmp)
    html_path = None
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        html_path = executed.with_suffix(".html")
        with atomic_path(html_path, suffix=".html") as tmp:
            tmp.write_text(body, encoding="utf-8")
    return NotebookRun(
        path.name[:2],
        path.stem,
        profile,
        seed,
        error is None,
        seconds,
        started,
        str(executed),
        str(html_path) if html_path else None,
        error,
    )


def run(
    numbers: Sequence[str] | None = None,
    profile: str | None = None,
    seed: int | None = None,
    build: Path | None = None,
    notebooks: Path | None = None,
    timeout: int | None = None,
    html: bool = True,
    log: Callable[[str], None] = print,
) -> list[NotebookRun]:
    """Execute the notebooks (all, or ``numbers``) in ``profile`` with ``seed`` into ``build`` (default
    ``build/``), one after the other, each whatever happened to the last; write ``runs.json`` and
    ``REPORT.md`` there and return the runs."""
    profile, seed = resolve_profile(profile), resolve_seed(seed)
    build = Path(build) if build is not None else build_dir()
    paths = notebook_paths(numbers, notebooks)
    build.mkdir(parents=True, exist_ok=True)
    runs: list[NotebookRun] = []
    for i, path in enumerate(paths, 1):
        log(f"[{i}/{len(paths)}] {path.stem} ({profile}, seed {seed}) ...")
        runs.append(execute(path, build, profile, seed, timeout, html))
        log(f"[{i}/{len(paths)}] {runs[-1].line()}")
    write_json(build / RUNS, [dataclasses.asdict(r) for r in runs], indent=2)
    log(f"wrote {write_report(build)}")
    return runs


def load_runs(build: Path) -> list[NotebookRun]:
    """The runs recorded in ``<build>/runs.json`` by the last :func:`run` there (none if there is no such file
    or it cannot be read)."""
    try:
        return [NotebookRun(**r) for r in json.loads((Path(build) / RUNS).read_text())]
    except (OSError, ValueError, TypeError):
        return []


def _flat_metrics(path: Path) -> dict[str, str] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    rows: list[tuple[str, str]] = []
    flatten("", record.get("metrics", {}), rows, full=True)
    return dict(rows)


def _checks_of(path: Path) -> dict[str, dict] | None:
    try:
        return {c["claim"]: c for c in json.loads(path.read_text())["checks"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def seeds_table(stem: str, runs: Sequence[tuple[str, NotebookRun, Path]]) -> str:
    """Markdown: each check of notebook ``stem`` (rows) in each run (columns: ``(label, run, build)``), then
    whether runs of the same seed agree on every number of ``metrics.json``."""
    columns = [(label, run, _checks_of(build / stem / checks_module.FILE)) for label, run, build in runs]
    claims: list[str] = []
    for _, _, found in columns:
        claims += [c for c in (found or {}) if c not in claims]
    lines = [
        f"### {stem}",
        "",
        "| check | " + " | ".join(label for label, _, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for claim in claims:
        cells = []
        for _, _, found in columns:
            c = (found or {}).get(claim)
            cells.append(
                "-" if c is None else f"{c['status']} ({', '.join(f'{k}={v}' for k, v in c['values'].items())})"
            )
        lines.append(f"| {claim} | " + " | ".join(cells) + " |")
    lines.append(
        "| notebook | "
        + " | ".join(f"ok, {_duration(r.seconds)}" if r.ok else f"FAILED: {r.error}" for _, r, _ in columns)
        + " |"
    )
    by_seed: dict[int, list[tuple[str, Path]]] = {}
    for label, run_, build in runs:
        by_seed.setdefault(run_.seed, []).append((label, build))
    for seed, same in by_seed.items():
        if len(same) < 2:
            continue
        reference = _flat_metrics(same[0][1] / stem / "metrics.json")
        for label, build in same[1:]:
            other = _flat_metrics(build / stem / "metrics.json")
            if reference is None or other is None:
                verdict = "cannot compare: a run wrote no metrics.json"
            else:
                differ = [k for k in sorted(set(reference) | set(other)) if reference.get(k) != other.get(k)]
                verdict = (
                    "identical metrics.json"
                    if not differ
                    else f"{len(differ)} of {len(reference)} numbers "
                    "differ, e.g. " + "; ".join(f"{k}: {reference.get(k)} vs {other.get(k)}" for k in differ[:4])
                )
            lines += ["", f"Seed {seed}, {same[0][0]} vs {label}: {verdict}."]
    return "\n".join(lines) + "\n"


def run_seeds(
    numbers: Sequence[str] | None,
    profile: str | None,
    seeds: Sequence[int],
    build: Path | None = None,
    notebooks: Path | None = None,
    timeout: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[list[NotebookRun], Path]:
    """Run the notebooks once per entry of ``seeds`` (a seed may repeat: its runs are compared number by
    number), each run from scratch in ``<build>/seeds/<profile>/run<i>-seed<s>/``; write ``SEEDS.md`` there
    with every check per run. Returns all runs and the path of ``SEEDS.md``."""
    profile = resolve_profile(profile)
    seeds = [resolve_seed(s) for s in seeds]
    if not seeds:
        raise ParameterError("--seeds needs at least one seed, e.g. --seeds 0,1,2,0.")
    root = (Path(build) if build is not None else build_dir()) / "seeds" / profile
    paths = notebook_paths(numbers, notebooks)
    per_run: list[tuple[str, list[NotebookRun], Path]] = []
    for i, seed in enumerate(seeds):
        folder = root / f"run{i}-seed{seed}"
        log(f"== run {i + 1}/{len(seeds)}: seed {seed} -> {folder}")
        runs = run([p.name[:2] for p in paths], profile, seed, folder, notebooks, timeout, html=True, log=log)
        label = f"seed {seed}" + (f" (run {i + 1})" if seeds.count(seed) > 1 else "")
        per_run.append((label, runs, folder))
    text = [f"# Checks per seed, profile `{profile}`", ""]
    for k, path in enumerate(paths):
        text.append(seeds_table(path.stem, [(label, runs[k], folder) for label, runs, folder in per_run]))
    out = root / "SEEDS.md"
    with atomic_path(out, suffix=".md") as tmp:
        tmp.write_text("\n".join(text), encoding="utf-8")
    return [r for _, runs, _ in per_run for r in runs], out
