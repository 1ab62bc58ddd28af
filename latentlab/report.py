"""What notebooks leave behind: ``build/<stem>/metrics.json`` and ``.npz`` arrays, gathered by
``latentlab report`` (and at the end of ``latentlab run``) into ``build/REPORT.md``.

``metrics.json`` is strict JSON: a NaN or infinite number is written as ``null`` and its key listed under
``"non_finite"``. ``REPORT.md`` opens with the runs of the last ``latentlab run`` (which notebooks failed,
and why) and then gives each notebook's checks and numbers; a file it cannot read is named there, and
the rest of the report is still written.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from latentlab.config import Config, build_dir
from latentlab.data.sources import DataSource
from latentlab.io import atomic_path, save_npz, write_json

RUNS = "runs.json"


def _jsonable(value: Any, key: str, non_finite: list[str]) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{key}.{k}" if key else str(k), non_finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{key}[{i}]", non_finite) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), key, non_finite)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        non_finite.append(f"{key}={value}")
        return None
    if isinstance(value, (DataSource, Path)):
        return str(value)
    return value


def save_metrics(cfg: Config, metrics: dict, source: DataSource | str | None = None) -> Path:
    """Write ``metrics`` with the notebook, profile, seed and data source to ``<out_dir>/metrics.json``
    (atomically, strict JSON: non-finite numbers become null and are listed under ``non_finite``) and
    return its path."""
    non_finite: list[str] = []
    record = {
        "notebook": cfg.stem,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "data_source": str(source) if source is not None else None,
        "metrics": _jsonable(metrics, "", non_finite),
    }
    if non_finite:
        record["non_finite"] = non_finite
    return write_json(cfg.out_dir / "metrics.json", record, indent=2, allow_nan=False)


def save_arrays(cfg: Config, name: str, **arrays: ArrayLike) -> Path:
    """Save the arrays a notebook's claims rest on as ``<out_dir>/<name>.npz``."""
    return save_npz(cfg.out_dir / f"{name}.npz", **{k: np.asarray(v) for k, v in arrays.items()})


def flatten(prefix: str, value: Any, rows: list[tuple[str, str]], full: bool = False) -> None:
    """Append ``(dotted.key, text)`` for every leaf of ``value`` to ``rows``; lists of more than 12 values
    are summarised unless ``full``."""
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, rows, full)
    elif isinstance(value, list) and full:
        for i, v in enumerate(value):
            flatten(f"{prefix}[{i}]", v, rows, full)
    elif isinstance(value, list) and len(value) > 12:
        rows.append((prefix, f"[{len(value)} values]"))
    elif isinstance(value, float):
        rows.append((prefix, str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"))
    else:
        rows.append((prefix, str(value)))


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"could not read `{path}` ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"


def _runs_section(root: Path) -> tuple[list[str], dict[str, dict]]:
    runs, problem = _read_json(root / RUNS)
    if runs is None:
        return ([f"Runs: {problem}.", ""] if (root / RUNS).exists() else []), {}
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        return [f"Runs: `{root / RUNS}` is not a list of runs; ignored.", ""], {}
    failed = [r for r in runs if not r.get("ok")]
    lines = [
        "## Runs",
        "",
        f"{len(runs) - len(failed)} of {len(runs)} notebooks ran to the end"
        + (f"; **{len(failed)} failed**." if failed else "."),
        "",
        "| notebook | profile | seed | result | time |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        result = "ok" if r.get("ok") else f"**FAILED**: {str(r.get('error', '')).replace('|', '/')}"
        lines.append(
            f"| {r.get('stem')} | {r.get('profile')} | {r.get('seed')} | {result} | "
            f"{float(r.get('seconds', 0)):.0f} s |"
        )
    lines += ["", "Executed copies, with any error in place: `executed/<notebook>.ipynb` and `.html`.", ""]
    return lines, {str(r.get("stem")): r for r in runs}


def write_report(root: Path | None = None) -> Path:
    """Gather the last runs and every ``<root>/*/metrics.json`` and ``checks.json`` into ``<root>/REPORT.md``."""
    root = Path(root) if root is not None else build_dir()
    lines = ["# latentlab report", ""]
    run_lines, runs = _runs_section(root)
    lines += run_lines
    found = sorted(root.glob("*/metrics.json"))
    stems = sorted({p.parent.name for p in found} | set(runs))
    if not stems:
        lines.append(f"No metrics.json under {root}: run the notebooks first (`latentlab run` or `make run`).")
    for stem in stems:
        lines += [f"## {stem}", ""]
        path, run = root / stem / "metrics.json", runs.get(stem)
        if not path.is_file():
            lines += ["No metrics.json: the notebook stopped before writing it.", ""]
            continue
        if run is not None and path.stat().st_mtime < float(run.get("started", 0)):
            when = datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="minutes")
            lines += [
                f"**These numbers are from an earlier run ({when})**: the last run stopped before writing its own.",
                "",
            ]
        record, problem = _read_json(path)
        if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
            lines += [f"{problem or f'`{path}` holds no metrics record'}; rerun the notebook to rewrite it.", ""]
            continue
        lines += [
            f"profile `{record.get('profile')}`, seed {record.get('seed')}, data: {record.get('data_source')}",
            "",
        ]
        if record.get("non_finite"):
            lines += ["Not finite (written as null): " + ", ".join(record["non_finite"]), ""]
        checks, _ = _read_json(root / stem / "checks.json")
        if isinstance(checks, dict) and isinstance(checks.get("checks"), list):
            items = checks["checks"]
            count = {status: sum(c.get("status") == status for c in items) for status in ("pass", "FAIL")}
            other = len(items) - count["pass"] - count["FAIL"]
            lines += [
                f"Checks: {count['pass']} of {len(items)} passed, {count['FAIL']} failed"
                + (f", {other} did not hold but are not asserted in this profile" if other else "")
                + ".",
                "",
            ]
            lines += [f"- FAIL: {c.get('claim')}" for c in items if c.get("status") == "FAIL"]
            lines += [""] if count["FAIL"] else []
        rows: list[tuple[str, str]] = []
        flatten("", record["metrics"], rows)
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {v.replace('|', '/')} |" for k, v in rows] + [""]
    out = root / "REPORT.md"
    with atomic_path(out, suffix=".md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def paper_table(rows: dict[str, tuple[str, str]]) -> str:
    """A Markdown table "paper reported / this run": ``{what: (paper's words, this run's numbers)}``.

    Notebooks fill the second column from variables, so no number of this project's is typed into text.
    A ``|`` inside a cell is escaped so it cannot split the row.
    """
    lines = ["| | paper reported | this run |", "|---|---|---|"]
    for what, (paper, run) in rows.items():
        cells = [str(c).replace("|", "\\|").replace("\n", " ") for c in (what, paper, run)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
