"""The portable model bundle: plain JSON and ``.npz`` arrays, no pickle.

A bundle is a folder::

    manifest.json   format + version, package version, config hash, data
                    fingerprint, labels, and the sha256 of every other file
    model.json      labels, the primary model, feature blocks (vocabularies,
                    tokenizer settings, top words) and each model's family,
                    scorer kind and settings
    arrays.npz      idf, weights, intercepts, calibration, thresholds, topic-word
                    matrix; the manifest declares each one's dtype and shape

:func:`load_bundle` checks the manifest and every checksum before it builds
anything, and reads arrays with ``allow_pickle=False``. Only numpy, json and
hashlib are imported here, so :mod:`topics.serve.predictor` stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from topics import __version__
from topics.errors import BundleError

FORMAT = "topics-bundle"
FORMAT_VERSION = 2  # 2: per-family model state and feature blocks; array dtypes and shapes
MANIFEST = "manifest.json"
SPEC = "model.json"
ARRAYS = "arrays.npz"


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    path: Path
    manifest: dict[str, Any]
    spec: dict[str, Any]
    arrays: dict[str, np.ndarray]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(
    directory: str | Path,
    spec: dict[str, Any],
    arrays: dict[str, np.ndarray],
    provenance: dict[str, Any],
) -> Path:
    """Write a bundle to ``directory`` atomically: it appears whole or not at all.

    ``provenance`` goes into the manifest (``config_hash``, ``data_fingerprint``, ...).
    An existing ``directory`` is replaced.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    staging.chmod(0o755)  # mkdtemp makes it private
    try:
        (staging / SPEC).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        write_npz(staging / ARRAYS, arrays)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "labels": spec.get("labels", []),
            **provenance,
            "files": {name: sha256_file(staging / name) for name in (SPEC, ARRAYS)},
            "arrays": {
                key: {"dtype": np.asarray(value).dtype.str, "shape": list(np.shape(value))}
                for key, value in sorted(arrays.items())
            },
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez``, but byte-for-byte reproducible: sorted members and a
    fixed timestamp, so identical models give identical checksums."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(arrays[key]), allow_pickle=False)


def load_bundle(directory: str | Path) -> Bundle:
    """Read and verify a bundle.

    Raises
    ------
    BundleError
        The folder or a file is missing, the format or version is not ours, a
        checksum does not match, or a file cannot be parsed.
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(
            f"no model bundle at {directory} ({MANIFEST} missing); "
            "train one with 'make run' or point --model at a run's model/ folder"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"{manifest_path}: unreadable manifest ({exc}); retrain the model"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{manifest_path}: not a topics model bundle")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{manifest_path}: bundle format version {manifest.get('format_version')!r}, this "
            f"topics {__version__} reads version {FORMAT_VERSION}; retrain the model with this "
            "topics ('topics run EXPERIMENT'), or score it with the topics that wrote it"
        )
    for name, expected in sorted(manifest.get("files", {}).items()):
        file = directory / name
        if not file.is_file():
            raise BundleError(f"{file}: missing from the bundle; copy the whole model folder")
        if sha256_file(file) != expected:
            raise BundleError(
                f"{file}: checksum mismatch, the file is corrupt or was modified; "
                "copy the bundle again or retrain"
            )
    if set(manifest.get("files", {})) != {SPEC, ARRAYS}:
        raise BundleError(f"{manifest_path}: the manifest must list {SPEC} and {ARRAYS}")
    try:
        spec = json.loads((directory / SPEC).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise BundleError(
            f"{directory}: cannot read the bundle ({exc}); retrain the model"
        ) from exc
    _check_declared(manifest_path, manifest.get("arrays"), arrays)
    return Bundle(path=directory, manifest=manifest, spec=spec, arrays=arrays)


def _check_declared(manifest_path: Path, declared: Any, arrays: dict[str, np.ndarray]) -> None:
    """Every array is the one the manifest declares: same names, dtypes and shapes."""
    if not isinstance(declared, dict) or set(declared) != set(arrays):
        raise BundleError(
            f"{manifest_path}: the arrays do not match the manifest; retrain the model"
        )
    for key, value in arrays.items():
        entry = declared[key]
        if not isinstance(entry, dict) or (
            entry.get("dtype") != value.dtype.str or entry.get("shape") != list(value.shape)
        ):
            raise BundleError(
                f"{manifest_path}: array {key!r} is {value.dtype.str} {list(value.shape)}, the "
                f"manifest declares {entry!r}; the bundle is inconsistent, retrain the model"
            )
