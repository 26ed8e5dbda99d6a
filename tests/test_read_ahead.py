from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from topics.errors import BundleError
from topics.serve.bundle import ARRAYS, SPEC, load_bundle, save_bundle
from topics.serve.read_ahead import ReadAhead

SPEC_DATA = {"labels": ["economy"], "primary": "tfidf", "models": {}}
ARRAY_DATA = {"w": np.arange(6.0).reshape(2, 3)}


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return save_bundle(tmp_path / "model", SPEC_DATA, ARRAY_DATA, {})


def test_the_load_takes_the_bytes_read_ahead_and_checks_them(bundle_dir: Path) -> None:
    read_ahead = ReadAhead(bundle_dir)
    read_ahead.take(bundle_dir, "nothing")  # waits for the thread
    # the file changes after it was read: the load sees the bundle as it was read
    (bundle_dir / ARRAYS).write_bytes(b"not a bundle")
    bundle = load_bundle(bundle_dir, read_ahead)
    assert bundle.spec == SPEC_DATA
    np.testing.assert_array_equal(bundle.arrays["w"], ARRAY_DATA["w"])
    # each file is taken once: a second load reads the folder itself
    with pytest.raises(BundleError, match="arrays.npz: checksum mismatch"):
        load_bundle(bundle_dir, read_ahead)


def test_bytes_read_ahead_are_checked_against_the_manifest(bundle_dir: Path) -> None:
    data = bytearray((bundle_dir / ARRAYS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle_dir / ARRAYS).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="arrays.npz: checksum mismatch"):
        load_bundle(bundle_dir, ReadAhead(bundle_dir))


def test_a_read_ahead_of_another_folder_is_not_used(bundle_dir: Path, tmp_path: Path) -> None:
    other = save_bundle(tmp_path / "other", {**SPEC_DATA, "labels": ["defense"]}, ARRAY_DATA, {})
    assert load_bundle(bundle_dir, ReadAhead(other)).spec == SPEC_DATA


def test_problems_are_left_to_the_load_to_report(tmp_path: Path, bundle_dir: Path) -> None:
    with pytest.raises(BundleError, match="no model bundle at"):
        load_bundle(tmp_path / "nowhere", ReadAhead(tmp_path / "nowhere"))
    (bundle_dir / SPEC).unlink()
    with pytest.raises(BundleError, match="model.json: missing from the bundle"):
        load_bundle(bundle_dir, ReadAhead(bundle_dir))


def test_it_starts_before_numpy_is_imported() -> None:
    code = "import topics.cli.classify, sys; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
