"""A bundle's files read and hashed on a second thread while the predictor's modules
import, so ``classify`` starts sooner (Reuters' ensemble, 35 MB: 15-25 ms of a 0.3 s
start).

Only the standard library is imported here, so the thread starts before numpy does.
Reading and sha256 release the GIL, so the imports go on meanwhile. Nothing is
trusted early: :func:`topics.serve.bundle.load_bundle` takes a file's bytes from here
only if they come from the same resolved folder, and checks them against the
manifest it reads itself, as it checks the bytes it reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

MANIFEST = "manifest.json"  # topics.serve.bundle names it from here


class ReadAhead:
    """Starts reading the files a bundle folder's manifest lists, with their sha256.

    Anything that goes wrong (no manifest, a file missing) is left to
    :func:`~topics.serve.bundle.load_bundle`, which reads the folder again and says what.
    """

    def __init__(self, directory: str | Path) -> None:
        self.root = Path(os.path.realpath(directory))
        self._files: dict[str, tuple[bytes, str]] = {}
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            files = json.loads((self.root / MANIFEST).read_bytes())["files"]
            for name in sorted(files):
                if isinstance(name, str) and "/" not in name and name != MANIFEST:
                    data = (self.root / name).read_bytes()
                    self._files[name] = (data, hashlib.sha256(data).hexdigest())
        except (OSError, ValueError, KeyError, TypeError):
            pass

    def take(self, root: Path, name: str) -> tuple[bytes, str] | None:
        """``(bytes, sha256)`` of the file ``name`` of the folder ``root`` (resolved), once;
        None if it was not read here."""
        self._thread.join()
        return self._files.pop(name, None) if root == self.root else None
