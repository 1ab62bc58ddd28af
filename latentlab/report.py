"""What notebooks leave behind: ``build/<stem>/metrics.json`` and ``.npz`` arrays, gathered by
``python -m latentlab report`` into ``build/REPORT.md``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from latentlab.config import Config, build_dir
from latentlab.data.sources import DataSource
from latentlab.io import save_npz, write_json


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (DataSource, Path)):
        return str(value)
    return value


def save_metrics(cfg: Config, metrics: dict, source: DataSource | str | None = None) -> Path:
    """Write ``metrics`` with the notebook, profile, seed and data source to
    ``<out_dir>/metrics.json`` (atomically) and return its path."""
    record = {"notebook": cfg.stem, "profile": cfg.profile, "seed": cfg.seed,
              "data_source": str(source) if source is not None else None, "metrics": _jsonable(metrics)}
    return write_json(cfg.out_dir / "metrics.json", record, indent=2)


def save_arrays(cfg: Config, name: str, **arrays) -> Path:
    """Save the arrays a notebook's claims rest on as ``<out_dir>/<name>.npz``."""
    return save_npz(cfg.out_dir / f"{name}.npz", **{k: np.asarray(v) for k, v in arrays.items()})


def _flatten(prefix: str, value, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(value, list) and len(value) > 12:
        rows.append((prefix, f"[{len(value)} values]"))
    elif isinstance(value, float):
        rows.append((prefix, str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"))
    else:
        rows.append((prefix, str(value)))


def write_report(root: Path | None = None) -> Path:
    """Gather every ``<root>/*/metrics.json`` into ``<root>/REPORT.md``: one table per notebook."""
    root = Path(root) if root is not None else build_dir()
    lines = ["# latentlab report", ""]
    found = sorted(root.glob("*/metrics.json"))
    if not found:
        lines.append(f"No metrics.json under {root}: run the notebooks first (`make run`).")
    for path in found:
        record = json.loads(path.read_text())
        lines += [f"## {record['notebook']}", "",
                  f"profile `{record['profile']}`, seed {record['seed']}, data: {record['data_source']}", "",
                  "| metric | value |", "|---|---|"]
        rows: list[tuple[str, str]] = []
        _flatten("", record["metrics"], rows)
        lines += [f"| {k} | {v} |" for k, v in rows] + [""]
    out = root / "REPORT.md"
    root.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out
