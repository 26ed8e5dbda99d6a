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


def test_a_format_1_bundle_is_refused_naming_its_version_and_the_fix(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    manifest["format_version"] = 1
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format version 1, .* reads version 2; retrain") as err:
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
