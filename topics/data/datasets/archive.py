"""Reading members of a ``.tar.gz`` in place, refusing unsafe member paths."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from topics.errors import DataError


def safe_member_path(name: str) -> PurePosixPath:
    """The member's path, or :class:`DataError` when it would land outside the archive root.

    >>> safe_member_path("20news-bydate-train/sci.med/1").parts[0]
    '20news-bydate-train'
    """
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise DataError(
            f"archive member {name!r} points outside the target folder; "
            "refusing it (the archive is corrupt or malicious)"
        )
    return path


def iter_members(archive: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    """``(path, content)`` of every regular file in ``archive``, in archive order."""
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                path = safe_member_path(member.name)
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                yield path, handle.read()
    except (tarfile.TarError, EOFError) as exc:
        raise DataError(
            f"{archive}: not a readable tar archive ({exc}); "
            "fetch it again with 'topics data fetch'"
        ) from exc
