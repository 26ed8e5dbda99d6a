"""``topics data fetch NAME``: download a public archive, verify it, store it under the data root.

The archive lands where the shipped experiment files look for it
(``<data root>/20newsgroups/20news-bydate.tar.gz`` ...), so ``topics run`` works
right after. The download goes to a temporary file first and is only moved into
place once its digest matches; a mismatch leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from topics.errors import DataError


@dataclass(frozen=True)
class RemoteArchive:
    """A public archive: where it is, where it goes, and its published digest."""

    url: str
    relative_path: str  # under the data root
    algorithm: str  # "sha256" (or "md5" where only that was ever published)
    digest: str


ARCHIVES: dict[str, RemoteArchive] = {
    # The bydate tarball sklearn.datasets.fetch_20newsgroups downloads, with its sha256.
    "20newsgroups": RemoteArchive(
        url="https://ndownloader.figshare.com/files/5975967",
        relative_path="20newsgroups/20news-bydate.tar.gz",
        algorithm="sha256",
        digest="8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610",
    ),
    # David D. Lewis' distribution (mirrored at UCI); only an md5 has been published for it.
    "reuters21578": RemoteArchive(
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/reuters21578-mld/reuters21578.tar.gz",
        relative_path="reuters21578/reuters21578.tar.gz",
        algorithm="md5",
        digest="a22faadd7dde0dfdd784e60087209aa6",
    ),
}


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    name: str,
    data_root: Path,
    url: str | None = None,
    sha256: str | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download archive ``name`` into ``data_root`` and return its path.

    ``url`` and ``sha256`` override the registry (a mirror, a local copy served
    over HTTP). An existing file with the right digest is kept unless ``force``.

    Raises
    ------
    DataError
        Unknown name, download failure, or a digest that does not match.
    """
    if name not in ARCHIVES:
        raise DataError(f"unknown dataset {name!r}; expected one of {sorted(ARCHIVES)}")
    entry = ARCHIVES[name]
    algorithm, expected = ("sha256", sha256.lower()) if sha256 else (entry.algorithm, entry.digest)
    target = data_root / entry.relative_path
    if target.exists() and not force and file_digest(target, algorithm) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    source = url or entry.url
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as rsp:
            shutil.copyfileobj(rsp, out, length=1 << 20)
        found = file_digest(temp, algorithm)
        if found != expected:
            raise DataError(
                f"{source}: {algorithm} mismatch, expected {expected}, found {found}; "
                "the download is corrupt or the file changed upstream (nothing was saved; "
                "pass --sha256 if you trust this file)"
            )
        os.replace(temp, target)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"cannot download {source}: {reason}; check the URL or your network"
        ) from exc
    finally:
        temp.unlink(missing_ok=True)
    return target
