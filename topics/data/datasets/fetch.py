"""``topics data fetch NAME``: download a public archive, verify it, store it under the data root.

The archive lands where the shipped experiment files look for it
(``<data root>/20newsgroups/20news-bydate.tar.gz`` ...), so ``topics run`` works
right after. The download goes to a temporary file first and is only moved into
place once its sha256 matches; a mismatch leaves nothing behind. A download is
capped at :data:`MAX_DOWNLOAD_BYTES` (the archives are 8 and 14 MB), so a wrong
or hostile URL cannot fill the disk.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from topics.errors import DataError

# Far above both archives, far below a disk: the cap on any download.
MAX_DOWNLOAD_BYTES = 64 * 2**20
URL_SCHEMES = ("https", "http", "file")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class RemoteArchive:
    """A public archive: where it is, where it goes, and its published sha256."""

    url: str
    relative_path: str  # under the data root
    sha256: str


ARCHIVES: dict[str, RemoteArchive] = {
    # The bydate tarball sklearn.datasets.fetch_20newsgroups downloads, with its sha256.
    "20newsgroups": RemoteArchive(
        url="https://ndownloader.figshare.com/files/5975967",
        relative_path="20newsgroups/20news-bydate.tar.gz",
        sha256="8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610",
    ),
    # David D. Lewis' distribution as UCI serves it; the sha256 scikit-learn's
    # out-of-core classification example checks for this same archive.
    "reuters21578": RemoteArchive(
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/reuters21578-mld/reuters21578.tar.gz",
        relative_path="reuters21578/reuters21578.tar.gz",
        sha256="3bae43c9b14e387f76a61b6d82bf98a4fb5d3ef99ef7e7075ff2ccbcf59f9d30",
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
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> Path:
    """Download archive ``name`` into ``data_root`` and return its path.

    ``url`` and ``sha256`` override the registry (a mirror, a local copy served
    over HTTP). An existing file with the right sha256 is kept unless ``force``.
    A download larger than ``max_bytes`` is stopped and nothing is saved.

    Raises
    ------
    DataError
        Unknown name, a URL that is not http(s):// or file://, download failure,
        a file over ``max_bytes``, or a sha256 that does not match.
    """
    if name not in ARCHIVES:
        raise DataError(f"unknown dataset {name!r}; expected one of {sorted(ARCHIVES)}")
    entry = ARCHIVES[name]
    expected = (sha256 or entry.sha256).lower()
    source = url or entry.url
    scheme = _scheme(source)
    if scheme not in URL_SCHEMES:
        found = "an unreadable URL" if scheme is None else f"{scheme}://" if scheme else "no scheme"
        raise DataError(
            f"--url {source[:200]!r}: expected an https://, http:// or file:// URL, "
            f"found {found}; e.g. https://example.org/20news-bydate.tar.gz"
        )
    target = data_root / entry.relative_path
    if target.exists() and not force and file_digest(target) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as rsp:
            _copy_capped(rsp, out, source, max_bytes)
        found = file_digest(temp)
        if found != expected:
            raise DataError(
                f"{source}: sha256 mismatch, expected {expected}, found {found}; "
                "the download is corrupt or the file changed upstream (nothing was saved; "
                "pass --sha256 if you trust this file)"
            )
        os.replace(temp, target)
    except DataError:
        raise
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"cannot download {source}: {reason}; check the URL or your network"
        ) from exc
    finally:
        temp.unlink(missing_ok=True)
    return target


def _scheme(url: str) -> str | None:
    """The URL's scheme, lower case ("" if none); None if the URL cannot be parsed."""
    try:
        return urllib.parse.urlsplit(url).scheme.lower()
    except ValueError:  # e.g. "http://[::1": an unclosed IPv6 address
        return None


def _copy_capped(response: Any, out: IO[bytes], source: str, max_bytes: int) -> None:
    """Copy ``response`` into ``out``; refuse it once it is known to exceed ``max_bytes``."""
    declared = response.headers.get("Content-Length") if response.headers else None
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise DataError(_too_large(source, f"{int(declared):,} bytes", max_bytes))
    copied = 0
    while block := response.read(_BLOCK):
        copied += len(block)
        if copied > max_bytes:  # the header may be missing or wrong
            raise DataError(_too_large(source, f"over {max_bytes:,} bytes", max_bytes))
        out.write(block)


def _too_large(source: str, size: str, max_bytes: int) -> str:
    cap = f"{max_bytes // 2**20} MiB" if max_bytes % 2**20 == 0 else f"{max_bytes:,}-byte"
    return (
        f"{source}: the download is {size}, over the {cap} cap of "
        "topics data fetch (the archives are 8 and 14 MB); nothing was saved; check the URL"
    )
