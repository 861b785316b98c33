"""Tiny files in the real formats of the bring-your-own datasets, written by the tests that read them:
IDX headers assembled byte by byte (MNIST), CIFAR-10 batches as Python 2's cPickle wrote them, and the
official tarball layout. Shared by the dataset readers' tests and the milestones' tests."""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile

import numpy as np

from datasets.formats import cifar10

BIG_ENDIAN = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(values, code: int, shape=None) -> bytes:
    """An IDX file: 00 00 <code> <ndim>, big-endian uint32 sizes, big-endian values."""
    values = np.asarray(values)
    shape = values.shape if shape is None else shape
    header = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return header + values.astype(BIG_ENDIAN[code]).tobytes()


def write(path, data: bytes, gz: bool = False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_mnist(folder, split, images, labels, gz=False, image_code=0x08, label_code=0x08):
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if gz else ""
    write(folder / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(images, image_code), gz)
    write(folder / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(labels, label_code), gz)


def mnist_arrays(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def make_batch(n, seed, label="training batch"):
    """A batch dict as the official files hold it: bytes keys, uint8 (n, 3072), list of int labels."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": label.encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, size=n)],
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }


def py2_string(value: bytes) -> bytes:
    """SHORT_BINSTRING / BINSTRING: how Python 2 pickled a str (read back as bytes)."""
    if len(value) < 256:
        return b"U" + bytes([len(value)]) + value
    return b"T" + struct.pack("<i", len(value)) + value


def py2_batch_pickle(batch) -> bytes:
    """A batch assembled opcode by opcode the way Python 2's cPickle wrote the official files."""
    data = batch[b"data"]
    out = [b"\x80\x02}q\x01(", py2_string(b"data"),
           b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85U\x01b\x87Rq\x04(K\x01",
           b"J" + struct.pack("<i", data.shape[0]) + b"M" + struct.pack("<H", data.shape[1]) + b"\x86",
           b"cnumpy\ndtype\nr\x05\x00\x00\x00U\x02u1K\x00K\x01\x87Rq\x06(K\x03U\x01|NNN",
           b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89", py2_string(data.tobytes()), b"tb",
           py2_string(b"labels"), b"]q\x07(", b"".join(b"K" + bytes([v]) for v in batch[b"labels"]), b"e",
           py2_string(b"batch_label"), py2_string(batch[b"batch_label"]),
           py2_string(b"filenames"), b"](", b"".join(py2_string(f) for f in batch[b"filenames"]), b"e",
           b"u."]
    return b"".join(out)


def add_member(tar, name, data=b"", kind=tarfile.REGTYPE, target=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, target, len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def write_tarball(folder, members, extra=()):
    """cifar-10-python.tar.gz with the official layout; members: batch name -> pickle bytes."""
    path = folder / cifar10.TARBALL
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "cifar-10-batches-py", kind=tarfile.DIRTYPE)
        for name, raw in members.items():
            add_member(tar, f"cifar-10-batches-py/{name}", raw)
        meta = {b"num_cases_per_batch": 10000, b"label_names": [c.encode() for c in cifar10.CIFAR10_CLASSES],
                b"num_vis": 3072}
        add_member(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, protocol=2))
        for args in extra:
            add_member(tar, *args)
    return path
