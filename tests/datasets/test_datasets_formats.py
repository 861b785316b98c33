"""Bring-your-own dataset readers: IDX (MNIST), CIFAR-10 python batches, and the checksummed downloader.

Every fixture is a tiny file the test writes in the real format: IDX headers assembled byte by byte
with struct, CIFAR-10 batches pickled (protocol 2, as the official files are) or assembled opcode by
opcode the way Python 2's cPickle wrote them, packed in a tarball with the official layout. Expected
values are the ones the test wrote, never ones the readers computed.
"""
from __future__ import annotations

import builtins
import gzip
import hashlib
import os
import pickle
import tarfile

import numpy as np
import pytest

from datasets.errors import DatasetError
from datasets.formats import cifar10, download as dl
from datasets.formats.cifar10 import load_cifar10, read_batch
from datasets.formats.idx import load_mnist, read_idx
from tests.support.dataset_files import (
    BIG_ENDIAN, idx_bytes, make_batch, mnist_arrays, py2_batch_pickle, write, write_mnist, write_tarball,
)


# ----------------------------------------------------------------------------- IDX fixtures


# ----------------------------------------------------------------------------- read_idx
SAMPLES = {
    0x08: [[0, 1, 127], [128, 254, 255]],
    0x09: [[-128, -1, 0], [1, 100, 127]],
    0x0B: [[-32768, -300, -1], [0, 258, 32767]],
    0x0C: [[-2**31, -70000, -1], [0, 70000, 2**31 - 1]],
    0x0D: [[-1.5, 0.0, 0.25], [3.0e38, -1.0e-30, 7.0]],
    0x0E: [[-1.5, 0.0, 0.1], [1.0e300, -1.0e-300, 7.0]],
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("code", sorted(SAMPLES), ids=lambda c: f"type0x{c:02X}")
def test_read_idx_every_type_code(tmp_path, code, gz):
    path = write(tmp_path / "values.idx", idx_bytes(SAMPLES[code], code), gz)
    got = read_idx(path)
    expected = np.array(SAMPLES[code], dtype=np.dtype(BIG_ENDIAN[code]).newbyteorder("="))
    assert got.shape == (2, 3)
    assert got.dtype == expected.dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, expected)


def test_read_idx_decodes_big_endian_bytes(tmp_path):
    # int16, one dimension of size 3: 0x0102 = 258, 0xFFFE = -2, 0x8000 = -32768.
    raw = b"\x00\x00\x0b\x01" + b"\x00\x00\x00\x03" + b"\x01\x02\xff\xfe\x80\x00"
    np.testing.assert_array_equal(read_idx(write(tmp_path / "a", raw)), [258, -2, -32768])


def test_read_idx_three_dimensions_row_major(tmp_path):
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]) + bytes(range(24))
    np.testing.assert_array_equal(read_idx(write(tmp_path / "cube", raw, gz=True)), values)


def test_read_idx_gzip_is_detected_by_content_not_name(tmp_path):
    path = write(tmp_path / "plain-name-idx1-ubyte", idx_bytes([3, 1, 4], 0x08), gz=True)
    np.testing.assert_array_equal(read_idx(path), [3, 1, 4])


GOOD = idx_bytes([[1, 2, 3], [4, 5, 6]], 0x08)
CORRUPT = {
    "bad-magic": (b"\x01" + GOOD[1:], "two zero bytes"),
    "unknown-type": (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX type code 0x0A"),
    "no-dimensions": (b"\x00\x00\x08\x00", "0 dimensions"),
    "short-header": (GOOD[:6], "truncated IDX header"),
    "empty": (b"", "too short"),
    "truncated-data": (GOOD[:-1], "truncated"),
    "extra-bytes": (GOOD + b"\x00", "extra bytes"),
    "impossible-sizes": (b"\x00\x00\x0d\x03" + b"\xff\xff\xff\xff" * 3 + b"\x00" * 8, "limit"),
    "sizes-beyond-file": (b"\x00\x00\x08\x01\x00\x10\x00\x00" + b"\x07" * 10, "truncated"),
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_read_idx_refuses_corrupt_files_naming_them(tmp_path, case, gz):
    raw, message = CORRUPT[case]
    path = write(tmp_path / f"{case}.idx", raw, gz)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_gzip_trailing_bytes_after_data(tmp_path):
    # The trailing byte is inside the compressed stream, so only reading past the data finds it.
    path = write(tmp_path / "extra.gz", GOOD + b"\x09\x09", gz=True)
    with pytest.raises(DatasetError, match="extra bytes after the 6 bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["cut-stream", "bad-crc"])
def test_read_idx_corrupt_gzip_stream(tmp_path, damage):
    packed = bytearray(gzip.compress(GOOD))
    if damage == "cut-stream":
        packed = packed[:-12]
    else:
        packed[-8] ^= 0xFF  # the CRC-32 of the trailer
    path = write(tmp_path / "damaged.gz", bytes(packed))
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="not found") as info:
        read_idx(tmp_path / "nowhere-idx1-ubyte")
    assert str(tmp_path / "nowhere-idx1-ubyte") in str(info.value)


def test_read_idx_max_bytes_limit(tmp_path):
    path = write(tmp_path / "big", idx_bytes(np.zeros(100, np.uint8), 0x08))
    assert read_idx(path, max_bytes=100).shape == (100,)
    with pytest.raises(DatasetError, match="99-byte limit"):
        read_idx(path, max_bytes=99)


# ----------------------------------------------------------------------------- load_mnist
@pytest.mark.parametrize("split, gz", [("train", False), ("test", True)])
def test_load_mnist_values(tmp_path, split, gz):
    images, labels = mnist_arrays(5, seed=1)
    write_mnist(tmp_path, split, images, labels, gz=gz)
    got_images, got_labels = load_mnist(tmp_path, split)
    assert got_images.dtype == np.float32 and got_images.shape == (5, 1, 28, 28)
    assert got_labels.dtype == np.int64 and got_labels.shape == (5,)
    np.testing.assert_array_equal(got_images[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.min() >= 0.0 and got_images.max() <= 1.0


def test_load_mnist_reads_the_split_asked_for(tmp_path):
    train, test = mnist_arrays(4, seed=2), mnist_arrays(3, seed=3)
    write_mnist(tmp_path, "train", *train)
    write_mnist(tmp_path, "test", *test, gz=True)
    np.testing.assert_array_equal(load_mnist(tmp_path, "train")[1], train[1])
    np.testing.assert_array_equal(load_mnist(tmp_path, "test")[1], test[1])


def test_load_mnist_missing_file_lists_what_it_looked_for(tmp_path):
    images, labels = mnist_arrays(2)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, 0x08))
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte is missing") as info:
        load_mnist(tmp_path, "train")
    assert str(tmp_path / "train-labels-idx1-ubyte") in str(info.value)
    assert str(tmp_path / "train-labels-idx1-ubyte.gz") in str(info.value)


def test_load_mnist_label_out_of_range(tmp_path):
    images, labels = mnist_arrays(4)
    labels[2] = 10
    write_mnist(tmp_path, "train", images, labels)
    with pytest.raises(DatasetError, match="got 10 at index 2") as info:
        load_mnist(tmp_path)
    assert str(tmp_path / "train-labels-idx1-ubyte") in str(info.value)


def test_load_mnist_count_mismatch_names_both_files(tmp_path):
    images, labels = mnist_arrays(4)
    write_mnist(tmp_path, "test", images, labels[:3])
    with pytest.raises(DatasetError, match="4 images but .* 3 labels") as info:
        load_mnist(tmp_path, "test")
    assert str(tmp_path / "t10k-images-idx3-ubyte") in str(info.value)
    assert str(tmp_path / "t10k-labels-idx1-ubyte") in str(info.value)


@pytest.mark.parametrize("which, values, code, message", [
    ("images", np.zeros((2, 27, 28), np.uint8), 0x08, r"uint8 images of shape \(N, 28, 28\)"),
    ("images", np.zeros((2, 28, 28), np.int16), 0x0B, "got int16"),
    ("images", np.zeros((0, 28, 28), np.uint8), 0x08, "no images"),
    ("labels", np.zeros((2, 1), np.uint8), 0x08, r"shape \(N,\)"),
    ("labels", np.zeros(2, np.int32), 0x0C, "got int32"),
])
def test_load_mnist_wrong_shapes_and_types(tmp_path, which, values, code, message):
    images, labels = mnist_arrays(2)
    if which == "images":
        write_mnist(tmp_path, "train", values, labels, image_code=code)
    else:
        write_mnist(tmp_path, "train", images, values, label_code=code)
    with pytest.raises(DatasetError, match=message) as info:
        load_mnist(tmp_path, "train")
    assert f"train-{which}-idx" in str(info.value)


def test_load_mnist_unknown_split(tmp_path):
    with pytest.raises(DatasetError, match="split must be one of train, test, got 'val'"):
        load_mnist(tmp_path, "val")


# ----------------------------------------------------------------------------- CIFAR-10 fixtures


def train_batches(sizes=(2, 3, 1, 2, 4)):
    return {f"data_batch_{i + 1}": make_batch(n, seed=10 + i) for i, n in enumerate(sizes)}


def expected_images(data):
    """Row layout: 1024 red, 1024 green, 1024 blue values, each a 32x32 image in row-major order."""
    out = np.empty((len(data), 3, 32, 32), np.float32)
    for i, row in enumerate(data):
        for channel in range(3):
            for y in range(32):
                start = channel * 1024 + y * 32
                out[i, channel, y] = row[start:start + 32].astype(np.float32) / np.float32(255)
    return out


# ----------------------------------------------------------------------------- CIFAR-10 loading
def test_load_cifar10_train_from_tarball(tmp_path):
    batches = train_batches()
    members = {name: pickle.dumps(batch, protocol=2) for name, batch in batches.items()}
    members["test_batch"] = pickle.dumps(make_batch(3, seed=99, label="testing batch"), protocol=2)
    write_tarball(tmp_path, dict(reversed(members.items())))  # tar order must not matter
    images, labels = load_cifar10(tmp_path, "train")
    data = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    assert images.shape == (12, 3, 32, 32) and images.dtype == np.float32
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images, expected_images(data))
    np.testing.assert_array_equal(labels, sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), []))
    assert not (tmp_path / cifar10.BATCH_DIR).exists()  # read in place, nothing extracted


def test_load_cifar10_channel_order(tmp_path):
    batch = make_batch(3, seed=5, label="testing batch")
    batch[b"data"][:] = 0
    batch[b"data"][0, :1024] = 255         # image 0: pure red
    batch[b"data"][1, 2048:] = 255         # image 1: pure blue
    batch[b"data"][2, 1024 + 32 * 5 + 7] = 51  # image 2: one green pixel at row 5, column 7
    folder = tmp_path / cifar10.BATCH_DIR
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    images, labels = load_cifar10(tmp_path, "test")
    assert images[0, 0].min() == 1.0 and images[0, 1:].max() == 0.0
    assert images[1, 2].min() == 1.0 and images[1, :2].max() == 0.0
    assert images[2, 1, 5, 7] == np.float32(0.2) and np.count_nonzero(images[2]) == 1
    np.testing.assert_array_equal(labels, batch[b"labels"])


def test_load_cifar10_test_split_from_folder(tmp_path):
    batch = make_batch(4, seed=7, label="testing batch")
    folder = tmp_path / cifar10.BATCH_DIR
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    images, labels = load_cifar10(tmp_path, "test")
    np.testing.assert_array_equal(images, expected_images(batch[b"data"]))
    np.testing.assert_array_equal(labels, batch[b"labels"])


def test_python2_style_batch_reads_like_pickle_does(tmp_path):
    batch = make_batch(3, seed=8)
    raw = py2_batch_pickle(batch)
    trusted = pickle.loads(raw, encoding="bytes")  # the fixture is a real pickle: Python agrees on it
    np.testing.assert_array_equal(trusted[b"data"], batch[b"data"])
    got = read_batch(raw, "py2")
    np.testing.assert_array_equal(got["data"], batch[b"data"])
    np.testing.assert_array_equal(got["labels"], batch[b"labels"])
    assert got["batch_label"] == "training batch"
    assert got["filenames"] == [f.decode() for f in batch[b"filenames"]]


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_read_batch_python3_protocols(protocol):
    batch = make_batch(2, seed=protocol)
    batch[b"filenames"][1] = b""  # Python 3 pickles an empty bytes at protocol 2 as bytes()
    got = read_batch(pickle.dumps(batch, protocol=protocol))
    np.testing.assert_array_equal(got["data"], batch[b"data"])
    assert got["labels"].tolist() == batch[b"labels"] and got["filenames"][1] == ""


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("array", [
    np.array([[1, -2, 300], [-32768, 0, 32767]], dtype=">i2"),
    np.array([[1.5, -2.25], [3.0, 1e-3]], dtype="<f8"),
    np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
    np.array([True, False, True]),
], ids=["big-endian-int16", "float64", "fortran-int32", "bool"])
def test_pickle_subset_rebuilds_plain_arrays(array, protocol):
    got = cifar10._PickleSubset(pickle.dumps({"a": array}, protocol=protocol), "arrays").run()["a"]
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("value, message", [
    (np.zeros(2, dtype=[("a", "u1"), ("b", "u1")]), "not a plain numeric dtype"),
    (np.array(["ab", "c"]), "not a plain numeric dtype"),
    (np.array([1, "x"], dtype=object), "not a plain numeric dtype"),
    ({1, 2}, "names the global __builtin__.set"),
    (3.5, "opcode b'G'"),
])
def test_pickle_subset_refuses_everything_else(value, message):
    with pytest.raises(DatasetError, match=message):
        cifar10._PickleSubset(pickle.dumps(value, protocol=2), "other").run()


def _exec_payload(marker):
    class Payload:
        def __reduce__(self):
            return builtins.exec, (f"open({str(marker)!r}, 'w').close()",)
    return Payload()


def _system_payload(marker):
    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    return Payload()


@pytest.mark.parametrize("payload", [_exec_payload, _system_payload], ids=["exec", "os.system"])
@pytest.mark.parametrize("where", ["folder", "tarball"])
def test_malicious_batch_is_refused_without_running(tmp_path, payload, where):
    marker = tmp_path / "pwned"
    batch = make_batch(2, seed=1)
    batch[b"filenames"] = payload(marker)
    raw = pickle.dumps(batch, protocol=2)
    if where == "folder":
        (tmp_path / cifar10.BATCH_DIR).mkdir()
        (tmp_path / cifar10.BATCH_DIR / "test_batch").write_bytes(raw)
    else:
        write_tarball(tmp_path, {"test_batch": raw})
    with pytest.raises(DatasetError, match="names the global") as info:
        load_cifar10(tmp_path, "test")
    assert "test_batch" in str(info.value)
    assert not marker.exists()
    pickle.loads(raw, encoding="bytes")  # proof the payload was live: real unpickling runs it
    assert marker.exists()


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update({b"extra": 1}), "exactly the keys"),
    (lambda b: b.pop(b"filenames"), "exactly the keys"),
    (lambda b: b[b"labels"].__setitem__(1, 10), "got 10 at index 1"),
    (lambda b: b[b"labels"].__setitem__(0, -1), "got -1 at index 0"),
    (lambda b: b[b"labels"].pop(), "'labels' has 2 entries but 'data' has 3 rows"),
    (lambda b: b[b"filenames"].pop(), "'filenames' has 2 entries"),
    (lambda b: b.update({b"data": b[b"data"][:, :3071]}), r"uint8 array \(N, 3072\), got uint8 \(3, 3071\)"),
    (lambda b: b.update({b"data": b[b"data"].astype(np.int64)}), "got int64"),
    (lambda b: b.update({b"data": b[b"data"].astype(object)}), "not a plain numeric dtype"),
    (lambda b: b.update({b"labels": [b"1", b"2", b"3"]}), "list of ints"),
    (lambda b: b.update({b"labels": [1.0, 2.0, 3.0]}), "opcode b'G' is not one CIFAR-10 batches use"),
    (lambda b: b.update({b"labels": (1, 2, 3)}), "list of ints"),
])
def test_batch_contents_are_checked(tmp_path, change, message):
    batch = make_batch(3, seed=3)
    change(batch)
    write_tarball(tmp_path, {"test_batch": pickle.dumps(batch, protocol=2)})
    with pytest.raises(DatasetError, match=message) as info:
        load_cifar10(tmp_path, "test")
    assert f"{tmp_path / cifar10.TARBALL}:cifar-10-batches-py/test_batch" in str(info.value)


def test_batch_that_is_not_a_dict():
    with pytest.raises(DatasetError, match="expected a batch dict, got list"):
        read_batch(pickle.dumps([1, 2], protocol=2), "listy")


@pytest.mark.parametrize("cut", [1, 40, 500])
def test_truncated_batch_pickle(tmp_path, cut):
    raw = pickle.dumps(make_batch(2, seed=4), protocol=2)
    (tmp_path / cifar10.BATCH_DIR).mkdir()
    path = tmp_path / cifar10.BATCH_DIR / "test_batch"
    path.write_bytes(raw[:-cut])
    with pytest.raises(DatasetError) as info:
        load_cifar10(tmp_path, "test")
    assert str(path) in str(info.value)


def test_protocol_5_is_refused():
    with pytest.raises(DatasetError, match="protocol 5"):
        read_batch(pickle.dumps(make_batch(1, seed=0), protocol=5))


def test_unsafe_tar_members_are_ignored_and_nothing_is_written(tmp_path):
    batch = make_batch(2, seed=6, label="testing batch")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_tarball(data_dir, {"test_batch": pickle.dumps(batch, protocol=2)}, extra=[
        ("../escaped.txt", b"outside"),
        (f"{tmp_path}/absolute.txt", b"absolute"),
        ("cifar-10-batches-py/passwd", b"", tarfile.SYMTYPE, "/etc/passwd"),
        ("cifar-10-batches-py/../../sneaky.txt", b"up"),
    ])
    before = sorted(p.name for p in tmp_path.rglob("*"))
    images, labels = load_cifar10(data_dir, "test")
    np.testing.assert_array_equal(labels, batch[b"labels"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("kind, word", [(tarfile.SYMTYPE, "symlink"), (tarfile.LNKTYPE, "hard link"),
                                        (tarfile.CHRTYPE, "non-regular")])
def test_wanted_member_that_is_a_link_is_refused(tmp_path, kind, word):
    write_tarball(tmp_path, {"elsewhere": pickle.dumps(make_batch(1, seed=1), protocol=2)},
                  extra=[("cifar-10-batches-py/test_batch", b"", kind, "cifar-10-batches-py/elsewhere")])
    with pytest.raises(DatasetError, match=f"{word}.*refusing") as info:
        load_cifar10(tmp_path, "test")
    assert "cifar-10-batches-py/test_batch" in str(info.value)


def test_duplicate_member_is_refused(tmp_path):
    raw = pickle.dumps(make_batch(1, seed=1), protocol=2)
    write_tarball(tmp_path, {"test_batch": raw}, extra=[("./cifar-10-batches-py/test_batch", raw)])
    with pytest.raises(DatasetError, match="twice"):
        load_cifar10(tmp_path, "test")


def test_oversized_member_is_refused_before_reading(tmp_path, monkeypatch):
    raw = pickle.dumps(make_batch(1, seed=1), protocol=2)
    write_tarball(tmp_path, {"test_batch": raw})
    monkeypatch.setattr(cifar10, "MAX_MEMBER_BYTES", len(raw) - 1)
    with pytest.raises(DatasetError, match="far more than a batch"):
        load_cifar10(tmp_path, "test")


def test_missing_member_in_tarball_is_named(tmp_path):
    batches = train_batches()
    del batches["data_batch_4"]
    path = write_tarball(tmp_path, {n: pickle.dumps(b, protocol=2) for n, b in batches.items()})
    with pytest.raises(DatasetError, match="missing member.*cifar-10-batches-py/data_batch_4") as info:
        load_cifar10(tmp_path, "train")
    assert str(path) in str(info.value)


def test_missing_file_in_folder_is_named(tmp_path):
    (tmp_path / cifar10.BATCH_DIR).mkdir()
    with pytest.raises(DatasetError, match="test_batch is missing") as info:
        load_cifar10(tmp_path, "test")
    assert str(tmp_path / cifar10.BATCH_DIR / "test_batch") in str(info.value)


def test_nothing_there_names_both_places(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_cifar10(tmp_path, "train")
    assert str(tmp_path / "cifar-10-batches-py") in str(info.value)
    assert str(tmp_path / "cifar-10-python.tar.gz") in str(info.value)


def test_corrupt_tarball_is_named(tmp_path):
    path = write_tarball(tmp_path, {"test_batch": pickle.dumps(make_batch(2, seed=2), protocol=2)})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DatasetError, match="corrupt or unreadable tarball") as info:
        load_cifar10(tmp_path, "test")
    assert str(path) in str(info.value)


def test_load_cifar10_unknown_split(tmp_path):
    with pytest.raises(DatasetError, match="split must be one of train, test"):
        load_cifar10(tmp_path, "validation")


# ----------------------------------------------------------------------------- download
def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class FakeWeb:
    """fetch(url) -> bytes from a dict; an absent URL is a network error. Records the calls."""

    def __init__(self, pages):
        self.pages, self.calls = pages, []

    def __call__(self, url):
        self.calls.append(url)
        if url not in self.pages:
            raise OSError(f"no route to {url}")
        return self.pages[url]


def tiny_mnist_sources(monkeypatch):
    """Point SOURCES['mnist'] at tiny gzipped IDX files (the published MD5s fit only the real ones)."""
    images, labels = mnist_arrays(3, seed=4)
    blobs = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images, 0x08)),
             "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels, 0x08))}
    sources = tuple(dl.Source(name, md5(blob), (f"https://a.example/{name}", f"https://b.example/{name}"))
                    for name, blob in blobs.items())
    monkeypatch.setitem(dl.SOURCES, "mnist", sources)
    return blobs, images, labels


def test_download_writes_verified_files_that_load(tmp_path, monkeypatch):
    blobs, images, labels = tiny_mnist_sources(monkeypatch)
    web = FakeWeb({f"https://a.example/{name}": blob for name, blob in blobs.items()})
    paths = dl.download("mnist", tmp_path / "new", fetch=web)
    assert [p.name for p in paths] == list(blobs)
    assert all(p.read_bytes() == blobs[p.name] for p in paths)
    assert sorted(os.listdir(tmp_path / "new")) == sorted(blobs)  # no temporary files left
    got_images, got_labels = load_mnist(tmp_path / "new", "train")
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(got_images[:, 0], images / np.float32(255))


def test_download_falls_back_to_the_next_url(tmp_path, monkeypatch):
    blobs, _, _ = tiny_mnist_sources(monkeypatch)
    web = FakeWeb({f"https://b.example/{name}": blob for name, blob in blobs.items()})
    dl.download("mnist", tmp_path, fetch=web)
    assert web.calls[:2] == ["https://a.example/train-images-idx3-ubyte.gz",
                             "https://b.example/train-images-idx3-ubyte.gz"]
    assert (tmp_path / "train-labels-idx1-ubyte.gz").read_bytes() == blobs["train-labels-idx1-ubyte.gz"]


def test_download_keeps_a_good_file_and_replaces_a_bad_one(tmp_path, monkeypatch):
    blobs, _, _ = tiny_mnist_sources(monkeypatch)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(blobs["train-images-idx3-ubyte.gz"])
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"stale")
    web = FakeWeb({"https://a.example/train-labels-idx1-ubyte.gz": blobs["train-labels-idx1-ubyte.gz"]})
    dl.download("mnist", tmp_path, fetch=web)
    assert web.calls == ["https://a.example/train-labels-idx1-ubyte.gz"]
    assert (tmp_path / "train-labels-idx1-ubyte.gz").read_bytes() == blobs["train-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_download_checksum_mismatch_leaves_nothing(tmp_path, name):
    junk = b"<html>not the dataset</html>"
    first = dl.SOURCES[name][0]
    web = FakeWeb({url: junk for source in dl.SOURCES[name] for url in source.urls})
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        dl.download(name, tmp_path, fetch=web)
    message = str(info.value)
    assert first.urls[0] in message and first.filename in message
    assert first.md5 in message and md5(junk) in message
    assert os.listdir(tmp_path) == []


def test_download_every_url_failing(tmp_path):
    with pytest.raises(DatasetError, match="could not fetch cifar-10-python.tar.gz") as info:
        dl.download("cifar10", tmp_path, fetch=FakeWeb({}))
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_download_unknown_dataset(tmp_path):
    with pytest.raises(DatasetError, match="one of mnist, cifar10, got 'svhn'"):
        dl.download("svhn", tmp_path, fetch=FakeWeb({}))


def test_published_names_and_checksums_match_the_loaders():
    mnist_names = {f"{name}.gz" for pair in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                                             ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
                   for name in pair}
    assert {s.filename for s in dl.SOURCES["mnist"]} == mnist_names
    (cifar,) = dl.SOURCES["cifar10"]
    assert (cifar.filename, cifar.md5) == ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
    assert all(len(s.md5) == 32 and int(s.md5, 16) >= 0 for s in dl.SOURCES["mnist"])
    assert len({s.md5 for s in dl.SOURCES["mnist"]}) == 4


def test_default_fetch_reads_a_url_and_enforces_its_limit(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 1000)
    assert dl.default_fetch(path.as_uri()) == b"x" * 1000
    with pytest.raises(DatasetError, match="larger than 999 bytes"):
        dl.default_fetch(path.as_uri(), limit=999)


def test_cli_downloads_and_reports(tmp_path, monkeypatch, capsys):
    blobs, _, _ = tiny_mnist_sources(monkeypatch)
    monkeypatch.setattr(dl, "default_fetch", FakeWeb({f"https://a.example/{n}": b for n, b in blobs.items()}))
    assert dl.main(["mnist", "--data-dir", str(tmp_path)]) == 0
    assert "downloaded" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == sorted(blobs)


def test_cli_reports_a_bad_checksum(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dl, "default_fetch", FakeWeb({dl.SOURCES["cifar10"][0].urls[0]: b"junk"}))
    assert dl.main(["cifar10", "--data-dir", str(tmp_path)]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
