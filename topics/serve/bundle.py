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
import io
import json
import math
import os
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from topics import __version__
from topics.errors import BundleError
from topics.serve.read_ahead import MANIFEST, ReadAhead

FORMAT = "topics-bundle"
# 2: per-family model state and feature blocks; array dtypes and shapes.
# 3: a TF-IDF vocabulary as its terms concatenated and their lengths.
FORMAT_VERSION = 3
SPEC = "model.json"
ARRAYS = "arrays.npz"
MAX_DIMENSIONS = 4  # bundles hold vectors and matrices
MAX_NPY_HEADER = 10_000  # bytes: numpy's own limit for a .npy header it trusts


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


def load_bundle(directory: str | Path, read_ahead: ReadAhead | None = None) -> Bundle:
    """Read and verify a bundle; with ``read_ahead`` started on the same folder, its
    files' bytes and sha256 come from there, checked as a file read here is.

    The folder is resolved once (``artifacts/latest`` may be repointed meanwhile)
    and each file is read once: its sha256 is checked on the very bytes that are
    then parsed, so a load sees one bundle or fails. Like safetensors, the
    arrays' declared dtypes, shapes and sizes are checked against the archive's
    member headers before any array is read; non-finite floats are refused. The
    arrays are read-only views of the bytes checked, not copies.

    Raises
    ------
    BundleError
        The folder or a file is missing, the format or version is not ours, a
        checksum does not match, a file cannot be parsed, or an array is not
        what the manifest declares.
    """
    given = Path(directory)
    root = Path(os.path.realpath(given))
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(
            f"no model bundle at {given} ({MANIFEST} missing); "
            "train one with 'make run' or point --model at a run's model/ folder"
        )
    manifest = _parse_json(_read(manifest_path), manifest_path, "unreadable manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{manifest_path}: not a topics model bundle")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{manifest_path}: bundle format version {manifest.get('format_version')!r}, this "
            f"topics {__version__} reads version {FORMAT_VERSION}; retrain the model with this "
            "topics ('topics run EXPERIMENT'), or score it with the topics that wrote it"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise BundleError(f"{manifest_path}: files: expected file name -> sha256, found {files!r}")
    contents: dict[str, bytes] = {}
    for name, expected in sorted(files.items()):
        file = root / name
        if not file.is_file():
            raise BundleError(f"{file}: missing from the bundle; copy the whole model folder")
        early = read_ahead.take(root, name) if read_ahead else None
        contents[name], digest = early or _read_hashed(file)
        if digest != expected:
            raise BundleError(
                f"{file}: checksum mismatch, the file is corrupt or was modified; "
                "copy the bundle again or retrain"
            )
    if set(files) != {SPEC, ARRAYS}:
        raise BundleError(f"{manifest_path}: the manifest must list {SPEC} and {ARRAYS}")
    spec = _parse_json(contents.pop(SPEC), root / SPEC, "cannot read the bundle")
    if not isinstance(spec, dict):
        raise BundleError(f"{root / SPEC}: expected a JSON object, found {type(spec).__name__}")
    if manifest.get("labels") != spec.get("labels", []):
        raise BundleError(
            f"{root / SPEC}: labels {spec.get('labels')!r} differ from the manifest's "
            f"{manifest.get('labels')!r}; the bundle is inconsistent, retrain the model"
        )
    arrays = read_arrays(contents.pop(ARRAYS), manifest.get("arrays"), manifest_path)
    _check_declared(manifest_path, manifest.get("arrays"), arrays)
    return Bundle(path=root, manifest=manifest, spec=spec, arrays=arrays)


def _read_hashed(file: Path) -> tuple[bytes, str]:
    data = _read(file)
    return data, hashlib.sha256(data).hexdigest()


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise BundleError(
            f"{file}: cannot read ({exc.strerror or exc}); retrain the model"
        ) from exc


def _parse_json(data: bytes, file: Path, problem: str) -> Any:
    """JSON from ``data``; NaN/Infinity, bad UTF-8 and runaway nesting are one-line errors."""

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(data.decode("utf-8"), parse_constant=no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BundleError(f"{file}: {problem} ({detail}); retrain the model") from exc


def read_arrays(data: bytes, declared: Any, manifest_path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``arrays.npz`` held in ``data``, checked before reading.

    Every member must be an array the manifest declares (``declared``: key ->
    dtype and shape), stored uncompressed as :func:`write_npz` writes it, with a
    size and a ``.npy`` header that match the declaration; only then are the
    declared bytes read (never more), so a member cannot inflate. Floats must be finite.
    """
    where = manifest_path.parent / ARRAYS
    if not isinstance(declared, dict):
        raise BundleError(f"{manifest_path}: arrays: expected name -> dtype and shape")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BundleError(f"{where}: not a readable .npz ({exc}); retrain the model") from exc
    members = [info.filename for info in archive.infolist()]
    if sorted(members) != sorted(f"{key}.npy" for key in declared):
        raise BundleError(
            f"{where}: members {sorted(members)[:5]} do not match the manifest's arrays "
            f"{sorted(declared)[:5]}; the bundle is inconsistent, retrain the model"
        )
    arrays = {}
    for info in archive.infolist():
        key = info.filename[: -len(".npy")]
        dtype, shape = _declared_array(manifest_path, key, declared[key])
        arrays[key] = _read_member(data, archive, info, dtype, shape, f"{where}: array {key!r}")
    return arrays


def _declared_array(
    manifest_path: Path, key: str, entry: Any
) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """The dtype and shape the manifest declares for ``key``, if they are ones a bundle holds."""
    field = f"{manifest_path}: arrays.{key}"
    if not isinstance(entry, dict):
        raise BundleError(f"{field}: expected dtype and shape, found {entry!r}")
    shape = entry.get("shape")
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_DIMENSIONS
        and all(type(n) is int and n >= 0 for n in shape)
    ):
        raise BundleError(f"{field}.shape: expected a list of sizes >= 0, found {shape!r}")
    try:
        dtype = np.dtype(entry.get("dtype"))
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{field}.dtype: not a numpy dtype: {entry.get('dtype')!r}") from exc
    if dtype.kind not in "fiub" or dtype.byteorder == ">" or dtype.str != entry.get("dtype"):
        raise BundleError(
            f"{field}.dtype: expected a little-endian number or bool dtype (<f8, <f4, <i8, "
            f"|b1), found {entry.get('dtype')!r}"
        )
    return dtype, tuple(shape)


def _read_member(
    data: bytes,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    what: str,
) -> np.ndarray:
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise BundleError(
            f"{what}: stored compressed ({info.file_size} bytes from {info.compress_size}); "
            "bundles store arrays uncompressed, retrain the model"
        )
    if not nbytes <= info.file_size <= nbytes + MAX_NPY_HEADER:
        raise BundleError(
            f"{what}: {info.file_size} bytes, the manifest declares {dtype.str} {list(shape)} "
            f"({nbytes} bytes); the bundle is inconsistent, retrain the model"
        )
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(member, MAX_NPY_HEADER)
            else:
                header = np.lib.format.read_array_header_2_0(member, MAX_NPY_HEADER)
        except (ValueError, SyntaxError, TypeError) as exc:
            raise BundleError(f"{what}: not a .npy header ({exc}); retrain the model") from exc
        found_shape, fortran_order, found_dtype = header
        if tuple(found_shape) != shape or found_dtype != dtype:
            raise BundleError(
                f"{what} is {found_dtype.str} {list(found_shape)}, the manifest "
                f"declares {dtype.str} {list(shape)}; the bundle is inconsistent, retrain the model"
            )
        header_size = member.tell()
    if header_size + nbytes != info.file_size:
        raise BundleError(f"{what}: not {nbytes} bytes of data; retrain the model")
    # A read-only view of the bytes the checksum was checked on, not a copy: loading
    # needs the file's size in memory once, not twice (20 Newsgroups: 105 MB).
    flat = np.frombuffer(
        data, dtype=dtype, count=count, offset=_data_start(data, info, what) + header_size
    )
    array = flat.reshape(shape, order="F") if fortran_order else flat.reshape(shape)
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise BundleError(
            f"{what}: holds NaN or infinite values; a trained model has finite weights, "
            "retrain the model"
        )
    return array


# A zip member's local header (PKWARE APPNOTE 4.3.7): 30 bytes, then its file name
# and extra field, whose lengths it gives, then the member's data.
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
LOCAL_SIGNATURE = b"PK\x03\x04"


def _data_start(data: bytes, info: zipfile.ZipInfo, what: str) -> int:
    """Where the (stored) data of the member ``info`` starts in the archive ``data``."""
    fields = LOCAL_HEADER.unpack_from(data, info.header_offset)
    if fields[0] != LOCAL_SIGNATURE:
        raise BundleError(f"{what}: not a zip member header; retrain the model")
    start = info.header_offset + LOCAL_HEADER.size + fields[10] + fields[11]
    if start + info.file_size > len(data):
        raise BundleError(f"{what}: ends past the archive; retrain the model")
    return start


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
