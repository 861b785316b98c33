"""The committed datasets: TinyDigits is what its datasheet says and what its generator makes, and the
checksum manifest catches a missing, edited or unlisted file by name."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets import DatasetError, load_tinydigits
from datasets.checksums import MANIFEST, ROOT, read_manifest, record, sha256_of, verify
from datasets.tinydigits import generate


def test_tinydigits_has_the_promised_counts_types_and_range():
    for split, per_class in (("train", 100), ("test", 20)):
        images, labels = load_tinydigits(split)
        assert images.dtype == np.float32 and images.shape == (10 * per_class, 8, 8)
        assert labels.dtype == np.int64 and np.array_equal(np.bincount(labels, minlength=10), [per_class] * 10)
        assert images.min() == 0.0 and images.max() == 1.0
        assert np.array_equal(images * 16, np.round(images * 16)), "pixel counts 0-16, scaled by 1/16"


def test_train_and_test_share_no_image():
    train, _ = load_tinydigits("train")
    test, _ = load_tinydigits("test")
    seen = {image.tobytes() for image in train}
    assert not [image for image in test if image.tobytes() in seen]


def test_the_generator_reproduces_the_committed_files_byte_for_byte(tmp_path):
    written = generate.generate(tmp_path)
    for path in written:
        assert path.read_bytes() == (ROOT / "tinydigits" / path.name).read_bytes(), path.name


def test_every_committed_data_file_matches_the_manifest():
    listed = read_manifest()
    assert {"tinydigits/train.npz", "tinydigits/test.npz"} <= set(listed)
    for name, digest in listed.items():
        assert sha256_of(ROOT / name) == digest, name


def _copy_with_manifest(tmp_path):
    root = tmp_path / "datasets"
    shutil.copytree(ROOT / "tinydigits", root / "tinydigits")
    shutil.copy(MANIFEST, root / "SHA256SUMS")
    return root, root / "SHA256SUMS"


def test_an_edited_file_is_named_with_both_digests(tmp_path):
    root, manifest = _copy_with_manifest(tmp_path)
    target = root / "tinydigits" / "test.npz"
    data = bytearray(target.read_bytes())
    data[-100] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"test\.npz: corrupt or edited: sha256 [0-9a-f]{64}, expected"):
        verify(target, root, manifest)


def test_a_missing_or_unlisted_file_is_named(tmp_path):
    root, manifest = _copy_with_manifest(tmp_path)
    (root / "tinydigits" / "train.npz").unlink()
    with pytest.raises(DatasetError, match=r"train\.npz: missing"):
        verify(root / "tinydigits" / "train.npz", root, manifest)
    stray = root / "tinydigits" / "extra.npz"
    stray.write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"extra\.npz: not listed in SHA256SUMS"):
        verify(stray, root, manifest)
    record([stray], root, manifest)
    assert verify(stray, root, manifest) == stray, "recorded files verify"


def test_a_malformed_manifest_line_is_named(tmp_path):
    manifest = tmp_path / "SHA256SUMS"
    manifest.write_text("abc  tinydigits/train.npz\n")
    with pytest.raises(DatasetError, match=r"SHA256SUMS:1: expected '<64 hex digits>  <path>'"):
        read_manifest(manifest)


def test_unknown_splits_are_refused():
    with pytest.raises(DatasetError, match="split must be one of train, test, got 'validation'"):
        load_tinydigits("validation")


def test_tinytalks_loads_every_split_through_the_checksummed_api():
    from datasets import load_tinytalks

    questions = {}
    for split in ("train", "validation", "test"):
        conversations = load_tinytalks(split)
        assert conversations and all(turns and all(q and a for q, a in turns) for turns in conversations)
        questions[split] = {q.lower() for turns in conversations for q, _ in turns}
    assert not questions["train"] & questions["test"] and not questions["train"] & questions["validation"]
    with pytest.raises(DatasetError, match="split must be one of train, validation, test"):
        load_tinytalks("dev")
