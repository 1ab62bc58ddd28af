"""Where a notebook's memory goes, cell by cell: runs it in a fresh kernel and, after every code cell, prints the
kernel's anonymous memory (``RssAnon``), its peak resident memory so far (``VmHWM``), the total of the numpy arrays
its globals hold (one container or object level deep; a view counts as its own size) and the largest of them.

    LATENTLAB_PROFILE=full LATENTLAB_DATA=DIR LATENTLAB_MAX_STEPS=2 python benchmarks/trace_cells.py NOTEBOOK

Cells may take as long as they need, as with ``latentlab run`` (notebook 04's grid in ``full`` takes over an hour
here; a limit of one hour stopped it once). A diagnostic (Linux: it reads ``/proc``), not a benchmark with a target:
what the kernel holds beyond its arrays is what TensorFlow and Keras keep (traced functions, the oneDNN pool), and a
cell whose ``VmHWM`` jumps above the memory held before and after it has a transient at the peak. It found the spike
of ``features.unit_rms`` and the agents' traced functions in notebook 05 (benchmarks/README.md, bench_scale).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# Runs in the kernel after each cell; prints one PROBE line and the arrays over 20 MB.
PROBE = r"""
def _latentlab_probe():
    import numpy as _np
    with open("/proc/self/status") as status:
        mem = {l.split(":")[0]: int(l.split()[1]) // 1024 for l in status if l.startswith(("RssAnon", "VmHWM"))}
    seen, rows = set(), []
    def visit(name, obj, depth):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, _np.ndarray):
            rows.append((obj.nbytes, name, obj.shape, obj.dtype))
        elif depth < 2 and isinstance(obj, dict):
            for k, v in list(obj.items())[:200]:
                visit(f"{name}[{k!r}]", v, depth + 1)
        elif depth < 2 and isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj[:200]):
                visit(f"{name}[{i}]", v, depth + 1)
        elif depth < 2 and type(obj).__module__.startswith("latentlab") and hasattr(obj, "__dict__"):
            for k, v in list(vars(obj).items())[:200]:
                visit(f"{name}.{k}", v, depth + 1)
    for k, v in list(globals().items()):
        if not k.startswith("_"):
            visit(k, v, 0)
    rows.sort(key=lambda r: -r[0])
    total = sum(r[0] for r in rows) / 1e6
    print(f"PROBE RssAnon {mem['RssAnon']} MB, VmHWM {mem['VmHWM']} MB, arrays {total:.0f} MB")
    for nbytes, name, shape, dtype in rows[:6]:
        if nbytes > 20e6:
            print(f"    {nbytes / 1e6:8.0f} MB  {name} {shape} {dtype}")
_latentlab_probe()
"""


def main() -> None:
    import nbformat
    from nbclient import NotebookClient

    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    path = Path(sys.argv[1]).resolve()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            started = time.perf_counter()
            client.execute_cell(cell, index)
            seconds = time.perf_counter() - started
            probe = nbformat.v4.new_code_cell(PROBE)
            client.execute_cell(probe, index)
            text = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
            first = cell.source.splitlines()[0][:70] if cell.source else ""
            print(f"cell {index:3d} {seconds:7.1f} s  {first}\n{text.rstrip()}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
