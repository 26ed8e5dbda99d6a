from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from topics.errors import BundleError
from topics.serve.bundle import ARRAYS, MANIFEST, SPEC, load_bundle, save_bundle

SPEC_DATA = {"labels": ["economy", "transport"], "primary": "tfidf", "models": {}}
ARRAY_DATA = {"b.weights": np.arange(6.0).reshape(2, 3), "a.idf": np.array([1.5, 2.5])}


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return save_bundle(tmp_path / "model", SPEC_DATA, ARRAY_DATA, {"config_hash": "abc"})


def test_round_trip(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    assert bundle.spec == SPEC_DATA
    np.testing.assert_array_equal(bundle.arrays["b.weights"], ARRAY_DATA["b.weights"])
    assert bundle.manifest["config_hash"] == "abc"
    assert bundle.manifest["labels"] == ["economy", "transport"]
    assert set(bundle.manifest["files"]) == {SPEC, ARRAYS}


def test_arrays_are_read_only_views_of_the_bytes_checked(bundle_dir: Path) -> None:
    # not copies: a bundle is held in memory once
    for key, value in load_bundle(bundle_dir).arrays.items():
        assert not value.flags.writeable and not value.flags.owndata, key
        np.testing.assert_array_equal(value, ARRAY_DATA[key])


def test_identical_content_gives_identical_bytes(tmp_path: Path) -> None:
    first = save_bundle(tmp_path / "one", SPEC_DATA, ARRAY_DATA, {})
    second = save_bundle(tmp_path / "two", SPEC_DATA, dict(reversed(ARRAY_DATA.items())), {})
    for name in (SPEC, ARRAYS, MANIFEST):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_no_pickle_anywhere(bundle_dir: Path) -> None:
    for file in bundle_dir.iterdir():
        assert b"\x80\x04\x95" not in file.read_bytes()  # pickle protocol 4 header
    with np.load(bundle_dir / ARRAYS, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["a.idf", "b.weights"]


def test_one_altered_byte_is_refused(bundle_dir: Path) -> None:
    data = bytearray((bundle_dir / ARRAYS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle_dir / ARRAYS).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="arrays.npz: checksum mismatch"):
        load_bundle(bundle_dir)


def test_truncated_file_is_refused(bundle_dir: Path) -> None:
    spec = bundle_dir / SPEC
    spec.write_bytes(spec.read_bytes()[:10])
    with pytest.raises(BundleError, match="model.json: checksum mismatch"):
        load_bundle(bundle_dir)


def test_missing_file_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / ARRAYS).unlink()
    with pytest.raises(BundleError, match="arrays.npz: missing from the bundle"):
        load_bundle(bundle_dir)


def test_wrong_format_version_is_refused(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    manifest["format_version"] = 99
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format version 99"):
        load_bundle(bundle_dir)


def test_missing_bundle_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="make run"):
        load_bundle(tmp_path / "nothing")


def test_save_replaces_atomically_and_leaves_no_staging(bundle_dir: Path) -> None:
    save_bundle(bundle_dir, {**SPEC_DATA, "primary": "lda"}, ARRAY_DATA, {})
    assert load_bundle(bundle_dir).spec["primary"] == "lda"
    assert [p.name for p in bundle_dir.parent.iterdir()] == ["model"]


def test_an_older_format_bundle_is_refused_naming_its_version_and_the_fix(
    bundle_dir: Path,
) -> None:
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    manifest["format_version"] = 2
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format version 2, .* reads version 3; retrain") as err:
        load_bundle(bundle_dir)
    assert "\n" not in str(err.value)


def test_the_manifest_declares_every_arrays_dtype_and_shape(bundle_dir: Path) -> None:
    declared = json.loads((bundle_dir / MANIFEST).read_text())["arrays"]
    assert declared == {
        "a.idf": {"dtype": "<f8", "shape": [2]},
        "b.weights": {"dtype": "<f8", "shape": [2, 3]},
    }


def test_an_array_unlike_its_declaration_is_refused(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    manifest["arrays"]["b.weights"]["shape"] = [3, 2]
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="array 'b.weights' is <f8 \\[2, 3\\]"):
        load_bundle(bundle_dir)


def _reseal(bundle_dir: Path, declared: dict[str, object] | None = None) -> None:
    """Redo the manifest's checksums (and, given, its array declarations), as the
    author of an edited bundle can: only the content checks can catch the edit."""
    import hashlib

    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    for name in (SPEC, ARRAYS):
        manifest["files"][name] = hashlib.sha256((bundle_dir / name).read_bytes()).hexdigest()
    if declared is not None:
        manifest["arrays"] = declared
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest))


def _write_member(path: Path, arrays: dict[str, np.ndarray], compress: int) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


BIG = 8 << 20  # float64 values: 64 MB decompressed, ~64 KB deflated


@pytest.mark.parametrize("declared", ["honestly", "as-the-small-array"])
def test_npz_member_that_inflates_is_refused_before_reading(
    bundle_dir: Path, declared: str
) -> None:
    """An npz member that decompresses to 3 GB from a 3.4 MB file was read fully:
    the zip and .npy headers are checked against the manifest first, and a bundle
    stores its arrays uncompressed, so nothing is inflated."""
    import tracemalloc
    import zipfile

    bomb = {"a.idf": np.zeros(BIG), "b.weights": ARRAY_DATA["b.weights"]}
    _write_member(bundle_dir / ARRAYS, bomb, zipfile.ZIP_DEFLATED)
    assert (bundle_dir / ARRAYS).stat().st_size < BIG // 64
    shapes = {"a.idf": [BIG] if declared == "honestly" else [2], "b.weights": [2, 3]}
    _reseal(bundle_dir, {key: {"dtype": "<f8", "shape": shape} for key, shape in shapes.items()})
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match=r"arrays.npz: array 'a.idf': stored compressed"):
            load_bundle(bundle_dir)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BIG  # the 64 MB member was never inflated


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("bigger-than-declared", r"'a.idf': \d+ bytes, the manifest declares <f8 \[2\]"),
        ("object-dtype", r"arrays.a.idf.dtype: expected a little-endian number"),
        ("header-unlike-manifest", r"'a.idf' is <f4 \[2\], the manifest declares <f8 \[2\]"),
        ("undeclared-member", r"members .* do not match the manifest's arrays"),
    ],
)
def test_npz_member_unlike_its_declaration_is_refused(
    bundle_dir: Path, case: str, message: str
) -> None:
    import zipfile

    arrays = dict(ARRAY_DATA)
    declared: dict[str, object] = {
        "a.idf": {"dtype": "<f8", "shape": [2]},
        "b.weights": {"dtype": "<f8", "shape": [2, 3]},
    }
    if case == "bigger-than-declared":
        arrays["a.idf"] = np.zeros(4096)
    elif case == "object-dtype":
        declared["a.idf"] = {"dtype": "|O", "shape": [2]}
    elif case == "header-unlike-manifest":
        arrays["a.idf"] = arrays["a.idf"].astype(np.float32)
    else:
        arrays["c.extra"] = np.zeros(2)
    _write_member(bundle_dir / ARRAYS, arrays, zipfile.ZIP_STORED)
    _reseal(bundle_dir, declared)
    with pytest.raises(BundleError, match=message) as err:
        load_bundle(bundle_dir)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_arrays_are_refused(tmp_path: Path, value: float) -> None:
    weights = ARRAY_DATA["b.weights"].copy()
    weights[1, 2] = value
    saved = save_bundle(tmp_path / "model", SPEC_DATA, {**ARRAY_DATA, "b.weights": weights}, {})
    with pytest.raises(BundleError, match=r"array 'b.weights': holds NaN or infinite values"):
        load_bundle(saved)


def test_load_while_latest_is_repointed_sees_one_bundle_or_fails_cleanly(tmp_path: Path) -> None:
    """``artifacts/latest`` repointed between two bundles while loading: 86 of 500 loads
    gave a false "checksum mismatch" and 795 of 1,500 mixed files of two runs. Every
    load must now see exactly one of the bundles."""
    import os
    import threading

    bundles = {}
    for name, fill in (("run-a", 1.0), ("run-b", 2.0)):
        spec = {**SPEC_DATA, "labels": [f"{name}-x", f"{name}-y"]}
        arrays = {"a.idf": np.full(2, fill), "b.weights": np.full((256, 512), fill)}
        bundles[fill] = save_bundle(tmp_path / name, spec, arrays, {}).name
    latest = tmp_path / "latest"
    latest.symlink_to(bundles[1.0])
    stop = threading.Event()

    def swap() -> None:
        flip = False
        while not stop.is_set():
            staging = tmp_path / "latest.new"
            staging.symlink_to(bundles[2.0 if flip else 1.0])
            os.replace(staging, latest)  # what a finished run does to artifacts/latest
            flip = not flip

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    seen, failures, mixed = {1.0: 0, 2.0: 0}, [], 0
    try:
        for _ in range(200):
            try:
                bundle = load_bundle(latest)
            except BundleError as exc:  # a clean failure is allowed; a false mismatch is not
                failures.append(str(exc))
                continue
            fill = float(bundle.arrays["b.weights"][0, 0])
            same_run = (
                bundle.spec["labels"][0].startswith(bundles[fill])  # model.json of that run
                and (bundle.arrays["a.idf"] == fill).all()
                and (bundle.arrays["b.weights"] == fill).all()
            )
            mixed += not same_run
            seen[fill] += same_run
    finally:
        stop.set()
        swapper.join()
    assert mixed == 0  # every load: files of one run
    assert not [f for f in failures if "checksum mismatch" in f]
    assert seen[1.0] + seen[2.0] + len(failures) == 200 and min(seen.values()) > 0
