"""Atomic file writes: a crash never leaves a half-written file where a finished one is expected."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from latentlab.errors import OutputError


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, rename it onto
    ``path`` (readable by all, as a normal file). On error the temporary file is removed. A folder that
    cannot be written, or a folder where the file should go, raises :class:`OutputError` naming it."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give the path of a file to write (nothing was changed).")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or ".part")
    except OSError as err:
        raise OutputError(
            f"cannot write {path} ({type(err).__name__}: {err.strerror or err}): make {path.parent} a writable "
            "folder, or choose another location."
        ) from err
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as err:
            raise OutputError(
                f"cannot write {path} ({type(err).__name__}: {err.strerror or err}): make it and {path.parent} "
                "writable, or choose another location."
            ) from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, obj: Any, **kwargs: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, **kwargs))
    return Path(path)


def save_npz(path: str | Path, compress: bool = True, **arrays: np.ndarray) -> Path:
    """Write arrays to a ``.npz`` at ``path`` atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        (np.savez_compressed if compress else np.savez)(tmp, **arrays)
    return Path(path)


def swap_in_folder(new: str | Path, dest: str | Path) -> None:
    """Rename the finished folder ``new`` onto ``dest``, so that ``dest`` is never half-written. An existing
    ``dest`` (the caller has checked that it may be replaced) is moved aside first, put back if the rename fails,
    and deleted only once ``new`` is in place."""
    new, dest = Path(new), Path(dest)
    old = None
    if dest.exists() or dest.is_symlink():
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old."))
        os.replace(dest, old / dest.name)
    try:
        os.replace(new, dest)
    except OSError:
        if old is not None:
            os.replace(old / dest.name, dest)  # the new folder never arrived: put the old one back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
